/**
 * Real runtimes on a cnm network through the CNI plugin: podman 4.3 (CNI backend) and
 * `ctr run --cni` (containerd 1.6), next to a `cnm run` sandbox, set up with `cnm cni install`
 * at the default paths (inside the lab's private mount namespace, see helpers/runtimes.ts).
 */
import t from 'tap';
import { until } from '../helpers/lab';
import { RuntimeLab, type RunResult } from '../helpers/runtimes';

const HOST_IP = '198.51.100.1';
const CLIENT_IP = '198.51.100.2';

t.test('podman and ctr containers on a cnm network', async (t) => {
  const rl = await RuntimeLab.start(t);
  const { lab } = rl;
  const ok = (r: RunResult | { code: number; err: string; out: string }, what: string): void => void t.equal(r.code, 0, `${what}: ${r.err}${r.out}`);
  const rows = async (): Promise<string[]> => ((await lab.api('GET', '/containers/json?all=1')).body as { Names: string[] }[]).map((c) => c.Names[0]!.slice(1)).sort();
  const hostVeths = async (): Promise<number> => (await rl.run(['ip', '-o', 'link', 'show', 'type', 'veth'])).out.split('\n').filter(Boolean).length;
  const dnsSandboxes = async (): Promise<number> => Number(/^cnm_dns_sandboxes (\d+)/m.exec(String((await lab.api('GET', '/metrics')).raw))?.[1]);
  const nft = async (): Promise<string> => (await rl.run(['nft', 'list', 'table', 'inet', 'cnm'])).out;
  const ipOf = (nslookup: string): string | undefined => /Name:\s+\S+\s+Address( 1)?:\s+(10\.89\.0\.\d+)/.exec(nslookup)?.[2];

  ok(await rl.cnm('network', 'create', '--subnet', '10.89.0.0/24', 'rtnet'), 'network create');
  const install = await rl.cnm('cni', 'install', 'rtnet');
  ok(install, 'cnm cni install');
  t.equal(install.out, '/etc/cni/net.d/10-cnm-rtnet.conflist\n/opt/cni/bin/cnm\n');
  const listing = (await rl.run(['ls', '/etc/cni/net.d'])).out.split('\n');
  t.equal(listing[0], '10-cnm-rtnet.conflist', `sorts first, before Debian podman's file (ctr reads only the first): ${listing.join(' ')}`);
  t.ok(listing.includes('87-podman-bridge.conflist'));

  ok(await rl.podman(['run', '-d', '--name', 'web', '--network', 'rtnet', '--network-alias', 'www', 'localhost/bb', 'sleep', '1000']), 'podman run');
  ok(await rl.ctr(['run', '-d', '--rootfs', '--env', 'PATH=/bin', '--cni', rl.rootfs('t1'), 't1', 'sleep', '1000']), 'ctr run');
  ok(await lab.cli('run', '-d', '--name', 'native', '--network', 'rtnet', 'sleep', '1000'), 'cnm run');
  const nativeNs = await lab.sandboxNs('native');
  const podmanId = (await rl.podman(['inspect', '-f', '{{.Id}}', 'web'])).out.trim();

  await t.test('they resolve each other by name and alias, and reach each other', async (t) => {
    const resolv = await rl.podman(['exec', 'web', 'cat', '/etc/resolv.conf']);
    t.match(resolv.out, /^nameserver 127\.0\.0\.11\n/, "podman writes the result's nameserver first");
    const fromPodman = await rl.podman(['exec', 'web', 'nslookup', 'default-t1', '127.0.0.11']);
    const ctrIp = ipOf(fromPodman.out);
    t.ok(ctrIp, `podman resolves the ctr container by its id: ${fromPodman.out}${fromPodman.err}`);
    const fromCtr = await rl.ctr(['tasks', 'exec', '--exec-id', 'q1', 't1', 'nslookup', 'www', '127.0.0.11']);
    const webIp = ipOf(fromCtr.out);
    t.ok(webIp, `ctr resolves the podman container by alias: ${fromCtr.out}${fromCtr.err}`);
    t.equal(ipOf((await rl.ctr(['tasks', 'exec', '--exec-id', 'q2', 't1', 'nslookup', 'web', '127.0.0.11'])).out), webIp, '... and by name');
    t.equal(ipOf((await rl.ctr(['tasks', 'exec', '--exec-id', 'q3', 't1', 'nslookup', podmanId.slice(0, 12), '127.0.0.11'])).out), webIp, '... and by short id');
    t.equal(ipOf((await rl.ctr(['tasks', 'exec', '--exec-id', 'q4', 't1', 'nslookup', 'native', '127.0.0.11'])).out)?.startsWith('10.89.0.'), true, 'ctr resolves the cnm sandbox');
    t.equal(ipOf((await rl.podman(['exec', 'web', 'nslookup', 'native', '127.0.0.11'])).out)?.startsWith('10.89.0.'), true, 'podman resolves the cnm sandbox');
    const fromNative = await rl.run(['dig', '+short', '@127.0.0.11', 'www'], { net: nativeNs });
    t.equal(fromNative.out.trim(), webIp, 'the cnm sandbox resolves the podman alias');
    t.equal((await rl.run(['dig', '+short', '@127.0.0.11', 'default-t1'], { net: nativeNs })).out.trim(), ctrIp);
    ok(await rl.podman(['exec', 'web', 'ping', '-c', '1', '-W', '2', ctrIp!]), 'podman -> ctr');
    ok(await rl.ctr(['tasks', 'exec', '--exec-id', 'p1', 't1', 'ping', '-c', '1', '-W', '2', webIp!]), 'ctr -> podman');
    ok(await rl.run(['ping', '-c', '1', '-W', '2', webIp!], { net: nativeNs }), 'cnm sandbox -> podman');
  });

  await t.test('cnm shows them with the runtime ids and names', async (t) => {
    const ps = await lab.cli('ps', '-a', '--no-trunc', '--format', '{{.ID}} {{.Names}}');
    t.match(ps.out, new RegExp(`${podmanId} web`), "podman's id is the sandbox id");
    t.match(ps.out, /default-t1/);
    const inspect = await lab.cli('network', 'inspect', 'rtnet', '-f', '{{range .Containers}}{{.Name}} {{end}}');
    t.match(inspect.out, /web/);
    t.match(inspect.out, /default-t1/);
    const api = (await lab.api('GET', '/containers/default-t1/json')).body as { Config: { Labels: Record<string, string> } };
    t.equal(api.Config.Labels['io.cnm.cni.container-id'], 'default-t1');
  });

  await t.test('podman -p 8080:80 is reachable from an external namespace', async (t) => {
    const client = lab.newNamespace('client');
    // The client's namespace file is in the test's mount namespace: ip runs there.
    await lab.inHost(['ip', 'link', 'add', `${lab.id}h`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', client]);
    for (const cmd of [['addr', 'add', `${HOST_IP}/24`, 'dev', `${lab.id}h`], ['link', 'set', `${lab.id}h`, 'up']]) await lab.inHost(['ip', ...cmd]);
    for (const cmd of [['addr', 'add', `${CLIENT_IP}/24`, 'dev', 'eth0'], ['link', 'set', 'eth0', 'up'], ['link', 'set', 'lo', 'up']]) await lab.inNs(client, ['ip', ...cmd]);
    ok(await rl.podman(['run', '-d', '--name', 'pub', '--network', 'rtnet', '-p', '8080:80', 'localhost/bb', 'sh', '-c', 'echo hello from podman > /tmp/index.html; exec httpd -f -p 80 -h /tmp']), 'podman run -p');
    t.equal((await lab.cli('port', 'pub')).out, '80/tcp -> 0.0.0.0:8080\n');
    // An HTTP request by hand (bash's /dev/tcp): the host's busybox wget crashes here.
    const get = `exec 3<>/dev/tcp/${HOST_IP}/8080 && printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3`;
    let last = '';
    const answered = await until(async () => {
      last = await lab.inNs(client, ['timeout', '3', 'bash', '-c', get], { allowFail: true });
      return last.includes('hello from podman') ? last : undefined;
    }, 10000, 'the published port answers').catch(() => undefined);
    if (!answered) t.fail(`no answer from ${HOST_IP}:8080: ${last}\nnft: ${await nft()}`);
    t.match(answered?.value, /hello from podman/);
  });

  await t.test('podman rm -f, a task exit and a killed runtime leave nothing behind', async (t) => {
    const baseVeths = await hostVeths();
    ok(await rl.podman(['rm', '-f', '-t', '0', 'web', 'pub']), 'podman rm -f');
    t.same(await rows(), ['default-t1', 'native'], 'podman rows gone');
    t.equal(await hostVeths(), baseVeths - 2, 'their links gone');
    t.notMatch(await nft(), /8080/, 'the published port rule gone');
    t.equal(await dnsSandboxes(), 2, 'their listeners gone');

    ok(await rl.ctr(['tasks', 'kill', '-s', 'SIGKILL', 't1']), 'task killed');
    await until(async () => !(await rows()).includes('default-t1'), 10000, 'the exited task loses its attachment');
    t.equal(await hostVeths(), baseVeths - 3, 'its link gone');
    t.equal(await dnsSandboxes(), 1, 'its listener gone');

    // A foreground ctr would DEL when its task ends: killed first, it never does.
    const ctr = rl.spawnCtr(['run', '--rm', '--rootfs', '--env', 'PATH=/bin', '--cni', rl.rootfs('t2'), 't2', 'sleep', '1000']);
    await until(async () => (await rows()).includes('default-t2'), 15000, 'ctr run attached');
    ctr.kill('SIGKILL');
    ok(await rl.ctr(['tasks', 'kill', '-s', 'SIGKILL', 't2']), 'its task killed');
    await until(async () => !(await rows()).includes('default-t2'), 10000, 'the attachment of a killed runtime goes with its namespace');
    t.same(await rows(), ['native']);
    t.equal(await hostVeths(), baseVeths - 3, 'no link left');
    t.equal(await dnsSandboxes(), 1, 'no listener left');
  });

  await t.test('runtimes print CNI errors clearly', async (t) => {
    ok(await rl.cnm('network', 'create', 'gone'), 'network gone');
    ok(await rl.cnm('cni', 'install', 'gone'), 'install gone');
    ok(await rl.cnm('network', 'rm', 'gone'), 'network rm');
    const r = await rl.podman(['run', '--rm', '--network', 'gone', 'localhost/bb', 'true']);
    t.not(r.code, 0);
    t.match(r.err, /cnm has no network "gone"/, r.err);
    ok(await rl.run(['rm', '/etc/cni/net.d/10-cnm-gone.conflist']), 'conflist removed');
    await lab.stopDaemon('SIGTERM');
    const down = await rl.ctr(['run', '--rm', '--rootfs', '--env', 'PATH=/bin', '--cni', rl.rootfs('t3'), 't3', 'true']);
    t.not(down.code, 0);
    t.match(down.err, /cnmd is not answering/, down.err);
    await rl.ctr(['tasks', 'delete', '-f', 't3']);
    await rl.ctr(['containers', 'rm', 't3']);
    await lab.startDaemon();
    t.same(await rows(), ['native']);
  });
});
