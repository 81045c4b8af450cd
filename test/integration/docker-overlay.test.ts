/**
 * A cnm overlay network used by two real dockerd hosts (dockerd 20.10, containerd 1.6), each
 * with its own cnmd (--docker-plugin) and one etcd between them (helpers/docker-cluster.ts):
 * created on host A, used on host B with the same command, containers on the two hosts reach
 * each other over VXLAN with addresses the cnm IPAM plugin gave out cluster-wide, refusals are
 * readable and leave nothing, and the last `docker network rm` removes it everywhere.
 */
import t, { type Test } from 'tap';
import { DockerCluster, type DockerClusterHost } from '../helpers/docker-cluster';
import { until } from '../helpers/lab';
import type { RunResult } from '../helpers/runtimes';

const SUBNET = '10.210.0.0/24';
const CREATE = ['network', 'create', '-d', 'cnm', '-o', 'cnm.driver=overlay', '-o', 'cnm.network=ov', '--ipam-driver', 'cnm', '--subnet', SUBNET];

t.test('an overlay network across two dockerd hosts', async (t) => {
  const cluster = await DockerCluster.start(2);
  t.teardown(() => cluster.close());
  const [a, b] = [cluster.host(0), cluster.host(1)];
  const ok = (t: Test, r: RunResult, what: string): void => void t.equal(r.code, 0, `${what}: ${r.err}${r.out}`);
  const ip = async (h: DockerClusterHost, name: string): Promise<string> => (await h.docker.docker('inspect', '-f', '{{.NetworkSettings.Networks.ov.IPAddress}}', name)).out.trim();
  const cnmEndpoints = async (h: DockerClusterHost): Promise<string> => (await h.rl.lab.cli('ps', '-a', '-q')).out;
  const etcdKeys = async (): Promise<string[]> => cluster.etcd!.keys('/cnm/v1/');
  const links = async (h: DockerClusterHost): Promise<string> => (await h.rl.run(['ip', '-o', 'link', 'show'])).out;
  let networkId = '';

  await t.test('created on host A, the same command on host B uses it', async (t) => {
    ok(t, await a.docker.docker(...CREATE, 'ov'), 'network create on A');
    const onA = await a.rl.lab.cli('network', 'ls', '--filter', 'name=ov', '--format', '{{.ID}} {{.Name}} {{.Driver}} {{.Scope}}');
    t.match(onA.out, /^[0-9a-f]{12} ov overlay global\n$/, `cnm on A has the global network: ${onA.out}`);
    networkId = (await a.rl.lab.cli('network', 'inspect', '-f', '{{.Id}}', 'ov')).out.trim();
    await until(async () => (await b.rl.lab.cli('network', 'ls', '-q', '--filter', 'name=ov')).out.trim() === networkId.slice(0, 12), 10000, 'B sees ov');
    ok(t, await b.docker.docker(...CREATE, 'ov'), 'network create on B');
    t.equal((await b.rl.lab.cli('network', 'ls', '-q', '--filter', 'name=ov')).out.trim(), networkId.slice(0, 12), 'B uses the same cnm network, no second one');
    t.equal((await etcdKeys()).filter((k) => k.startsWith(`/cnm/v1/holds/${networkId}/`)).length, 2, 'held by the two Docker networks');
    const busy = await a.rl.lab.cli('network', 'rm', 'ov');
    t.not(busy.code, 0, 'cnm network rm is refused while dockerd hosts use it');
    t.match(busy.err, /is used by 2 Docker network\(s\): docker network rm them first/, busy.err);
  });

  await t.test('refusals a Docker user reads, nothing left behind', async (t) => {
    const before = await etcdKeys();
    const noIpam = await b.docker.docker('network', 'create', '-d', 'cnm', '-o', 'cnm.driver=overlay', '-o', 'cnm.network=ov2', '--subnet', '10.211.0.0/24', 'bad1');
    t.not(noIpam.code, 0);
    t.match(noIpam.err, /remote: cnm: -o cnm.driver=overlay needs --ipam-driver cnm/, noIpam.err);
    const noName = await b.docker.docker('network', 'create', '-d', 'cnm', '-o', 'cnm.driver=overlay', '--ipam-driver', 'cnm', '--subnet', '10.211.0.0/24', 'bad2');
    t.not(noName.code, 0);
    t.match(noName.err, /needs -o cnm.network=NAME/, noName.err);
    const otherSubnet = await b.docker.docker('network', 'create', '-d', 'cnm', '-o', 'cnm.driver=overlay', '-o', 'cnm.network=ov', '--ipam-driver', 'cnm', '--subnet', '10.212.0.0/24', 'bad3');
    t.not(otherSubnet.code, 0);
    t.match(otherSubnet.err, /overlay network ov exists in cnm's cluster with subnet 10\.210\.0\.0\/24, not 10\.212\.0\.0\/24: on this host use --ipam-driver cnm --subnet 10\.210\.0\.0\/24/, otherSubnet.err);
    t.equal((await b.docker.docker('network', 'ls', '-q', '-f', 'name=bad')).out, '', 'docker has no half network');
    t.same(await etcdKeys(), before, 'the cluster store is as it was');
    // The refused network's pool went back (ReleasePool): the subnet can be asked for again.
    ok(t, await b.docker.docker('network', 'create', '-d', 'cnm', '--ipam-driver', 'cnm', '--subnet', '10.212.0.0/24', 'again'), 'the pool of the refused network is free');
    ok(t, await b.docker.docker('network', 'rm', 'again'), 'rm');
  });

  const ips: Record<string, string> = {};
  await t.test('containers on both hosts: addresses distinct cluster-wide, ping across hosts over VXLAN', async (t) => {
    ok(t, await a.docker.docker('run', '-d', '--name', 'a1', '--network', 'ov', 'bb', 'sleep', '1000'), 'run a1 on A');
    ok(t, await b.docker.docker('run', '-d', '--name', 'b1', '--network', 'ov', 'bb', 'sleep', '1000'), 'run b1 on B');
    ok(t, await a.docker.docker('run', '-d', '--name', 'a2', '--network', 'ov', 'bb', 'sleep', '1000'), 'run a2 on A');
    ok(t, await b.docker.docker('run', '-d', '--name', 'b2', '--network', 'ov', '--ip', '10.210.0.77', 'bb', 'sleep', '1000'), 'run b2 on B with --ip');
    for (const [h, name] of [[a, 'a1'], [b, 'b1'], [a, 'a2'], [b, 'b2']] as const) ips[name] = await ip(h, name);
    t.comment(JSON.stringify(ips));
    t.equal(new Set(Object.values(ips)).size, 4, `four distinct addresses: ${JSON.stringify(ips)}`);
    for (const address of Object.values(ips)) t.match(address, /^10\.210\.0\.\d+$/);
    t.equal(ips.b2, '10.210.0.77');
    t.match((await a.docker.docker('exec', 'a1', 'ip', '-o', '-4', 'addr', 'show', 'eth0')).out, new RegExp(`${ips.a1!.replace(/\./g, '\\.')}/24`), 'the address on eth0');

    for (const [h, from, to] of [[a, 'a1', 'b1'], [a, 'a1', 'b2'], [b, 'b1', 'a1'], [b, 'b2', 'a2'], [a, 'a1', 'a2']] as const) {
      ok(t, await h.docker.docker('exec', from, 'ping', '-c', '1', '-W', '2', ips[to]!), `${from} pings ${to} (${ips[to]})`);
    }
    // busybox's ping cannot forbid fragments: eth0's MTU, then a packet of exactly that size.
    t.match((await a.docker.docker('exec', 'a1', 'ip', '-o', 'link', 'show', 'eth0')).out, / mtu 1450 /, 'eth0 has the overlay MTU');
    const full = await a.docker.docker('exec', 'a1', 'ping', '-c', '1', '-W', '2', '-s', '1422', ips.b1!);
    t.equal(full.code, 0, `a full 1450-byte packet crosses the overlay: ${full.out}${full.err}`);
    ok(t, await b.docker.docker('exec', 'b1', 'ping', '-c', '1', '-W', '2', 'b2'), "b1 pings b2 by name (Docker's DNS, same host)");
    // Not asked: a1 looking up b1 (Docker's DNS knows its own host's containers only, and would
    // forward the name to the machine's resolvers).
    const route = (await a.docker.docker('exec', 'a1', 'ip', 'route', 'show', 'default')).out;
    t.match(route, /^default via \S+ dev eth1/, `the way out is Docker's docker_gwbridge, not the overlay: ${route}`);
  });

  await t.test('an address another host holds is refused, and leaves nothing', async (t) => {
    const keys = await etcdKeys();
    const endpoints = await cnmEndpoints(b);
    const taken = await b.docker.docker('run', '-d', '--name', 'b3', '--network', 'ov', '--ip', ips.a1!, 'bb', 'sleep', '1000');
    t.not(taken.code, 0);
    t.match(taken.err, /cnm: Address already in use/, taken.err);
    await b.docker.docker('rm', '-f', 'b3');
    t.equal(await cnmEndpoints(b), endpoints, 'no endpoint left in cnm on B');
    t.same(await etcdKeys(), keys, 'no address or endpoint left in the cluster store');
    ok(t, await a.docker.docker('exec', 'a1', 'ping', '-c', '1', '-W', '2', ips.b1!), 'a1 still reaches b1');
  });

  await t.test('dockerd on B killed and restarted: b2 starts again with its --ip, b1 with an address', async (t) => {
    await b.docker.killDaemon();
    await b.docker.startDaemon();
    // Observed with 20.10: on the overlay (unlike cnm's bridge networks, docker-plugin.test.ts),
    // dockerd's restart calls DeleteEndpoint for the containers it had, so no endpoint stays.
    t.equal(await cnmEndpoints(b), '', 'no endpoint of the stopped containers left in cnm on B');
    ok(t, await b.docker.docker('start', 'b2'), 'b2 starts again');
    t.equal(await ip(b, 'b2'), '10.210.0.77');
    ok(t, await b.docker.docker('start', 'b1'), 'b1 starts again');
    ips.b1 = await ip(b, 'b1');
    t.equal(new Set(Object.values(ips)).size, 4, `still four distinct addresses: ${JSON.stringify(ips)}`);
    for (const [h, from, to] of [[a, 'a1', 'b1'], [a, 'a1', 'b2'], [b, 'b2', 'a1']] as const) {
      ok(t, await h.docker.docker('exec', from, 'ping', '-c', '1', '-W', '2', ips[to]!), `${from} pings ${to} (${ips[to]})`);
    }
  });

  await t.test('etcd unreachable: docker run fails readably and leaves nothing; rm and network rm finish once etcd is back', async (t) => {
    const etcd = cluster.etcd!;
    const endpoints = await cnmEndpoints(b);
    ok(t, await b.docker.docker('run', '-d', '--name', 'b4', '--network', 'ov', 'bb', 'sleep', '1000'), 'run b4 on B');
    ok(t, await a.docker.docker('network', 'create', '-d', 'cnm', '-o', 'cnm.driver=overlay', '-o', 'cnm.network=spare', '--ipam-driver', 'cnm', '--subnet', '10.213.0.0/24', 'spare'), 'a second overlay network on A');
    await etcd.kill('e1');
    try {
      const run = await b.docker.docker('run', '-d', '--name', 'b3', '--network', 'ov', 'bb', 'sleep', '1000');
      t.not(run.code, 0, 'docker run fails');
      t.match(run.err, /remote: cnm: cluster store unavailable: could not reserve an address on network ov within \d+ s/, run.err);
      await b.docker.docker('rm', '-f', 'b3');
      ok(t, await a.docker.docker('exec', 'a1', 'ping', '-c', '1', '-W', '2', ips.b1!), 'a1 still reaches b1: the data plane needs no etcd');
      // dockerd forgets what it removes whatever the plugin answers (observed: both succeed).
      ok(t, await b.docker.docker('rm', '-f', 'b4'), 'docker rm b4');
      ok(t, await a.docker.docker('network', 'rm', 'spare'), 'docker network rm spare');
    } finally {
      etcd.restart('e1');
      await etcd.waitHealthy(20000);
    }
    await until(async () => (await cnmEndpoints(b)) === endpoints, 30000, "b4's endpoint removed from cnm once etcd answers");
    t.pass("b4's endpoint is gone from cnm");
    await until(async () => !(await a.rl.lab.cli('network', 'ls', '--format', '{{.Name}}')).out.includes('spare'), 30000, 'spare removed from cnm');
    t.equal((await etcdKeys()).filter((k) => k.includes('/holds/')).length, 2, "only ov's two holds remain in etcd");
    const again = await until(async () => (await b.docker.docker('run', '-d', '--name', 'b3', '--network', 'ov', 'bb', 'sleep', '1000')).code === 0 || (await b.docker.docker('rm', '-f', 'b3'), false), 30000, 'docker run works again');
    t.pass(`docker run works again (${again.ms} ms)`);
    ips.b3 = await ip(b, 'b3');
    t.equal(new Set(Object.values(ips)).size, 5, `five distinct addresses: ${JSON.stringify(ips)}`);
    ok(t, await b.docker.docker('rm', '-f', 'b3'), 'rm b3');
    delete ips.b3;
  });

  await t.test("cnmd on B killed and restarted: B's Docker network, pool and hold are kept", async (t) => {
    await b.rl.lab.stopDaemon('SIGKILL');
    await b.rl.lab.startDaemon();
    ok(t, await b.docker.docker('run', '-d', '--name', 'b5', '--network', 'ov', 'bb', 'sleep', '1000'), 'run b5 on B after the restart');
    ips.b5 = await ip(b, 'b5');
    t.equal(new Set(Object.values(ips)).size, Object.keys(ips).length, `distinct addresses: ${JSON.stringify(ips)}`);
    ok(t, await a.docker.docker('exec', 'a1', 'ping', '-c', '1', '-W', '2', ips.b5!), 'a1 pings b5');
    ok(t, await b.docker.docker('exec', 'b5', 'ping', '-c', '1', '-W', '2', 'b1'), 'b5 pings b1 by name');
    ok(t, await b.docker.docker('rm', '-f', 'b5'), 'rm b5');
    delete ips.b5;
    t.equal((await etcdKeys()).filter((k) => k.startsWith(`/cnm/v1/holds/${networkId}/`)).length, 2, 'still held by the two Docker networks');
  });

  await t.test('a dual-stack overlay: IPv6 addresses given out cluster-wide too, ping -6 across hosts', async (t) => {
    const create6 = ['network', 'create', '-d', 'cnm', '-o', 'cnm.driver=overlay', '-o', 'cnm.network=ov6', '--ipam-driver', 'cnm', '--ipv6', '--subnet', '10.214.0.0/24', '--subnet', 'fd00:214::/64', 'ov6'];
    ok(t, await a.docker.docker(...create6), 'create on A');
    await until(async () => (await b.rl.lab.cli('network', 'ls', '-q', '--filter', 'name=ov6')).out !== '', 10000, 'B sees ov6');
    ok(t, await b.docker.docker(...create6), 'create on B');
    ok(t, await a.docker.docker('run', '-d', '--name', 's1', '--network', 'ov6', 'bb', 'sleep', '1000'), 'run s1 on A');
    ok(t, await b.docker.docker('run', '-d', '--name', 's2', '--network', 'ov6', 'bb', 'sleep', '1000'), 'run s2 on B');
    const v6 = async (h: DockerClusterHost, name: string): Promise<string> => (await h.docker.docker('inspect', '-f', '{{.NetworkSettings.Networks.ov6.GlobalIPv6Address}}', name)).out.trim();
    const [s1, s2] = [await v6(a, 's1'), await v6(b, 's2')];
    t.not(s1, s2, `distinct IPv6 addresses: ${s1} ${s2}`);
    for (const address of [s1, s2]) t.match(address, /^fd00:214::[0-9a-f]+$/);
    let last = '';
    const reached = await until(async () => {
      const r = await b.docker.docker('exec', 's2', 'ping', '-6', '-c', '1', '-W', '1', s1);
      last = r.out + r.err;
      return r.code === 0;
    }, 15000, 's2 pings s1 over IPv6').catch(() => undefined);
    t.ok(reached, `s2 (B) pings s1 (A) over IPv6: ${last}`);
    ok(t, await a.docker.docker('rm', '-f', 's1'), 'rm s1');
    ok(t, await b.docker.docker('rm', '-f', 's2'), 'rm s2');
    ok(t, await a.docker.docker('network', 'rm', 'ov6'), 'network rm on A');
    ok(t, await b.docker.docker('network', 'rm', 'ov6'), 'network rm on B');
    t.same((await etcdKeys()).filter((k) => k.includes('/holds/')).length, 2, "only ov's two holds remain");
  });

  await t.test('removal: rm on A keeps it for B; rm on B removes it everywhere', async (t) => {
    ok(t, await a.docker.docker('rm', '-f', 'a1', 'a2'), 'rm on A');
    ok(t, await a.docker.docker('network', 'rm', 'ov'), 'network rm on A');
    t.equal(await cnmEndpoints(a), '', 'no endpoint left in cnm on A');
    t.notMatch(await links(a), new RegExp(`(ov|vx)-${networkId.slice(0, 12)}|cnm[0-9a-f]{11}[@:]`), 'no overlay device or handoff interface left on A');
    t.equal((await etcdKeys()).filter((k) => k.startsWith(`/cnm/v1/holds/${networkId}/`)).length, 1, "B's hold remains");
    ok(t, await b.docker.docker('exec', 'b1', 'ping', '-c', '1', '-W', '2', 'b2'), 'B still uses it');

    ok(t, await b.docker.docker('rm', '-f', 'b1', 'b2'), 'rm on B');
    ok(t, await b.docker.docker('network', 'rm', 'ov'), 'network rm on B');
    t.same((await etcdKeys()).filter((k) => k.includes(networkId)), [], 'no key of the network left in etcd');
    for (const h of [a, b]) {
      await until(async () => (await h.rl.lab.cli('network', 'ls', '-q', '--filter', 'name=ov')).out === '', 10000, `ov gone from cnm on ${h.name}`);
      t.equal(await cnmEndpoints(h), '', `${h.name}: no endpoint left in cnm`);
      t.notMatch(await links(h), new RegExp(`(ov|vx)-${networkId.slice(0, 12)}|cnm[0-9a-f]{11}[@:]`), `${h.name}: no overlay device or handoff interface`);
      t.notMatch((await h.rl.run(['nft', 'list', 'ruleset'])).out, /10\.210\./, `${h.name}: no nftables rule for the overlay's subnet`);
    }
  });
});
