import t from 'tap';
import type { PortMap } from '../../src/api/engine-types';
import { formatPorts } from '../../src/cli/format';
import { CnmError } from '../../src/errors';

// §1.4: docker run --name p2 -p 127.0.0.1:8081:80/udp -p 8082:80 -p 9000-9001:7000-7001
const p2: PortMap = {
  '80/tcp': [
    { HostIp: '0.0.0.0', HostPort: '8082' },
    { HostIp: '::', HostPort: '8082' },
  ],
  '80/udp': [{ HostIp: '127.0.0.1', HostPort: '8081' }],
  '7001/tcp': [
    { HostIp: '0.0.0.0', HostPort: '9001' },
    { HostIp: '::', HostPort: '9001' },
  ],
  '7000/tcp': [
    { HostIp: '0.0.0.0', HostPort: '9000' },
    { HostIp: '::', HostPort: '9000' },
  ],
  '81/tcp': null,
};

t.test('all bindings, sorted by container port as a string (§1.4)', async (t) => {
  t.equal(
    formatPorts(p2, undefined, 'p2'),
    '7000/tcp -> 0.0.0.0:9000\n' +
      '7000/tcp -> :::9000\n' +
      '7001/tcp -> 0.0.0.0:9001\n' +
      '7001/tcp -> :::9001\n' +
      '80/tcp -> 0.0.0.0:8082\n' +
      '80/tcp -> :::8082\n' +
      '80/udp -> 127.0.0.1:8081\n',
  );
  t.equal(formatPorts({}, undefined, 'p'), '', 'nothing published');
  t.equal(formatPorts(null, undefined, 'p'), '', 'a container whose start failed prints nothing');
});

t.test('one port', async (t) => {
  t.equal(formatPorts(p2, '80', 'p2'), '0.0.0.0:8082\n:::8082\n', 'the protocol defaults to tcp');
  t.equal(formatPorts(p2, '80/tcp', 'p2'), '0.0.0.0:8082\n:::8082\n');
  t.equal(formatPorts(p2, '80/udp', 'p2'), '127.0.0.1:8081\n');
  t.equal(formatPorts({ '80/tcp': [{ HostIp: '', HostPort: '8080' }] }, '80', 'p1'), '0.0.0.0:8080\n:::8080\n', 'an unspecified host IP is every address');
});

t.test('unpublished and invalid ports', async (t) => {
  t.throws(() => formatPorts(p2, '81', 'p1'), new CnmError('notFound', "Error: No public port '81/tcp' published for p1"), 'exposed, not published');
  t.throws(() => formatPorts(p2, '82/udp', 'p1'), { kind: 'notFound', message: "Error: No public port '82/udp' published for p1" });
  t.throws(() => formatPorts(p2, 'http', 'p1'), { kind: 'invalid', message: 'strconv.ParseUint: parsing "http": invalid syntax' });
  t.throws(() => formatPorts(p2, '70000', 'p1'), { kind: 'invalid', message: 'strconv.ParseUint: parsing "70000": value out of range' });
});
