import t from 'tap';
import {
  canonicalIp,
  cidrContains,
  cidrsOverlap,
  containsCidr,
  firstAddress,
  formatCidr,
  formatIp,
  isCanonical,
  lastAddress,
  mustParseCidr,
  networkOf,
  nthAddress,
  parseCidr,
  parseIp,
  prefixLength,
  sizeOf,
  withPrefixLength,
} from '../../src/ipam/cidr';

t.test('IPv4 parsing is strict dotted-quad decimal', async (t) => {
  t.same(parseIp('10.0.0.1'), { family: 4, value: 0x0a000001n });
  t.same(parseIp('255.255.255.255'), { family: 4, value: 0xffffffffn });
  t.same(parseIp('0.0.0.0'), { family: 4, value: 0n });
  for (const bad of ['10.0.0.300', '10.0.0', '10.0.0.1.2', '010.0.0.1', '10.0.0.-1', ' 10.0.0.1', '10.0.0.1 ', '0x0a.0.0.1', 'notanip', '', '1.2.3.4/24']) {
    t.equal(parseIp(bad), undefined, `rejects ${JSON.stringify(bad)}`);
  }
});

t.test('IPv6 parsing and RFC 5952 formatting', async (t) => {
  const cases: Array<[string, string]> = [
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['FD00:DEAD:BEEF::', 'fd00:dead:beef::'],
    ['fd00:0000:0000:0000:0000:0000:0000:0001', 'fd00::1'],
    ['1:0:0:1:0:0:0:1', '1:0:0:1::1'], // the longest zero run wins
    ['1:0:0:1:0:0:1:1', '1::1:0:0:1:1'], // on a tie the first run wins
    ['1:0:1:1:1:1:1:1', '1:0:1:1:1:1:1:1'], // a single zero group is not compressed
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['::ffff:10.0.0.1', '::ffff:10.0.0.1'],
    ['64:ff9b::10.0.0.1', '64:ff9b::a00:1'],
  ];
  for (const [input, canonical] of cases) {
    const ip = parseIp(input);
    t.equal(ip?.family, 6, `${input} is IPv6`);
    t.equal(ip && formatIp(ip), canonical, `${input} → ${canonical}`);
  }
  for (const bad of ['1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '1::2::3', ':1', '1:', '12345::', 'fe80::1%eth0', '1.2.3.4::', '::1.2.3', 'g::1', '1:2:3:4:5:6:7::8']) {
    t.equal(parseIp(bad), undefined, `rejects ${JSON.stringify(bad)}`);
  }
});

t.test('CIDR parsing keeps what was written; networkOf and isCanonical tell host bits', async (t) => {
  const c = parseCidr('10.0.0.5/24')!;
  t.equal(c.bits, 24);
  t.notOk(isCanonical(c));
  t.equal(formatCidr(networkOf(c)), '10.0.0.0/24');
  t.ok(isCanonical(mustParseCidr('10.0.0.0/24')));
  t.equal(formatCidr(mustParseCidr('FD00::/64')), 'fd00::/64');
  t.equal(formatCidr(mustParseCidr('0.0.0.0/0')), '0.0.0.0/0');
  for (const bad of ['10.0.0.0', '10.0.0.0/33', '10.0.0.0/-1', '10.0.0.0/024', '10.0.0.0/', '10.20.0.300/24', 'fd00::/129', '/24']) {
    t.equal(parseCidr(bad), undefined, `rejects ${bad}`);
  }
  t.throws(() => mustParseCidr('nope'), TypeError);
});

t.test('sizes, bounds, nth address', async (t) => {
  const c = mustParseCidr('192.168.16.0/20');
  t.equal(sizeOf(c), 4096n);
  t.equal(formatIp({ family: 4, value: firstAddress(c) }), '192.168.16.0');
  t.equal(formatIp({ family: 4, value: lastAddress(c) }), '192.168.31.255');
  t.equal(formatIp(nthAddress(c, 1)), '192.168.16.1');
  t.equal(formatIp(nthAddress(c, 4095n)), '192.168.31.255');
  t.throws(() => nthAddress(c, 4096), RangeError);
  t.throws(() => nthAddress(c, -1), RangeError);
  const v6 = mustParseCidr('fd00::/64');
  t.equal(sizeOf(v6), 2n ** 64n);
  t.equal(formatIp(nthAddress(v6, 2n ** 64n - 1n)), 'fd00::ffff:ffff:ffff:ffff');
});

t.test('containment and overlap, never across families', async (t) => {
  t.ok(cidrContains('10.0.0.0/24', '10.0.0.255'));
  t.notOk(cidrContains('10.0.0.0/24', '10.0.1.0'));
  t.notOk(cidrContains('0.0.0.0/0', '::1'));
  t.ok(containsCidr(mustParseCidr('10.0.0.0/16'), mustParseCidr('10.0.3.0/24')));
  t.notOk(containsCidr(mustParseCidr('10.0.3.0/24'), mustParseCidr('10.0.0.0/16')));
  t.ok(cidrsOverlap('10.0.0.0/16', '10.0.3.0/24'));
  t.ok(cidrsOverlap('10.0.3.0/24', '10.0.0.0/16'));
  t.notOk(cidrsOverlap('10.0.0.0/24', '10.0.1.0/24'));
  t.notOk(cidrsOverlap('0.0.0.0/0', '::/0'));
  t.ok(cidrsOverlap('fd00::/48', 'fd00:0:0:5::/64'));
});

t.test('text helpers for other layers', async (t) => {
  t.equal(withPrefixLength('10.0.0.2', '10.0.0.0/24'), '10.0.0.2/24');
  t.equal(withPrefixLength('FD00::2', 'fd00::/64'), 'fd00::2/64');
  t.equal(prefixLength('172.18.0.0/16'), 16);
  t.equal(canonicalIp('FD00:0::0002'), 'fd00::2');
});
