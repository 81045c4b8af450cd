/**
 * The CNI plugin driven as a runtime drives it (exec with the CNI environment, config on stdin)
 * against a real cnmd in a lab: namespaces made here play the runtime's containers. ADD, DEL,
 * CHECK, GC and STATUS; names across runtimes and `cnm run`; a namespace destroyed without DEL;
 * cnmd killed and restarted; bad configurations; cnmd down.
 */
import fs from 'node:fs';
import t from 'tap';
import { deleteNetns } from '../../src/os/native';
import { CNM_PLUGIN, pluginConfig, runPlugin, type CniEnv } from '../helpers/cni';
import { Lab, until } from '../helpers/lab';

const POD_ID = 'a1b2c3d4e5f6'.padEnd(64, '0');

t.test('cnm CNI plugin, invoked directly', async (t) => {
  const lab = await Lab.start();
  t.teardown(() => lab.close());
  const ok = (r: { code: number; err: string; out: string }, what: string): void => void t.equal(r.code, 0, `${what}: ${r.err}${r.out}`);
  ok(await lab.cli('network', 'create', '--subnet', '10.77.0.0/24', 'cninet'), 'network cninet');
  ok(await lab.cli('network', 'create', '-d', 'macvlan', '--internal', '--subnet', '10.78.0.0/24', 'mvnet'), 'network mvnet');
  const conf = (extra: Record<string, unknown> = {}, version = '1.0.0'): Record<string, unknown> => pluginConfig('cninet', lab.socket, extra, version);
  const plugin = (env: CniEnv, config: unknown): ReturnType<typeof runPlugin> => runPlugin(CNM_PLUGIN, env, config);
  const hostLinks = async (): Promise<string[]> => (await lab.inHost(['ip', '-o', 'link', 'show'])).split('\n').filter((l) => l.includes('veth')).map((l) => l.split(':')[1]!.trim());
  const rows = async (): Promise<string[]> => ((await lab.api('GET', '/containers/json?all=1')).body as { Names: string[] }[]).map((c) => c.Names[0]!.slice(1)).sort();
  const dig = async (ns: string, name: string): Promise<string> => (await lab.inNs(ns, ['dig', '+short', '+time=1', '+tries=2', '@127.0.0.11', name], { allowFail: true })).trim();
  const listens = async (ns: string): Promise<boolean> => (await lab.inNs(ns, ['ss', '-lnu'])).includes('127.0.0.11:53');

  await t.test('cnm cni install', async (t) => {
    const conf = `${lab.dir}/net.d`;
    const bin = `${lab.dir}/bin`;
    const r = await lab.cli('cni', 'install', 'cninet', '--conf-dir', conf, '--bin-dir', bin);
    t.equal(r.code, 0, r.err);
    t.equal(r.out, `${conf}/10-cnm-cninet.conflist\n${bin}/cnm\n`);
    t.same(JSON.parse(fs.readFileSync(`${conf}/10-cnm-cninet.conflist`, 'utf8')), {
      cniVersion: '1.0.0',
      name: 'cninet',
      plugins: [{ type: 'cnm', socket: lab.socket, capabilities: { portMappings: true, aliases: true, ips: true, mac: true } }],
    });
    t.equal(fs.statSync(`${bin}/cnm`).mode & 0o777, 0o755);
    t.same(fs.readFileSync(`${bin}/cnm`), fs.readFileSync(CNM_PLUGIN), 'the built plugin');
    for (const [net, msg] of [['mvnet', /cannot be used by CNI runtimes/], ['bridge', /cannot be used by CNI runtimes/], ['nonet', /network nonet not found/]] as const) {
      const bad = await lab.cli('cni', 'install', net, '--conf-dir', `${lab.dir}/bad`, '--bin-dir', `${lab.dir}/bad`);
      t.not(bad.code, 0, net);
      t.match(bad.err, msg, net);
    }
    t.notOk(fs.existsSync(`${lab.dir}/bad`), 'a refused install writes nothing');
  });

  await t.test('VERSION is answered without cnmd', async (t) => {
    const r = await plugin({ command: 'VERSION' }, { cniVersion: '0.4.0' });
    t.equal(r.code, 0);
    t.same(r.json, { cniVersion: '0.4.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  });

  await t.test("cnmd's socket: the configuration's top-level \"socket\", then $CNM_SOCKET", async (t) => {
    const env = { command: 'STATUS' };
    // A "socket" nested elsewhere, and strings with escapes and braces, must not mislead the scanner.
    const tricky = { cniVersion: '1.1.0', name: 'cninet', type: 'cnm', note: 'a \\"socket\\": {[', runtimeConfig: { socket: '/nowhere' }, socket: lab.socket };
    const r = await plugin(env, tricky);
    t.equal(r.code, 0, r.out);
    const fromEnv = await runPlugin(CNM_PLUGIN, env, { cniVersion: '1.1.0', name: 'cninet', type: 'cnm' }, { CNM_SOCKET: lab.socket });
    t.equal(fromEnv.code, 0, fromEnv.out);
    const nowhere = await plugin(env, { ...tricky, socket: '/nowhere' });
    t.equal(nowhere.json?.code, 50);
    t.match(nowhere.json?.msg, /cnmd is not answering on \/nowhere/);
  });

  const podNs = lab.newNamespace('pod');
  const ctrNs = lab.newNamespace('ctr');
  // ctr hands over a namespace whose lo is down.
  await lab.inNs(ctrNs, ['ip', 'link', 'set', 'lo', 'down']);

  await t.test('ADD: a podman-like container (name, aliases, static IP and MAC, 0.4.0)', async (t) => {
    const r = await plugin(
      { command: 'ADD', containerId: POD_ID, netns: podNs, ifName: 'eth0', args: 'IgnoreUnknown=1;K8S_POD_NAME=web;IP=10.77.0.50;MAC=02:00:00:aa:bb:cc' },
      conf({ runtimeConfig: { aliases: { cninet: ['www', POD_ID.slice(0, 12)] } } }, '0.4.0'),
    );
    t.equal(r.code, 0, r.out);
    t.same(r.json, {
      cniVersion: '0.4.0',
      interfaces: [{ name: 'eth0', mac: '02:00:00:aa:bb:cc', sandbox: podNs }],
      ips: [{ version: '4', address: '10.77.0.50/24', gateway: '10.77.0.1', interface: 0 }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.77.0.1' }],
      dns: { nameservers: ['127.0.0.11'] },
    });
    t.match(await lab.inNs(podNs, ['ip', '-o', 'addr', 'show', 'eth0']), /10\.77\.0\.50\/24/);
    t.match(await lab.inNs(podNs, ['ip', 'route']), /default via 10\.77\.0\.1 dev eth0/);
    await until(() => listens(podNs), 5000, 'DNS listener in the pod namespace');
  });

  await t.test('ADD: a ctr-like container (no name, lo down, 1.0.0)', async (t) => {
    const r = await plugin({ command: 'ADD', containerId: 'default-t1', netns: ctrNs, ifName: 'eth0', args: '' }, conf());
    t.equal(r.code, 0, r.out);
    t.same(r.json?.dns, { nameservers: ['127.0.0.11'] });
    t.same((r.json?.ips as unknown[])[0], { address: '10.77.0.2/24', gateway: '10.77.0.1', interface: 0 }, '1.0.0 has no version field');
    t.match(await lab.inNs(ctrNs, ['ip', 'link', 'show', 'lo']), /UP/);
    await until(() => listens(ctrNs), 5000, 'DNS listener in the ctr namespace');
  });

  await t.test('names across runtimes and cnm run sandboxes', async (t) => {
    ok(await lab.cli('run', '-d', '--name', 'native', '--network', 'cninet', 'sleep', '300'), 'cnm run');
    t.equal(await dig(ctrNs, 'web'), '10.77.0.50', 'ctr container resolves the podman one by name');
    t.equal(await dig(ctrNs, 'www'), '10.77.0.50', '... by alias');
    t.equal(await dig(ctrNs, POD_ID.slice(0, 12)), '10.77.0.50', '... by short id');
    t.equal(await dig(podNs, 'default-t1'), '10.77.0.2', 'a container without a name is its CNI_CONTAINERID');
    const nativeNs = await lab.sandboxNs('native');
    t.equal(await dig(nativeNs, 'web'), '10.77.0.50', 'a cnm run sandbox resolves it');
    t.match(await dig(podNs, 'native'), /^10\.77\.0\.\d+$/, 'and is resolved');
    t.match(await lab.inNs(ctrNs, ['ping', '-c', '1', '-W', '2', '10.77.0.50']), /1 received/);
    const ps = await lab.cli('ps', '--format', '{{.Names}} {{.Networks}} {{.State}} {{.Status}}');
    t.match(ps.out, /^web cninet running Up /m, 'an attachment is running in ps, without -a');
    t.match(ps.out, /^default-t1 cninet running Up /m);
    const inspect = await lab.cli('network', 'inspect', 'cninet', '-f', '{{range .Containers}}{{.Name}} {{end}}');
    t.match(inspect.out, /web/);
    const api = await lab.api('GET', '/containers/web/json');
    t.equal((api.body as { Id: string }).Id, POD_ID, "the Engine API shows the runtime's container id");
    t.equal((api.body as { Config: { Labels: Record<string, string> } }).Config.Labels['io.cnm.cni.container-id'], POD_ID);
  });

  await t.test("cnm does not start, stop or prune a runtime's container", async (t) => {
    for (const action of ['start', 'stop', 'kill', 'restart']) {
      const r = await lab.cli(action, 'web');
      t.equal(r.code, 1, action);
      t.match(r.err, new RegExp(`cannot ${action} container web: its program is run by the container runtime that attached it through CNI, not by cnm`), action);
    }
    const rm = await lab.cli('rm', 'web');
    t.match(rm.err, /You cannot remove a running container/, 'rm without -f is refused');
    const pruned = await lab.api('POST', '/containers/prune');
    t.equal(pruned.status, 200);
    t.notMatch(JSON.stringify(pruned.body), POD_ID, 'prune leaves the attachment');
    t.same(await rows(), ['default-t1', 'native', 'web'], 'all still there');
    const inspect = (await lab.api('GET', '/containers/web/json')).body as { State: { Status: string; Running: boolean } };
    t.same([inspect.State.Status, inspect.State.Running], ['running', true]);
    const info = (await lab.api('GET', '/info')).body as { Containers: number; ContainersRunning: number };
    t.same([info.Containers, info.ContainersRunning], [3, 3], '/info counts the attachments as running, as ps does');
  });

  await t.test('CHECK reports what is missing', async (t) => {
    const env = { command: 'CHECK', containerId: POD_ID, netns: podNs, ifName: 'eth0' };
    const good = await plugin(env, conf());
    t.equal(good.code, 0, good.out);
    t.equal(good.out, '');
    await lab.inNs(podNs, ['ip', 'addr', 'del', '10.77.0.50/24', 'dev', 'eth0']);
    const bad = await plugin(env, conf());
    t.equal(bad.code, 1);
    t.equal(bad.json?.code, 100);
    t.match(bad.json?.msg, /missing address 10\.77\.0\.50\/24 on eth0/);
    await lab.inNs(podNs, ['ip', 'addr', 'add', '10.77.0.50/24', 'dev', 'eth0']);
    await lab.inNs(podNs, ['ip', 'route', 'add', 'default', 'via', '10.77.0.1']);
    const unknown = await plugin({ ...env, containerId: 'nobody' }, conf());
    t.equal(unknown.json?.code, 3, 'an unknown container is code 3');
  });

  await t.test('bad requests give CNI errors and change nothing', async (t) => {
    const before = { links: await hostLinks(), rows: await rows() };
    const other = lab.newNamespace('bad');
    const env = { command: 'ADD', containerId: 'badone', netns: other, ifName: 'eth0' };
    const cases: [string, CniEnv, unknown, number, RegExp][] = [
      ['unknown network', env, pluginConfig('nonet', lab.socket), 7, /cnm has no network "nonet"/],
      ['unsupported version', env, conf({}, '0.2.0'), 1, /CNI version 0\.2\.0 is not supported/],
      ['no cniVersion', env, { name: 'cninet', type: 'cnm', socket: lab.socket }, 7, /no "cniVersion"/],
      ['no name', env, { cniVersion: '1.0.0', type: 'cnm', socket: lab.socket }, 7, /no "name"/],
      ['no container id', { ...env, containerId: '' }, conf(), 4, /CNI_CONTAINERID is not set/],
      ['no ifname', { ...env, ifName: '' }, conf(), 4, /CNI_IFNAME is not set/],
      ['no netns', { ...env, netns: '' }, conf(), 4, /CNI_NETNS is not set/],
      ['netns gone', { ...env, netns: '/run/netns/cnm-test-absent' }, conf(), 4, /does not exist/],
      ['a macvlan network', env, pluginConfig('mvnet', lab.socket), 7, /macvlan driver: the cnm CNI plugin attaches containers to bridge networks only/],
      ['an address outside the subnet', { ...env, args: 'IP=10.99.0.5' }, conf(), 7, /10\.99\.0\.5/],
      ['an address in use', { ...env, args: 'IP=10.77.0.50' }, conf(), 100, /Address already in use/],
      ['a name in use', { ...env, args: 'K8S_POD_NAME=native' }, conf(), 100, /already used by cnm sandbox/],
      ['a bad port mapping', env, conf({ runtimeConfig: { portMappings: [{ hostPort: 0, containerPort: 80, protocol: 'tcp' }] } }), 7, /hostPort 0/],
      ['not JSON', env, '{"cniVersion":', 6, /not a JSON object/],
    ];
    for (const [what, e, config, code, msg] of cases) {
      const r = await plugin(e, config);
      t.equal(r.code, 1, `${what}: exit 1`);
      t.equal(r.json?.code, code, `${what}: code ${code} (${r.out.trim()})`);
      t.match(r.json?.msg, msg, what);
    }
    t.same(await hostLinks(), before.links, 'no link left');
    t.same(await rows(), before.rows, 'no row left');
    t.notOk(await listens(other), 'no listener');
  });

  await t.test('published ports from portMappings', async (t) => {
    const ns = lab.newNamespace('pub');
    const r = await plugin({ command: 'ADD', containerId: 'pubone', netns: ns, ifName: 'eth0', args: 'K8S_POD_NAME=pub' }, conf({ runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '' }] } }));
    t.equal(r.code, 0, r.out);
    const port = await lab.cli('port', 'pub');
    t.equal(port.out, '80/tcp -> 0.0.0.0:8080\n');
    t.match(await lab.inHost(['nft', 'list', 'table', 'inet', 'cnm']), /8080/);
    ok(await plugin({ command: 'DEL', containerId: 'pubone', netns: ns, ifName: 'eth0' }, conf()), 'DEL pub');
    t.notMatch(await lab.inHost(['nft', 'list', 'table', 'inet', 'cnm']), /8080/, 'the rule went with DEL');
  });

  await t.test('a container on two cnm networks is one sandbox with two endpoints', async (t) => {
    ok(await lab.cli('network', 'create', '--subnet', '10.79.0.0/24', 'second'), 'network second');
    const ns = lab.newNamespace('two');
    const env = { containerId: 'twonets', netns: ns, args: 'K8S_POD_NAME=two' };
    ok(await plugin({ ...env, command: 'ADD', ifName: 'eth0' }, conf()), 'ADD cninet');
    const second = await plugin({ ...env, command: 'ADD', ifName: 'eth1' }, pluginConfig('second', lab.socket));
    t.equal(second.code, 0, second.out);
    t.match((second.json?.ips as { address: string }[])[0]!.address, /^10\.79\.0\.\d+\/24$/);
    const sameIf = await plugin({ ...env, command: 'ADD', ifName: 'eth1' }, conf());
    t.equal(sameIf.json?.code, 100, 'attached twice to one network is refused');
    const nets = await lab.cli('inspect', '-f', '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}', 'two');
    t.equal(nets.out.trim(), 'cninet second');
    ok(await plugin({ ...env, command: 'DEL', ifName: 'eth1' }, pluginConfig('second', lab.socket)), 'DEL second');
    t.notMatch(await lab.inNs(ns, ['ip', '-o', 'link']), /eth1/);
    t.match(await lab.inNs(ns, ['ip', '-o', 'addr']), /10\.77\.0\.\d+/, 'the first network stays');
    ok(await plugin({ ...env, command: 'DEL', ifName: 'eth0' }, conf()), 'DEL cninet');
    t.notOk((await rows()).includes('two'));
    ok(await lab.cli('network', 'rm', 'second'), 'network rm second');
  });

  await t.test('attachments survive kill -9 of cnmd', async (t) => {
    await lab.stopDaemon('SIGKILL');
    const down = await plugin({ command: 'ADD', containerId: 'late', netns: podNs, ifName: 'eth1' }, conf());
    t.equal(down.json?.code, 11, 'cnmd down: try again later');
    t.match(down.json?.msg, /cnmd is not answering/);
    await lab.startDaemon();
    t.match(await rows(), ['default-t1', 'native', 'web']);
    await until(() => listens(podNs), 5000, 'listener back');
    t.equal(await dig(ctrNs, 'web'), '10.77.0.50');
  });

  await t.test('DEL removes everything, is idempotent, and works without CNI_NETNS', async (t) => {
    const env = { command: 'DEL', containerId: POD_ID, netns: podNs, ifName: 'eth0' };
    const linksBefore = (await hostLinks()).length;
    ok(await plugin(env, conf({ prevResult: { cniVersion: '1.0.0' } })), 'DEL');
    t.equal((await hostLinks()).length, linksBefore - 1, 'host veth gone');
    t.notMatch(await lab.inNs(podNs, ['ip', '-o', 'link']), /eth0/, 'interface gone');
    t.notOk(await listens(podNs), 'listener gone');
    t.notOk((await rows()).includes('web'), 'row gone');
    t.equal(await dig(ctrNs, 'web'), '', 'name gone');
    ok(await plugin(env, conf()), 'DEL again');
    ok(await plugin({ ...env, containerId: 'default-t1', netns: '' }, conf()), 'DEL without netns');
    t.notOk(await listens(ctrNs), 'ctr listener gone');
    ok(await plugin({ ...env, containerId: 'never-added' }, pluginConfig('nonet', lab.socket)), 'DEL of an unknown network');
  });

  await t.test('a namespace destroyed without DEL is cleaned up', async (t) => {
    const ns = lab.newNamespace('gone');
    const linksBefore = (await hostLinks()).length;
    ok(await plugin({ command: 'ADD', containerId: 'ghost', netns: ns, ifName: 'eth0' }, conf()), 'ADD ghost');
    t.equal((await hostLinks()).length, linksBefore + 1);
    deleteNetns(ns);
    fs.rmSync(ns, { force: true });
    await until(async () => !(await rows()).includes('ghost'), 8000, 'attachment removed');
    t.equal((await hostLinks()).length, linksBefore, 'host veth gone');
  });

  await t.test('GC and STATUS (1.1.0)', async (t) => {
    const a = lab.newNamespace('gca');
    const b = lab.newNamespace('gcb');
    ok(await plugin({ command: 'ADD', containerId: 'keep', netns: a, ifName: 'eth0' }, conf()), 'ADD keep');
    ok(await plugin({ command: 'ADD', containerId: 'drop', netns: b, ifName: 'eth0' }, conf()), 'ADD drop');
    ok(await plugin({ command: 'GC' }, conf({ 'cni.dev/valid-attachments': [{ containerID: 'keep', ifname: 'eth0' }] }, '1.1.0')), 'GC');
    const names = await rows();
    t.ok(names.includes('keep'));
    t.notOk(names.includes('drop'));
    ok(await plugin({ command: 'STATUS' }, conf({}, '1.1.0')), 'STATUS');
    const gcOld = await plugin({ command: 'GC' }, conf());
    t.equal(gcOld.json?.code, 1, 'GC needs 1.1.0');
    await lab.stopDaemon('SIGTERM');
    const status = await plugin({ command: 'STATUS' }, conf({}, '1.1.0'));
    t.equal(status.json?.code, 50, 'STATUS while cnmd is down: not available');
    await lab.startDaemon();
  });
});
