import t from 'tap';
import { natMappings, parsePublish, PortAllocator, type PortReserver } from '../../src/nat';
import { CnmError } from '../../src/errors';

/** A fake host: `busy` are ports a host process holds (`proto/ip/port`); `held` what cnm holds. */
function fakeHost(busy: string[] = []): PortReserver & { held: Set<string>; dualStack: Set<string> } {
  const held = new Set<string>();
  const dualStack = new Set<string>();
  return {
    held,
    dualStack,
    reserve(proto, hostIp, port, both) {
      const key = `${proto}/${hostIp}/${port}`;
      if (both) dualStack.add(key);
      if (busy.includes(key) || held.has(key)) throw Object.assign(new Error('bind: address in use'), { code: 'EADDRINUSE' });
      if (hostIp === '192.0.2.99') throw Object.assign(new Error('bind: not here'), { code: 'EADDRNOTAVAIL' });
      held.add(key);
      return { release: () => held.delete(key) };
    },
  };
}

const v4 = { ipv4: '10.0.0.2' };
const dual = { ipv4: '10.0.0.2', ipv6: 'fd00::2' };

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof CnmError)) throw err;
    return `${err.kind}: ${err.message}`;
  }
  return 'no error';
}

t.test('ephemeral ports start at 32768 and are counted per protocol', async (t) => {
  const ports = new PortAllocator({ reserver: fakeHost() });
  const a = ports.allocate('a', [...parsePublish('80'), ...parsePublish('53/udp')], v4);
  t.same(a.map((b) => `${b.hostPort}/${b.proto}`), ['32768/tcp', '32768/udp']);
  const b = ports.allocate('b', parsePublish('80'), v4);
  t.equal(b[0]!.hostPort, 32769);
  ports.release('a');
  t.equal(ports.allocate('c', parsePublish('80'), v4)[0]!.hostPort, 32770, 'the cursor moves on, as Docker\'s does');
});

t.test('ephemeral allocation wraps and reports exhaustion', async (t) => {
  const ports = new PortAllocator({ reserver: fakeHost(), ephemeral: { start: 40000, end: 40002 } });
  t.same(ports.allocate('a', parsePublish('1-3'), v4).map((b) => b.hostPort), [40000, 40001, 40002]);
  t.equal(message(() => ports.allocate('b', parsePublish('80'), v4)), 'forbidden: all ports are allocated');
  ports.release('a');
  t.equal(ports.allocate('b', parsePublish('80'), v4)[0]!.hostPort, 40000);
});

t.test('ephemeral allocation skips ports host processes hold', async (t) => {
  const host = fakeHost(['tcp/0.0.0.0/32768', 'tcp/0.0.0.0/32769']);
  const ports = new PortAllocator({ reserver: host });
  t.equal(ports.allocate('a', parsePublish('80'), v4)[0]!.hostPort, 32770);
  t.ok(host.held.has('tcp/0.0.0.0/32770'), 'the socket is held');
});

t.test('no host address: 0.0.0.0, and :: with the same port when the container has IPv6', async (t) => {
  const host = fakeHost();
  const ports = new PortAllocator({ reserver: host });
  t.same(ports.allocate('a', parsePublish('8080:80'), dual), [
    { proto: 'tcp', hostIp: '0.0.0.0', hostPort: 8080, containerIp: '10.0.0.2', containerPort: 80 },
    { proto: 'tcp', hostIp: '::', hostPort: 8080, containerIp: 'fd00::2', containerPort: 80 },
  ]);
  t.same([...host.held], ['tcp/::/8080'], 'one dual-stack socket holds both');
  t.same([...host.dualStack], ['tcp/::/8080']);
  const e = ports.allocate('b', parsePublish('80'), dual);
  t.same(e.map((b) => `${b.hostIp}:${b.hostPort}`), ['0.0.0.0:32768', ':::32768']);
  t.same(ports.allocate('c', parsePublish('81'), { ipv6: 'fd00::3' }).map((b) => b.hostIp), ['::']);
  t.notOk(host.dualStack.has('tcp/::/32769'), 'a binding on :: alone holds IPv6 only');
  t.equal(ports.allocate('d', parsePublish('[::]:9000:80'), dual)[0]!.hostIp, '::');
  t.equal(ports.allocate('e', parsePublish('0.0.0.0:9000:80'), dual)[0]!.hostIp, '0.0.0.0', 'so 0.0.0.0 on the same port is free');
  t.notOk(host.dualStack.has('tcp/::/9000'));
});

t.test('conflicts with ports cnm already published', async (t) => {
  const ports = new PortAllocator({ reserver: fakeHost() });
  ports.allocate('a', parsePublish('8080:80'), v4);
  t.equal(message(() => ports.allocate('b', parsePublish('8080:80'), v4)), 'forbidden: Bind for 0.0.0.0:8080 failed: port is already allocated');
  t.equal(message(() => ports.allocate('b', parsePublish('127.0.0.1:8080:80'), v4)), 'forbidden: Bind for 127.0.0.1:8080 failed: port is already allocated', 'a specific address collides with 0.0.0.0');
  t.equal(ports.allocate('b', parsePublish('8080:80/udp'), v4)[0]!.hostPort, 8080, 'the other protocol is free');
  t.equal(ports.allocate('c', parsePublish('[::1]:8080:80'), dual)[0]!.hostIp, '::1', 'the other family is free');
  ports.allocate('d', parsePublish('127.0.0.1:9000:80'), v4);
  t.equal(ports.allocate('e', parsePublish('127.0.0.2:9000:80'), v4)[0]!.hostPort, 9000, 'two specific addresses share a port');
  t.equal(message(() => ports.allocate('f', parsePublish('9000:80'), v4)), 'forbidden: Bind for 0.0.0.0:9000 failed: port is already allocated', '0.0.0.0 collides with a specific address');
  t.equal(message(() => ports.allocate('g', parsePublish('[::]:8080:80'), dual)), 'forbidden: Bind for [::]:8080 failed: port is already allocated');
  t.equal(message(() => ports.allocate('a', parsePublish('1234:80'), v4)), 'conflict: ports of a are already allocated');
});

t.test('a range picks the first free port of the range', async (t) => {
  const ports = new PortAllocator({ reserver: fakeHost(['tcp/0.0.0.0/8001']) });
  ports.allocate('a', parsePublish('8000:80'), v4);
  t.equal(ports.allocate('b', parsePublish('8000-8003:80'), v4)[0]!.hostPort, 8002);
  t.equal(ports.allocate('c', parsePublish('8000-8003:80'), v4)[0]!.hostPort, 8003);
  t.equal(message(() => ports.allocate('d', parsePublish('8000-8003:80'), v4)), 'forbidden: Bind for 0.0.0.0:8000-8003 failed: port is already allocated');
});

t.test('host processes: Docker\'s userland-proxy wording', async (t) => {
  const ports = new PortAllocator({ reserver: fakeHost(['tcp/0.0.0.0/8080', 'udp/127.0.0.1/53']) });
  t.equal(message(() => ports.allocate('a', parsePublish('8080:80'), v4)), 'forbidden: Error starting userland proxy: listen tcp4 0.0.0.0:8080: bind: address already in use');
  t.equal(message(() => ports.allocate('a', parsePublish('127.0.0.1:53:53/udp'), v4)), 'forbidden: Error starting userland proxy: listen udp4 127.0.0.1:53: bind: address already in use');
  t.equal(message(() => ports.allocate('a', parsePublish('192.0.2.99:8084:80'), v4)), 'invalid: Error starting userland proxy: listen tcp4 192.0.2.99:8084: bind: cannot assign requested address');
});

t.test('all or nothing: a failing request releases the ones before it', async (t) => {
  const host = fakeHost();
  const ports = new PortAllocator({ reserver: host });
  ports.allocate('a', parsePublish('9000:80'), v4);
  t.match(message(() => ports.allocate('b', [...parsePublish('8080:80'), ...parsePublish('53/udp'), ...parsePublish('9000:81')], v4)), /9000 failed/);
  t.same([...host.held], ['tcp/0.0.0.0/9000'], 'only a\'s socket is held');
  t.same(ports.bindings('b'), []);
  t.equal(ports.allocate('b', parsePublish('8080:80'), v4)[0]!.hostPort, 8080, '8080 was freed');
  t.equal(message(() => ports.allocate('c', [...parsePublish('7000:80'), ...parsePublish('7000:81')], v4)), 'forbidden: Bind for 0.0.0.0:7000 failed: port is already allocated', 'two -p on one host port');
});

t.test('addresses the container lacks', async (t) => {
  const ports = new PortAllocator({ reserver: fakeHost() });
  t.equal(message(() => ports.allocate('a', parsePublish('[::1]:80:80'), v4)), 'invalid: cannot publish on ::1: the container has no IPv6 address');
  t.equal(message(() => ports.allocate('a', parsePublish('80'), {})), 'invalid: cannot publish port 80: the container has no address');
});

t.test('release and releaseAll free sockets and ports', async (t) => {
  const host = fakeHost();
  const ports = new PortAllocator({ reserver: host });
  ports.allocate('a', parsePublish('8080:80'), dual);
  ports.allocate('b', parsePublish('127.0.0.1:9090:90/udp'), v4);
  ports.release('a');
  ports.release('nobody');
  t.same([...host.held], ['udp/127.0.0.1/9090']);
  t.equal(ports.allocate('c', parsePublish('8080:80'), v4)[0]!.hostPort, 8080);
  ports.releaseAll();
  t.same([...host.held], []);
});

t.test('natMappings puts bindings on a network', async (t) => {
  const ports = new PortAllocator({ reserver: fakeHost() });
  const bindings = ports.allocate('a', parsePublish('8080:80'), v4);
  t.same(natMappings(bindings, { id: 'n1', bridge: 'br1' }), [
    { networkId: 'n1', bridge: 'br1', proto: 'tcp', hostIp: '0.0.0.0', hostPort: 8080, containerIp: '10.0.0.2', containerPort: 80 },
  ]);
});

t.test("a runtime's ports (holdSockets: false) are counted but bind no socket", async (t) => {
  const host = fakeHost(['tcp/0.0.0.0/8080']);
  const ports = new PortAllocator({ reserver: host });
  const a = ports.allocate('a', parsePublish('8080:80'), v4, { holdSockets: false });
  t.same(a.map((b) => `${b.hostIp}:${b.hostPort}`), ['0.0.0.0:8080'], 'the runtime holds the socket, so a bound port is no conflict');
  t.equal(host.held.size, 0);
  t.equal(message(() => ports.allocate('b', parsePublish('8080:80'), v4)), 'forbidden: Bind for 0.0.0.0:8080 failed: port is already allocated');
  ports.release('a');
  t.same(ports.allocate('c', parsePublish('9090:80'), v4, { holdSockets: false }).length, 1);
});
