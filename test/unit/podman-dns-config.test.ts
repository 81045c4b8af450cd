/** cnm-dns: aardvark 1.4's network file format, the plan derived from it, the command line. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { isNetworkFileName, parseNetworkFile, renderNetworkFile } from '../../src/podman-dns/config';
import { install, remove } from '../../src/podman-dns/install';
import { parseArgs } from '../../src/podman-dns/main';
import { fallbackViewOf, planOf } from '../../src/podman-dns/plan';

const GOLDEN = path.join(__dirname, '..', '..', '..', 'test', 'unit', 'podman-dns-golden', 'netavark-1.4-dual-stack');
const ID1 = 'edf7b283e7b0a93872575f2b4d5c403c5735f7d5445f60d2291779ff17dbb4ad';
const ID2 = '3f44c3378defca3a5ea0985ad9cce9e151a7484477e9ad4c0bca25d7337c0ded';

t.test('what netavark 1.4 writes (golden file from a real podman run)', async (t) => {
  const { network, problems } = parseNetworkFile('n1', fs.readFileSync(GOLDEN, 'utf8'));
  t.same(problems, []);
  t.same(network, {
    name: 'n1',
    internal: false,
    gateways: ['10.89.1.1', 'fd89:1::1'],
    dnsServers: [],
    containers: [{ id: ID1, ipv4: ['10.89.1.2'], ipv6: ['fd89:1::2'], names: ['web', 'www', 'edf7b283e7b0'], dnsServers: [] }],
  });
  t.equal(renderNetworkFile(network!), fs.readFileSync(GOLDEN, 'utf8'), 'rendered back byte for byte');
});

t.test('IPv4 only (two spaces), DNS servers, case, internal networks', async (t) => {
  const text = `10.89.0.1 192.0.2.53,2001:db8::53\n${ID1.toUpperCase()} 10.89.0.2  Web,WWW\n${ID2} 10.89.0.3,10.89.0.4  c2 192.0.2.1\n`;
  const { network, problems } = parseNetworkFile('podman', text);
  t.same(problems, []);
  t.same(network!.dnsServers, ['192.0.2.53', '2001:db8::53'], 'network-scoped servers');
  t.same(network!.containers[0], { id: ID1, ipv4: ['10.89.0.2'], ipv6: [], names: ['web', 'www'], dnsServers: [] }, 'lower-cased, empty v6 field');
  t.same(network!.containers[1]!.ipv4, ['10.89.0.3', '10.89.0.4']);
  t.same(network!.containers[1]!.dnsServers, ['192.0.2.1'], 'the container\'s own servers');
  t.equal(renderNetworkFile(network!), text.replace(ID1.toUpperCase(), ID1).replace('Web,WWW', 'web,www'), 'rendered back, lower-cased');
  const internal = parseNetworkFile('secret%int', '10.90.0.1\n');
  t.same([internal.network!.name, internal.network!.internal], ['secret', true], '%int: an internal network (aardvark 1.11 naming)');
});

t.test('bad input: a clear problem, the rest still served', async (t) => {
  const bad = parseNetworkFile('n1', 'not-an-ip\nab 10.0.0.2  x\n');
  t.equal(bad.network, null, 'no gateway: nothing to listen on');
  t.match(bad.problems[0], /n1 line 1: "not-an-ip" is not "gw4\[,gw6\]\[ dns1,dns2\]"/);
  t.match(parseNetworkFile('n1', '').problems[0], /empty file/);
  const lines = parseNetworkFile('n1', ['10.0.0.1', 'a 10.0.0.2  x', 'b 10.0.0.300  y', 'c 10.0.0.4 10.0.0.5 z', 'd 10.0.0.6', 'a 10.0.0.7  again', 'e 10.0.0.8  ', 'f 10.0.0.9  w nope'].join('\n'));
  t.same(lines.network!.containers.map((c) => c.id), ['a'], 'good lines kept');
  t.same(
    lines.problems.map((p) => p.replace(/:.*/, '')),
    ['n1 line 3', 'n1 line 4', 'n1 line 5', 'n1 line 6', 'n1 line 7', 'n1 line 8'],
    'each bad line named',
  );
  t.match(lines.problems[0], /"10.0.0.300" is not a list of IPv4 addresses/);
  t.match(lines.problems[1], /"10.0.0.5" is not a list of IPv6 addresses/);
  t.match(lines.problems[3], /listed twice/);
  t.match(lines.problems[5], /"nope" is not a list of DNS server addresses/);
  t.notOk(isNetworkFileName('aardvark.pid'));
  t.ok(isNetworkFileName('podman'));
});

t.test('plan: views by source address, listeners, upstream sets', async (t) => {
  const n1 = parseNetworkFile('n1', `10.89.1.1,fd89:1::1 192.0.2.53\n${ID1} 10.89.1.2 fd89:1::2 web,www\n${ID2} 10.89.1.3  both 192.0.2.1\n`).network!;
  const n2 = parseNetworkFile('n2', `10.89.2.1\n${ID2} 10.89.2.3  both\ncc 10.89.2.4,10.89.2.5  multi\n`).network!;
  const internal = parseNetworkFile('n3%int', `10.89.3.1 192.0.2.99\ndd 10.89.3.2  hidden 192.0.2.98\n`).network!;
  const plan = planOf([n2, internal, n1], 'dns.podman');
  t.same(
    plan.listen.map((l) => [l.address, l.family, l.fallbackView]),
    [
      ['10.89.1.1', 4, fallbackViewOf('n1')],
      ['fd89:1::1', 6, fallbackViewOf('n1')],
      ['10.89.2.1', 4, fallbackViewOf('n2')],
      ['10.89.3.1', 4, fallbackViewOf('n3')],
    ],
    'every gateway, networks in name order',
  );
  t.same(Object.fromEntries(plan.viewOf), { '10.89.1.2': ID1, 'fd89:1::2': ID1, '10.89.1.3': ID2, '10.89.2.3': ID2, '10.89.2.4': 'cc', '10.89.2.5': 'cc', '10.89.3.2': 'dd' });
  const sandbox = (id: string) => plan.state.sandboxes.find((s) => s.id === id)!;
  t.same(sandbox(ID2).networkIds, ['n1', 'n2'], 'a container sees every network it is on');
  t.same(sandbox(fallbackViewOf('n2')).networkIds, ['n2'], 'a stranger sees the network it asked on');
  t.same(plan.state.networks.map((n) => [n.id, n.name, n.internal]), [['n1', 'dns.podman', false], ['n2', 'dns.podman', false], ['n3', 'dns.podman', true]], 'names are qualified by the search domain');
  t.same(plan.state.networks[1]!.endpoints.filter((e) => e.names[0] === 'multi').map((e) => [e.sandboxId, e.ipv4]), [['cc', '10.89.2.4'], ['cc#1', '10.89.2.5']], 'one endpoint per address');
  t.same(Object.fromEntries(plan.serversOf), { [ID1]: ['192.0.2.53'], [ID2]: ['192.0.2.1'] }, 'own servers, else the network\'s, else the host\'s (not listed); none on internal networks');
  t.equal(plan.containers, 4);
});

t.test('command line: aardvark-dns 1.4\'s', async (t) => {
  t.same(parseArgs(['--config', '/run/containers/networks/aardvark-dns', '-p', '53', 'run']), { config: '/run/containers/networks/aardvark-dns', port: 53, searchDomain: '.dns.podman', command: 'run', dir: '/usr/local/libexec/podman' });
  t.same(parseArgs(['-c', 'd', '--port=5533', '-f', '.x', 'serve']).searchDomain, '.x');
  t.throws(() => parseArgs(['-p', '70000', 'run']), /invalid port "70000": expected a number from 1 to 65535/);
  t.throws(() => parseArgs(['--config']), /--config needs a value/);
  t.throws(() => parseArgs(['--frobnicate', 'run']), /unknown option --frobnicate/);
  t.throws(() => parseArgs(['run', 'serve']), /unexpected argument "serve" after run/);
});

t.test('install and remove: one link, and nothing that is not ours', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnm-dns-install-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const target = path.join(dir, 'clone', 'bin', 'cnm-dns');
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.writeFileSync(target, '');
  const helpers = path.join(dir, 'libexec', 'podman');
  t.match(install(helpers, target), /aardvark-dns -> .*cnm-dns/);
  t.equal(fs.readlinkSync(path.join(helpers, 'aardvark-dns')), target);
  t.match(install(helpers, target), /aardvark-dns -> /, 'again: the same link');
  t.match(remove(helpers), /removed/);
  t.notOk(fs.existsSync(path.join(helpers, 'aardvark-dns')));
  t.match(remove(helpers), /nothing to remove/, 'again: nothing to do');
  fs.mkdirSync(helpers, { recursive: true });
  fs.writeFileSync(path.join(helpers, 'aardvark-dns'), 'someone else\'s');
  t.throws(() => install(helpers, target), /exists and is not cnm-dns: move it away first/);
  t.throws(() => remove(helpers), /is not a link to cnm-dns: left as it is/);
  t.equal(fs.readFileSync(path.join(helpers, 'aardvark-dns'), 'utf8'), 'someone else\'s', 'untouched');
  t.throws(() => install(path.join(dir, 'other'), path.join(dir, 'missing', 'cnm-dns')), /not found: run install from a built clone/);
});
