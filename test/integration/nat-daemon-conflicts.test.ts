/**
 * Publishing a host port that is taken, through the real daemon: by another sandbox, by a host
 * process, or on an address the host does not have. Each refusal carries Docker's message and
 * leaves nothing behind (no sandbox, namespace, link, address, rule or held socket), unlike
 * Docker, which leaves the container in Created.
 */
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { closeFd, openSocketInNetns } from '../../src/os/native';
import { CLIENT_IP, HOST_IP, NatDaemonLab } from './nat-daemon-lab';

const ID = '[0-9a-f]{64}';

t.test('port conflicts through cnmd', async (t) => {
  const lab = await NatDaemonLab.start(t);
  const held: number[] = [];
  t.teardown(() => held.forEach((fd) => closeFd(fd)));
  /** A host process's socket in the lab host namespace (this test process plays it). */
  const hostProcessBinds = (proto: 'tcp' | 'udp', address: string, port: number): number => {
    const fd = openSocketInNetns(lab.host, proto, address, port);
    held.push(fd);
    return fd;
  };
  const listDir = (dir: string): string => (fs.existsSync(dir) ? fs.readdirSync(dir).sort().join(' ') : '');
  /** Everything a half-made sandbox could leave behind. */
  const snapshot = async (): Promise<Record<string, string>> => ({
    sandboxes: (await lab.cli('ps', '-a', '-q', '--no-trunc')).out,
    endpoints: (await lab.cli('network', 'inspect', '-f', '{{len .Containers}}', 'web', 'bridge')).out,
    netns: listDir(path.join(lab.lab.execRoot, 'netns')),
    files: listDir(path.join(lab.lab.execRoot, 'sandboxes')),
    ...(await interfaces(lab.host)),
    ruleset: await lab.ruleset(),
    sockets: await lab.lab.inHost(['ss', '-H', '-lntu']),
  });

  /** Links (name, master) and addresses, without what changes by itself (state, DAD flags). */
  const interfaces = async (ns: string): Promise<{ links: string; addresses: string }> => {
    const links = JSON.parse(await lab.lab.inNs(ns, ['ip', '-j', 'link'])) as { ifname: string; master?: string }[];
    const addrs = JSON.parse(await lab.lab.inNs(ns, ['ip', '-j', 'addr'])) as { ifname: string; addr_info: { local: string; prefixlen: number }[] }[];
    return {
      links: links.map((l) => `${l.ifname}${l.master ? ` master ${l.master}` : ''}`).join('\n'),
      addresses: addrs.flatMap((l) => l.addr_info.map((a) => `${l.ifname} ${a.local}/${a.prefixlen}`)).join('\n'),
    };
  };

  t.equal((await lab.cli('network', 'create', '--subnet', '10.63.1.0/24', 'web')).code, 0);
  t.equal((await lab.runServer('holder', ['--network', 'web', '-p', '8080:80', '-p', '8080:5000/udp'])).code, 0);
  hostProcessBinds('tcp', '0.0.0.0', 8081);
  hostProcessBinds('udp', '127.0.0.1', 8082);
  const before = await snapshot();

  /** Runs `cnm run -d --name NAME ...` expecting a refusal; returns the message after the prefix. */
  const refused = async (t: Test, name: string, flags: string[]): Promise<string> => {
    const r = await lab.cli('run', '-d', '--name', name, ...flags, 'sleep', 'infinity');
    t.equal(r.code, 125, `${flags.join(' ')} is refused`);
    t.equal(r.out, '');
    const prefix = new RegExp(`^cnm: Error response from daemon: driver failed programming external connectivity on endpoint ${name} \\((${ID})\\): `);
    t.match(r.err, prefix);
    t.same(await snapshot(), before, 'nothing was left behind');
    return r.err.replace(prefix, '').trimEnd();
  };

  await t.test('a host port another sandbox published', async (t) => {
    t.equal(await refused(t, 'dup', ['--network', 'web', '-p', '8080:80']), 'Bind for 0.0.0.0:8080 failed: port is already allocated.');
    t.equal(await refused(t, 'dup', ['--network', 'web', '-p', '8080:80/udp']), 'Bind for 0.0.0.0:8080 failed: port is already allocated.');
    t.equal(await refused(t, 'dup', ['--network', 'web', '-p', '127.0.0.1:8080:80']), 'Bind for 127.0.0.1:8080 failed: port is already allocated.');
    t.equal(await refused(t, 'dup', ['-p', '8080:80']), 'Bind for 0.0.0.0:8080 failed: port is already allocated.', 'from another network too');
    // The first -p was allocated before the second failed: it is released again.
    t.equal(await refused(t, 'dup', ['--network', 'web', '-p', '9090:80', '-p', '8080:81']), 'Bind for 0.0.0.0:8080 failed: port is already allocated.');
    t.equal((await lab.runServer('dup', ['--network', 'web', '-p', '9090:80'], ['tcp:80'])).code, 0, 'the name and 9090 are free');
    t.equal(await lab.tcp(lab.client, HOST_IP, 9090), `dup:80 ${CLIENT_IP}`);
    t.equal((await lab.cli('rm', '-f', 'dup')).code, 0);
    t.same(await snapshot(), before);
  });

  await t.test('a host port a host process holds', async (t) => {
    t.equal(await refused(t, 'hp', ['--network', 'web', '-p', '8081:80']), 'Error starting userland proxy: listen tcp4 0.0.0.0:8081: bind: address already in use.');
    t.equal(await refused(t, 'hp', ['--network', 'web', '-p', '8082:80/udp']), 'Error starting userland proxy: listen udp4 0.0.0.0:8082: bind: address already in use.');
    t.equal(await refused(t, 'hp', ['--network', 'web', '-p', '203.0.113.9:8084:80']), 'Error starting userland proxy: listen tcp4 203.0.113.9:8084: bind: cannot assign requested address.');
  });

  await t.test('a host process cannot take a published port', async (t) => {
    for (const [proto, address] of [['tcp', '0.0.0.0'], ['tcp', '127.0.0.1'], ['udp', '0.0.0.0'], ['udp', HOST_IP]] as const) {
      t.throws(() => hostProcessBinds(proto, address, 8080), { code: 'EADDRINUSE' }, `${proto} ${address}:8080`);
    }
  });

  await t.test('the Engine API answers with the same message and creates nothing', async (t) => {
    const r = await lab.lab.api('POST', '/containers/create?name=apidup', {
      Cmd: ['sleep', 'infinity'],
      HostConfig: { NetworkMode: 'web', PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] } },
    });
    t.not(r.status, 201);
    t.match((r.body as { message: string }).message, new RegExp(`^driver failed programming external connectivity on endpoint apidup \\(${ID}\\): Bind for 0.0.0.0:8080 failed: port is already allocated$`));
    t.same(await snapshot(), before);
  });

  await t.test('ephemeral ports skip ports a host process holds', async (t) => {
    hostProcessBinds('tcp', '0.0.0.0', 32768);
    const r = await lab.runServer('eph', ['--network', 'web', '-p', '80', '-p', '5000/udp']);
    t.equal(r.code, 0, r.err);
    t.equal((await lab.cli('port', 'eph')).out, '5000/udp -> 0.0.0.0:32768\n80/tcp -> 0.0.0.0:32769\n');
    t.equal(await lab.tcp(lab.client, HOST_IP, 32769), `eph:80 ${CLIENT_IP}`);
    t.equal((await lab.cli('rm', '-f', 'eph')).code, 0);
  });

  await t.test('connecting to a network with a way out publishes, or fails and changes nothing', async (t) => {
    t.equal((await lab.cli('network', 'create', '--internal', '--subnet', '10.63.9.0/24', 'closed')).code, 0);
    t.equal((await lab.runServer('late', ['--network', 'closed', '-p', '8080:80'], ['tcp:80'])).code, 0);
    t.equal((await lab.cli('port', 'late')).out, '', 'an internal network publishes nothing');
    const lateNs = await lab.lab.sandboxNs('late');
    const inside = await interfaces(lateNs);
    const outside = await snapshot();
    const c = await lab.cli('network', 'connect', 'web', 'late');
    t.equal(c.code, 1);
    t.match(c.err, new RegExp(`^Error response from daemon: driver failed programming external connectivity on endpoint late \\(${ID}\\): Bind for 0.0.0.0:8080 failed: port is already allocated\\n$`));
    t.same(await interfaces(lateNs), inside, 'no interface joined the sandbox');
    t.same(await snapshot(), outside);

    t.equal((await lab.cli('rm', '-f', 'holder')).code, 0);
    const again = await lab.cli('network', 'connect', 'web', 'late');
    t.equal(again.code, 0, again.err);
    t.equal((await lab.cli('port', 'late')).out, '80/tcp -> 0.0.0.0:8080\n');
    t.equal(await lab.tcp(lab.client, HOST_IP, 8080), `late:80 ${CLIENT_IP}`);
  });

  await t.test('published ports follow the gateway endpoint', async (t) => {
    t.equal((await lab.cli('network', 'create', '--subnet', '10.63.2.0/24', 'second')).code, 0);
    t.equal((await lab.cli('network', 'connect', 'second', 'late')).code, 0);
    t.equal((await lab.cli('network', 'disconnect', 'web', 'late')).code, 0);
    t.equal((await lab.cli('port', 'late')).out, '80/tcp -> 0.0.0.0:8080\n', 'moved to the next network with a way out');
    t.equal(await lab.tcp(lab.client, HOST_IP, 8080), `late:80 ${CLIENT_IP}`);
    t.equal((await lab.cli('network', 'disconnect', 'second', 'late')).code, 0);
    t.equal((await lab.cli('port', 'late')).out, '', 'only an internal network left: nothing published');
    t.equal(await lab.tcp(lab.client, HOST_IP, 8080, 1), 'refused');
    t.notMatch(await lab.ruleset(), /\b8080\b/);
  });
});
