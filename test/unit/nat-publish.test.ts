import t from 'tap';
import { parsePortBindings, parsePublish, type PortRequest } from '../../src/nat';
import { CnmError } from '../../src/errors';

const req = (hostIp: string, hostPortStart: number, hostPortEnd: number, containerPort: number, proto: 'tcp' | 'udp' = 'tcp'): PortRequest => ({
  proto,
  hostIp,
  hostPortStart,
  hostPortEnd,
  containerPort,
});

t.test('valid -p forms', async (t) => {
  const cases: [string, PortRequest[]][] = [
    ['80', [req('', 0, 0, 80)]],
    ['8080:80', [req('', 8080, 8080, 80)]],
    ['8080:80/udp', [req('', 8080, 8080, 80, 'udp')]],
    ['8080:80/UDP', [req('', 8080, 8080, 80, 'udp')]],
    ['80/tcp', [req('', 0, 0, 80)]],
    ['80/', [req('', 0, 0, 80)]],
    ['0:80', [req('', 0, 0, 80)]],
    ['127.0.0.1:8081:80/udp', [req('127.0.0.1', 8081, 8081, 80, 'udp')]],
    ['127.0.0.1::80', [req('127.0.0.1', 0, 0, 80)]],
    ['0.0.0.0:8080:80', [req('0.0.0.0', 8080, 8080, 80)]],
    ['[::1]:8080:80', [req('::1', 8080, 8080, 80)]],
    ['[::]::53/udp', [req('::', 0, 0, 53, 'udp')]],
    ['[FD00:0::1]:8080:80', [req('fd00::1', 8080, 8080, 80)]],
    ['::1:8080:80', [req('::1', 8080, 8080, 80)]],
    ['9000-9001:7000-7001', [req('', 9000, 9000, 7000), req('', 9001, 9001, 7001)]],
    ['7000-7002', [req('', 0, 0, 7000), req('', 0, 0, 7001), req('', 0, 0, 7002)]],
    ['8000-8010:80', [req('', 8000, 8010, 80)]],
    ['127.0.0.1:8000-8010:80/udp', [req('127.0.0.1', 8000, 8010, 80, 'udp')]],
    ['08080:080', [req('', 8080, 8080, 80)]],
    ['65535:65535', [req('', 65535, 65535, 65535)]],
  ];
  for (const [spec, expected] of cases) t.same(parsePublish(spec), expected, spec);
});

t.test('invalid -p forms carry Docker\'s messages', async (t) => {
  const cases: [string, string][] = [
    ['99999:80', 'Invalid hostPort: 99999'],
    ['8080:99999', 'Invalid containerPort: 99999'],
    ['99999', 'Invalid containerPort: 99999'],
    ['abc', 'Invalid containerPort: abc'],
    ['0', 'Invalid containerPort: 0'],
    ['1.2.3.4:80', 'Invalid hostPort: 1.2.3.4'],
    ['8080:', 'No port specified: 8080:<empty>'],
    ['/udp', 'No port specified: /udp<empty>'],
    ['', 'No port specified: <empty>'],
    ['8080-8081:80-82', 'Invalid ranges specified for container and host Ports: 80-82 and 8080-8081'],
    ['8081-8080:80', 'Invalid hostPort: 8081-8080'],
    ['80-70', 'Invalid containerPort: 80-70'],
    ['8080-:80', 'Invalid hostPort: 8080-'],
    ['1-2-3:80', 'Invalid hostPort: 1-2-3'],
    ['-1:80', 'Invalid hostPort: -1'],
    ['+80', 'Invalid containerPort: +80'],
    ['80/xyz', 'Invalid proto: xyz'],
    ['1.2.3.4.5:80:80', 'Invalid ip address: 1.2.3.4.5'],
    ['localhost:80:80', 'Invalid ip address: localhost'],
    ['[::1:8080:80', "Invalid ip address [::1: missing ']' in address"],
    ['[fe80::1%eth0]:80:80', 'Invalid ip address: fe80::1%eth0'],
    ['80/sctp', 'cnm publishes tcp and udp ports only: 80/sctp'],
  ];
  for (const [spec, message] of cases) {
    try {
      parsePublish(spec);
      t.fail(`${spec} should be refused`);
    } catch (err) {
      t.ok(err instanceof CnmError && err.kind === 'invalid', `${spec}: invalid`);
      t.equal((err as Error).message, message, spec);
    }
  }
});

t.test('Engine API port bindings: the checks and the canonical host address of -p', async (t) => {
  const one = (key: string, hostIp: string, hostPort: string) => parsePortBindings(key, [{ hostIp, hostPort }]);
  t.same(one('80/tcp', '', '8080'), [req('', 8080, 8080, 80)]);
  t.same(one('53/udp', '0000::', ''), [req('::', 0, 0, 53, 'udp')], 'IPv6 host address made canonical');
  t.same(one('80', '127.0.0.1', '8000-8010'), [req('127.0.0.1', 8000, 8010, 80)]);
  t.same(parsePortBindings('80/tcp', []), [], 'a key without bindings publishes nothing');
  const cases: [string, string, string, string][] = [
    ['abc/tcp', '', '', 'invalid port specification: "abc/tcp"'],
    ['0/tcp', '', '', 'invalid port specification: "0/tcp"'],
    ['80/sctp', '', '', 'cnm publishes tcp and udp ports only: 80/sctp'],
    ['80/tcp', 'not-an-ip', '8080', 'Invalid ip address: not-an-ip'],
    ['80/tcp', '', '99999', 'Invalid hostPort: 99999'],
    ['80/tcp', '', '90-80', 'Invalid hostPort: 90-80'],
  ];
  for (const [key, hostIp, hostPort, message] of cases) {
    t.throws(() => one(key, hostIp, hostPort), { message }, `${key} ${hostIp} ${hostPort}`);
  }
  t.throws(() => parsePortBindings('abc', []), { message: 'invalid port specification: "abc"' }, 'the key is checked without bindings too');
});
