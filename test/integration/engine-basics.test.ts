/**
 * The engine on real namespaces, driven through the cnm CLI against a real cnmd in a private
 * host namespace: connectivity, modes (container:, none, host), Docker's refusals, disconnect,
 * prune.
 */
import t from 'tap';
import { Lab } from '../helpers/lab';

t.test('engine basics', async (t) => {
  const lab = await Lab.start();
  t.teardown(() => lab.close());

  const ids = async (): Promise<string> => (await lab.cli('network', 'ls', '-q', '--no-trunc')).out;

  await t.test('two sandboxes on one user network ping each other', async (t) => {
    const created = await lab.cli('network', 'create', '--subnet', '10.31.0.0/24', 'net1');
    t.equal(created.code, 0, created.err);
    t.match(created.out, /^[0-9a-f]{64}\n$/);
    for (const name of ['a1', 'a2']) {
      const r = await lab.cli('run', '-d', '--name', name, '--network', 'net1', 'sleep', 'infinity');
      t.equal(r.code, 0, r.err);
    }
    const ping = await lab.cliProcess(['exec', 'a1', 'ping', '-c', '1', '-W', '2', '10.31.0.3']);
    t.equal(ping.code, 0, ping.out + ping.err);
    t.match(ping.out, /1 received/);
    const addr = await lab.cliProcess(['exec', 'a2', 'ip', '-4', '-o', 'addr', 'show', 'eth0']);
    t.match(addr.out, /inet 10\.31\.0\.3\/24/);
    const mac = await lab.cliProcess(['exec', 'a2', 'cat', '/sys/class/net/eth0/address']);
    t.equal(mac.out, '02:42:0a:1f:00:03\n', "Docker's MAC scheme, seen through the sandbox's own /sys");
    const route = await lab.cliProcess(['exec', 'a1', 'ip', 'route']);
    t.match(route.out, /default via 10\.31\.0\.1 dev eth0/);
  });

  await t.test('the sandbox sees its own /etc/hosts, /etc/resolv.conf and hostname', async (t) => {
    const hosts = await lab.cliProcess(['exec', 'a1', 'cat', '/etc/hosts']);
    t.match(hosts.out, /^127\.0\.0\.1\tlocalhost$/m);
    t.match(hosts.out, /^10\.31\.0\.2\t[0-9a-f]{12}$/m);
    const resolv = await lab.cliProcess(['exec', 'a1', 'cat', '/etc/resolv.conf']);
    t.match(resolv.out, /nameserver 127\.0\.0\.11/);
    t.match(resolv.out, /options ndots:0/);
    const hostname = await lab.cliProcess(['exec', 'a1', 'hostname']);
    const inspect = await lab.cli('inspect', '-f', '{{.Config.Hostname}}', 'a1');
    t.equal(hostname.out.trim(), inspect.out.trim());
    t.match(hostname.out.trim(), /^[0-9a-f]{12}$/);
  });

  await t.test('container: shares the other sandbox interfaces', async (t) => {
    const r = await lab.cli('run', '-d', '--name', 'side', '--network', 'container:a1', 'sleep', 'infinity');
    t.equal(r.code, 0, r.err);
    const mine = await lab.cliProcess(['exec', 'side', 'ip', '-o', 'link']);
    const theirs = await lab.cliProcess(['exec', 'a1', 'ip', '-o', 'link']);
    t.equal(mine.out, theirs.out);
    t.match(mine.out, /eth0@if\d+/);
    const connect = await lab.cli('network', 'connect', 'net1', 'side');
    t.equal(connect.code, 1);
    t.match(connect.err, /container sharing network namespace with another container or host cannot be connected to any other network/);
    const hostnameRefused = await lab.cli('run', '-d', '--hostname', 'x', '--network', 'container:a1', 'true');
    t.equal(hostnameRefused.code, 125);
    t.match(hostnameRefused.err, /conflicting options: hostname and the network mode/);
  });

  await t.test('none has only lo and refuses network connect', async (t) => {
    const r = await lab.cli('run', '-d', '--name', 'iso', '--network', 'none', 'sleep', 'infinity');
    t.equal(r.code, 0, r.err);
    const links = await lab.cliProcess(['exec', 'iso', 'ip', '-o', 'link']);
    t.equal(links.out.trim().split('\n').length, 1);
    t.match(links.out, /^1: lo:/);
    const connect = await lab.cli('network', 'connect', 'net1', 'iso');
    t.equal(connect.code, 1);
    t.equal(connect.err, 'Error response from daemon: container cannot be connected to multiple networks with one of the networks in private (none) mode\n');
    const inspect = await lab.cli('network', 'inspect', '-f', '{{len .Containers}}', 'none');
    t.equal(inspect.out.trim(), '1');
  });

  await t.test('host sees the host interfaces', async (t) => {
    const r = await lab.cli('run', '-d', '--name', 'hosty', '--network', 'host', 'sleep', 'infinity');
    t.equal(r.code, 0, r.err);
    const links = await lab.cliProcess(['exec', 'hosty', 'ip', '-o', 'link']);
    const hostLinks = await lab.inHost(['ip', '-o', 'link']);
    t.equal(links.out, hostLinks);
    t.match(links.out, /br-[0-9a-f]{12}/);
    const connect = await lab.cli('network', 'connect', 'net1', 'hosty');
    t.match(connect.err, /container sharing network namespace with another container or host cannot be connected to any other network/);
    const disconnect = await lab.cli('network', 'disconnect', 'host', 'hosty');
    t.match(disconnect.err, /container cannot be disconnected from host network or connected to host network/);
  });

  await t.test("Docker's refusals change nothing", async (t) => {
    const before = await ids();
    const linksBefore = await lab.inHost(['ip', '-o', 'link']);
    const cases: [string[], RegExp, number][] = [
      [['run', '-d', '--network', 'net1', '--ip', '10.99.0.5', 'true'], /Invalid address 10\.99\.0\.5: It does not belong to any of this network's subnets\./, 125],
      [['run', '-d', '--ip', '172.17.0.9', 'true'], /user specified IP address is supported on user defined networks only/, 125],
      [['network', 'rm', 'net1'], /error while removing network: network net1 id [0-9a-f]{64} has active endpoints/, 1],
      [['network', 'create', 'net1'], /network with name net1 already exists/, 1],
      [['network', 'create', '--subnet', '10.31.0.128/25', 'overlapping'], /Pool overlaps with other one on this address space/, 1],
      [['run', '-d', '--network', 'net1', '--ip', '10.31.0.2', 'true'], /Address already in use/, 125],
    ];
    for (const [argv, message, code] of cases) {
      const r = await lab.cli(...argv);
      t.equal(r.code, code, argv.join(' '));
      t.match(r.err, message, argv.join(' '));
    }
    t.equal(await ids(), before, 'no network appeared or vanished');
    t.equal(await lab.inHost(['ip', '-o', 'link']), linksBefore, 'no link appeared or vanished');
    const ps = await lab.cli('ps', '-a', '-q');
    t.equal(ps.out.trim().split('\n').length, 5, 'no sandbox was left behind');
  });

  await t.test('connect and disconnect add and remove the interface', async (t) => {
    t.equal((await lab.cli('network', 'create', 'net2')).code, 0);
    const c = await lab.cli('network', 'connect', '--alias', 'web', 'net2', 'a1');
    t.equal(c.code, 0, c.err);
    let links = await lab.cliProcess(['exec', 'a1', 'ip', '-o', 'link']);
    t.match(links.out, /eth1@/);
    const dup = await lab.cli('network', 'connect', 'net2', 'a1');
    t.equal(dup.err, 'Error response from daemon: endpoint with name a1 already exists in network net2\n');
    const d = await lab.cli('network', 'disconnect', 'net2', 'a1');
    t.equal(d.code, 0, d.err);
    links = await lab.cliProcess(['exec', 'a1', 'ip', '-o', 'link']);
    t.notMatch(links.out, /eth1@/);
    const again = await lab.cli('network', 'disconnect', 'net2', 'a1');
    t.match(again.err, /container [0-9a-f]{64} is not connected to network net2/);
    const re = await lab.cli('network', 'connect', 'net2', 'a1');
    t.equal(re.code, 0);
    links = await lab.cliProcess(['exec', 'a1', 'ip', '-o', 'link']);
    t.match(links.out, /eth2@/, 'interface counter is not reset, as in Docker');
    t.equal((await lab.cli('network', 'disconnect', 'net2', 'a1')).code, 0);
  });

  await t.test('prune removes only unused user networks', async (t) => {
    t.equal((await lab.cli('network', 'create', 'unused1')).code, 0);
    const r = await lab.cli('network', 'prune', '-f');
    t.equal(r.code, 0, r.err);
    const deleted = r.out.split('\n').slice(1).filter(Boolean).sort();
    t.same(deleted, ['net2', 'unused1']);
    const names = (await lab.cli('network', 'ls', '--format', '{{.Name}}')).out.trim().split('\n');
    t.same(names, ['bridge', 'host', 'net1', 'none']);
  });

  await t.test('rm removes sandboxes and their namespaces', async (t) => {
    const rm = await lab.cli('rm', '-f', 'side', 'iso', 'hosty', 'a2', 'a1');
    t.equal(rm.code, 0, rm.err);
    t.equal((await lab.cli('ps', '-a', '-q')).out, '');
    t.equal((await lab.inHost(['ip', '-o', 'link'])).match(/veth/g), null, 'no veth left on the host');
    t.equal((await lab.cli('network', 'rm', 'net1')).code, 0);
  });
});
