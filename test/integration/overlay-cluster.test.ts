/**
 * Overlay networks through real daemons on three hosts (the cluster lab: three host namespaces on
 * an underlay, a three-member etcd, a cnmd each): a network created on one host is listed and
 * used on the others; sandboxes on different hosts ping and talk TCP, resolve each other's names
 * and aliases at 127.0.0.11; they go out through the gateway bridge (masqueraded to their host's
 * address) and publish ports on the host that runs them.
 */
import t from 'tap';
import { ClusterLab, digFrom, OUTSIDE_ADDRESS, sandboxIp, until } from '../helpers/cluster-lab';

t.test('overlay across three hosts', async (t) => {
  const lab = await ClusterLab.start();
  t.teardown(() => lab.close());
  const [h1, h2, h3] = [lab.host(0), lab.host(1), lab.host(2)];
  const all = [h1, h2, h3];
  let networkId = '';

  await t.test('create on host 1', async (t) => {
    const r = await h1.cli('network', 'create', '-d', 'overlay', '--subnet', '10.210.0.0/24', '--attachable', 'ov');
    t.equal(r.code, 0, r.err);
    networkId = r.out.trim();
    t.match(networkId, /^[0-9a-f]{64}$/);
  });

  await t.test('created on one host, listed on every host with scope global', async (t) => {
    for (const [i, h] of all.entries()) {
      const { ms } = await until(async () => (await h.cli('network', 'ls', '--filter', 'name=ov', '--format', '{{.ID}} {{.Name}} {{.Driver}} {{.Scope}}')).out === `${networkId.slice(0, 12)} ov overlay global\n`, 5000, `ov listed on host ${i + 1}`);
      t.pass(`host ${i + 1} lists it (${ms} ms)`);
    }
    const inspect = await h3.cli('network', 'inspect', '-f', '{{.Scope}} {{.Driver}} {{.Attachable}} {{(index .IPAM.Config 0).Subnet}} {{index .Options "com.docker.network.driver.overlay.vxlanid_list"}}', 'ov');
    t.equal(inspect.out, 'global overlay true 10.210.0.0/24 4096\n', inspect.err);
    const dup = await h2.cli('network', 'create', '-d', 'overlay', 'ov');
    t.equal(dup.code, 1);
    t.match(dup.err, /network with name ov already exists/);
    const overlap = await h3.cli('network', 'create', '-d', 'overlay', '--subnet', '10.210.0.128/25', 'ov2');
    t.equal(overlap.code, 1);
    t.match(overlap.err, /Pool overlaps with other one on this address space/);
  });

  const ips: Record<string, string> = {};
  await t.test('sandboxes on three hosts: addresses unique cluster-wide, ping and TCP across hosts', async (t) => {
    const runs: [typeof h1, string, string[]][] = [
      [h1, 'a1', ['sleep', 'infinity']],
      [h2, 'b1', ['socat', 'TCP-LISTEN:8080,fork,reuseaddr', 'SYSTEM:echo hello from b1']],
      [h3, 'c1', ['sleep', 'infinity']],
    ];
    for (const [h, name, cmd] of runs) {
      const r = await h.cli('run', '-d', '--name', name, '--network-alias', `${name}-alias`, '--network', 'ov', ...cmd);
      t.equal(r.code, 0, r.err);
      ips[name] = await sandboxIp(h, name, 'ov');
    }
    t.equal(new Set(Object.values(ips)).size, 3, `three distinct addresses: ${JSON.stringify(ips)}`);
    for (const ip of Object.values(ips)) t.match(ip, /^10\.210\.0\.\d+$/);

    for (const [from, h] of [['a1', h1], ['c1', h3]] as const) {
      for (const [to, ip] of Object.entries(ips)) {
        if (to === from) continue;
        const ping = await h.cliProcess(['exec', from, 'ping', '-c', '1', '-W', '2', ip]);
        t.equal(ping.code, 0, `${from} -> ${to} (${ip}): ${ping.out}${ping.err}`);
      }
    }
    const tcp = await h1.cliProcess(['exec', 'a1', 'socat', '-T', '3', '-', `TCP:${ips.b1}:8080`]);
    t.equal(tcp.out, 'hello from b1\n', `TCP from host 1 to host 2: ${tcp.err}`);
    const mtu = await h1.cliProcess(['exec', 'a1', 'ping', '-c', '1', '-W', '2', '-M', 'do', '-s', '1422', ips.c1!]);
    t.equal(mtu.code, 0, 'a full 1450-byte packet crosses the overlay');
  });

  await t.test('names and aliases of sandboxes on other hosts resolve at 127.0.0.11', async (t) => {
    t.same(await digFrom(h1, 'a1', 'b1'), [ips.b1]);
    t.same(await digFrom(h1, 'a1', 'c1-alias'), [ips.c1]);
    t.same(await digFrom(h3, 'c1', 'a1'), [ips.a1]);
    const byName = await h1.cliProcess(['exec', 'a1', 'socat', '-T', '3', '-', 'TCP:b1:8080']);
    t.equal(byName.out, 'hello from b1\n', 'TCP to a name on another host');

    // A sandbox joining host 3: how long until host 1's sandboxes resolve it.
    const started = Date.now();
    const r = await h3.cli('run', '-d', '--name', 'late', '--network', 'ov', 'sleep', 'infinity');
    t.equal(r.code, 0, r.err);
    const joined = Date.now();
    const ip = await sandboxIp(h3, 'late', 'ov');
    const seen = await until(async () => (await digFrom(h1, 'a1', 'late')).includes(ip), 5000, 'late resolvable on host 1');
    t.comment(`a name joining on host 3 resolves on host 1 ${Date.now() - joined} ms after run returned (run took ${joined - started} ms)`);
    t.ok(seen.ms < 2000, 'within 2 s');
    const ping = await h1.cliProcess(['exec', 'a1', 'ping', '-c', '1', '-W', '2', 'late']);
    t.equal(ping.code, 0, 'and is reachable by name');

    const rm = await h3.cli('rm', '-f', 'late');
    t.equal(rm.code, 0, rm.err);
    const gone = await until(async () => (await digFrom(h1, 'a1', 'late')).length === 0, 5000, 'late gone from host 1');
    t.comment(`a name leaving host 3 stops resolving on host 1 after ${gone.ms} ms`);
  });

  await t.test('the gateway bridge: default route, masquerade to the host address, published ports on the running host', async (t) => {
    const route = await h1.cliProcess(['exec', 'a1', 'ip', 'route', 'show', 'default']);
    t.match(route.out, /^default via \S+ dev eth1/, `default route through the gateway bridge: ${route.out}`);
    t.notMatch(route.out, /dev eth0/, 'not through the overlay');
    const out = await h1.cliProcess(['exec', 'a1', 'ping', '-c', '1', '-W', '2', OUTSIDE_ADDRESS]);
    t.equal(out.code, 0, `a sandbox reaches the outside: ${out.out}`);
    // What the outside sees as the source: the host's underlay address (masquerade).
    const listener = lab.inNs(lab.underlay, ['socat', '-T', '5', 'TCP-LISTEN:9000,reuseaddr', 'SYSTEM:echo $SOCAT_PEERADDR'], { allowFail: true });
    await until(async () => (await lab.inNs(lab.underlay, ['ss', '-Hltn', 'sport = :9000'])).includes(':9000'), 5000, 'the outside listener');
    const peer = await h2.cliProcess(['exec', 'b1', 'socat', '-T', '3', '-', `TCP:${OUTSIDE_ADDRESS}:9000`]);
    await listener;
    t.equal(peer.out.trim(), lab.hosts[1]!.address, "masqueraded to host 2's address");

    const web = await h2.cli('run', '-d', '--name', 'web', '-p', '8081:8080', '--network', 'ov', 'socat', 'TCP-LISTEN:8080,fork,reuseaddr', 'SYSTEM:echo published');
    t.equal(web.code, 0, web.err);
    const reply = await until(async () => (await lab.inNs(lab.underlay, ['socat', '-T', '2', '-', `TCP:${lab.hosts[1]!.address}:8081`], { allowFail: true })) === 'published\n', 5000, 'published port');
    t.pass(`published port answers on host 2's address (${reply.ms} ms)`);
    const elsewhere = await lab.inNs(lab.underlay, ['socat', '-T', '2', '-', `TCP:${lab.hosts[0]!.address}:8081`], { allowFail: true });
    t.notMatch(elsewhere, /published/, 'not on host 1');
    t.equal((await h2.cli('rm', '-f', 'web')).code, 0);
  });

  await t.test('removal: refused while another host has endpoints, then gone everywhere with its data plane', async (t) => {
    const busy = await h2.cli('network', 'rm', 'ov');
    t.equal(busy.code, 1);
    t.match(busy.err, /has active endpoints/);
    for (const [h, name] of [[h1, 'a1'], [h2, 'b1'], [h3, 'c1']] as const) t.equal((await h.cli('rm', '-f', name)).code, 0);
    for (const h of lab.hosts) {
      const links = await lab.inNs(h.ns, ['ip', '-o', 'link']);
      t.notMatch(links, new RegExp(`(ov|vx)-${networkId.slice(0, 12)}`), `${h.name}: no overlay devices once its sandboxes left`);
    }
    const rm = await h3.cli('network', 'rm', 'ov');
    t.equal(rm.code, 0, rm.err);
    for (const [i, h] of all.entries()) {
      await until(async () => (await h.cli('network', 'ls', '-q', '--filter', 'name=ov')).out === '', 5000, `ov gone from host ${i + 1}`);
    }
    t.pass('gone from every host');
  });
});
