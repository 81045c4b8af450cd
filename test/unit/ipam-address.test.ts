import t from 'tap';
import { Ipam } from '../../src/ipam/ipam';
import { formatIp, mustParseIp } from '../../src/ipam/cidr';
import type { NetworkRequest } from '../../src/ipam/types';
import { cnmErrorOf, expected } from './ipam-helpers';

const network = (ipam: Ipam, networkId: string, extra: Partial<NetworkRequest> = {}): void => {
  ipam.allocateNetwork({ networkId, networkName: `${networkId}-name`, configs: [], enableIPv6: false, reserveGateway: true, ...extra });
};
/** The n-th address after `base`, as text. */
const plus = (base: string, n: number): string => {
  const ip = mustParseIp(base);
  return formatIp({ family: ip.family, value: ip.value + BigInt(n) });
};

t.test('the lowest free address from .2, a released one reused at once', async (t) => {
  const ipam = new Ipam();
  network(ipam, 'n', { configs: [{ subnet: '10.10.0.0/24' }] });
  t.same([ipam.requestAddress('n', 4), ipam.requestAddress('n', 4), ipam.requestAddress('n', 4)], ['10.10.0.2', '10.10.0.3', '10.10.0.4']);
  t.ok(ipam.releaseAddress('n', '10.10.0.3'));
  t.notOk(ipam.releaseAddress('n', '10.10.0.3'), 'a second release is a no-op');
  t.equal(ipam.requestAddress('n', 4), '10.10.0.3');
  t.equal(ipam.requestAddress('n', 4), '10.10.0.5');
  t.ok(ipam.releaseAddress('n', '10.10.0.2/24'), 'an address with its prefix length is understood');
  t.notOk(ipam.releaseAddress('n', '10.10.0.1'), 'the gateway stays reserved');
  t.notOk(ipam.releaseAddress('n', 'garbage'));
  t.notOk(ipam.releaseAddress('nosuch', '10.10.0.4'), 'unknown networks: a no-op (rollbacks may repeat)');
  t.equal(ipam.requestAddress('n', 4), '10.10.0.2');
});

t.test('with --ip-range from its start; gateway and aux addresses skipped', async (t) => {
  const ipam = new Ipam();
  network(ipam, 'r', { configs: [{ subnet: '10.20.0.0/24', ipRange: '10.20.0.128/25', gateway: '10.20.0.129', auxAddresses: { a: '10.20.0.130', b: '10.20.0.132' } }] });
  t.same([1, 2, 3].map(() => ipam.requestAddress('r', 4)), ['10.20.0.128', '10.20.0.131', '10.20.0.133']);
  t.equal(ipam.requestAddress('r', 4, '10.20.0.5'), '10.20.0.5', 'a static address may lie outside the range');
});

t.test('static addresses (--ip, --ip6)', async (t) => {
  const ipam = new Ipam();
  network(ipam, 's', { enableIPv6: true, configs: [{ subnet: '10.30.0.0/24', auxAddresses: { a: '10.30.0.9' } }, { subnet: 'fd00:30::/64' }] });
  t.equal(ipam.requestAddress('s', 4, '10.30.0.10'), '10.30.0.10');
  t.equal(ipam.requestAddress('s', 6, 'FD00:30:0:0::0010'), 'fd00:30::10', 'returned canonical');
  const fails = (family: 4 | 6, preferred: string, kind: 'invalid' | 'forbidden', message: string): void => {
    t.equal(cnmErrorOf(() => ipam.requestAddress('s', family, preferred)), expected(kind, message), `${preferred}: ${message}`);
  };
  fails(4, '10.99.0.5', 'invalid', "Invalid address 10.99.0.5: It does not belong to any of this network's subnets");
  fails(6, 'fd00:99::5', 'invalid', "Invalid address fd00:99::5: It does not belong to any of this network's subnets");
  fails(4, 'notanip', 'invalid', 'Invalid IPv4 address: notanip');
  fails(4, 'fd00:30::5', 'invalid', 'Invalid IPv4 address: fd00:30::5');
  fails(6, '10.30.0.5', 'invalid', 'Invalid IPv6 address: 10.30.0.5');
  fails(4, '10.30.0.1', 'forbidden', 'Address already in use');
  fails(4, '10.30.0.9', 'forbidden', 'Address already in use');
  fails(4, '10.30.0.10', 'forbidden', 'Address already in use');
  fails(6, 'fd00:30::1', 'forbidden', 'Address already in use');
  fails(6, 'fd00:30::10', 'forbidden', 'Address already in use');
  fails(4, '10.30.0.0', 'invalid', 'Invalid address 10.30.0.0: it is the network address of 10.30.0.0/24');
  fails(4, '10.30.0.255', 'invalid', 'Invalid address 10.30.0.255: it is the broadcast address of 10.30.0.0/24');
  fails(6, 'fd00:30::', 'invalid', 'Invalid address fd00:30::: it is the network address of fd00:30::/64');
  t.equal(ipam.requestAddress('s', 4), '10.30.0.2', 'dynamic requests go around static ones');
  t.ok(ipam.releaseAddress('s', '10.30.0.10'));
  t.equal(ipam.requestAddress('s', 4, '10.30.0.10'), '10.30.0.10', 'a released static address can be taken again');
});

t.test('static addresses need a user-configured subnet of that family', async (t) => {
  const ipam = new Ipam();
  network(ipam, 'auto', { enableIPv6: true, configs: [{ subnet: 'fd00:40::/64' }] });
  const refused = expected('invalid', 'user specified IP address is supported only when connecting to networks with user configured subnets');
  t.equal(cnmErrorOf(() => ipam.assertStaticAllowed('auto', 4)), refused, 'the IPv4 pool is automatic');
  t.equal(cnmErrorOf(() => ipam.assertStaticAllowed('auto', 6)), 'no error', 'the IPv6 subnet is the user\'s');
  network(ipam, 'v4only', { configs: [{ subnet: '10.40.0.0/24' }] });
  t.equal(cnmErrorOf(() => ipam.assertStaticAllowed('v4only', 4)), 'no error');
  t.equal(cnmErrorOf(() => ipam.assertStaticAllowed('v4only', 6)), refused, 'no IPv6 subnet at all');
  t.equal(cnmErrorOf(() => ipam.requestAddress('v4only', 6)), expected('invalid', 'network v4only-name has no IPv6 subnet'));
  t.same(ipam.pools('auto').map((p) => p.auto), [true, false]);
  t.equal(cnmErrorOf(() => ipam.requestAddress('nosuch', 4)), expected('notFound', 'IPAM has no pools for network nosuch'));
});

t.test('exhaustion: the next pool of the family, then a clear error', async (t) => {
  const ipam = new Ipam();
  network(ipam, 'tiny', { configs: [{ subnet: '10.50.0.0/30' }] });
  t.equal(ipam.requestAddress('tiny', 4), '10.50.0.2');
  t.equal(cnmErrorOf(() => ipam.requestAddress('tiny', 4)), expected('unavailable', "no available IPv4 addresses in network tiny-name's pool 10.50.0.0/30"));
  network(ipam, 'two', { configs: [{ subnet: '10.51.0.0/30' }, { subnet: '10.52.0.0/24', ipRange: '10.52.0.8/31' }] });
  t.same([1, 2, 3].map(() => ipam.requestAddress('two', 4)), ['10.51.0.2', '10.52.0.8', '10.52.0.9']);
  t.equal(
    cnmErrorOf(() => ipam.requestAddress('two', 4)),
    expected('unavailable', "no available IPv4 addresses in network two-name's pools 10.51.0.0/30, 10.52.0.0/24 (range 10.52.0.8/31)"),
  );
  t.equal(ipam.requestAddress('two', 4, '10.52.0.77'), '10.52.0.77', 'a static address in the second subnet');
  ipam.releaseAddress('two', '10.51.0.2');
  t.equal(ipam.requestAddress('two', 4), '10.51.0.2');
});

t.test('a /16 with 60k endpoints: every address in order, then holes refilled lowest first', async (t) => {
  const ipam = new Ipam();
  network(ipam, 'big', { configs: [{ subnet: '10.60.0.0/16' }] });
  const got: string[] = [];
  for (let i = 0; i < 60000; i++) got.push(ipam.requestAddress('big', 4));
  let mismatch = got.findIndex((address, i) => address !== plus('10.60.0.2', i));
  t.equal(mismatch, -1, 'addresses 10.60.0.2 … in order');
  t.equal(got[59999], '10.60.234.97');
  t.equal(new Set(got).size, 60000);
  const holes = ['10.60.200.1', '10.60.3.3', '10.60.77.255', '10.60.0.2'];
  for (const hole of holes) t.ok(ipam.releaseAddress('big', hole));
  t.same([1, 2, 3, 4, 5].map(() => ipam.requestAddress('big', 4)), ['10.60.0.2', '10.60.3.3', '10.60.77.255', '10.60.200.1', '10.60.234.98']);
  // Fill the rest: 65,536 - network - broadcast - gateway = 65,533 endpoints in all.
  const rest: string[] = [];
  for (let i = 0; i < 65533 - 60001; i++) rest.push(ipam.requestAddress('big', 4));
  mismatch = rest.findIndex((address, i) => address !== plus('10.60.234.99', i));
  t.equal(mismatch, -1);
  t.equal(rest[rest.length - 1], '10.60.255.254');
  t.match(cnmErrorOf(() => ipam.requestAddress('big', 4)), /^unavailable: no available IPv4 addresses/);
});

t.test('an IPv6 /64 with 60k endpoints and far static addresses', async (t) => {
  const ipam = new Ipam();
  network(ipam, 'v6', { enableIPv6: true, configs: [{ subnet: 'fd00:60::/64' }] });
  t.equal(ipam.requestAddress('v6', 6, 'fd00:60::ffff:ffff:ffff:fffe'), 'fd00:60::ffff:ffff:ffff:fffe');
  t.equal(ipam.requestAddress('v6', 6, 'fd00:60::ffff:ffff:ffff:ffff'), 'fd00:60::ffff:ffff:ffff:ffff', 'IPv6 has no broadcast');
  t.equal(ipam.requestAddress('v6', 6, 'fd00:60::8000:0:0:5'), 'fd00:60::8000:0:0:5');
  const got: string[] = [];
  for (let i = 0; i < 60000; i++) got.push(ipam.requestAddress('v6', 6));
  t.equal(got.findIndex((address, i) => address !== plus('fd00:60::2', i)), -1, 'fd00:60::2 … in order');
  t.ok(ipam.releaseAddress('v6', 'fd00:60::8000:0:0:5'));
  t.equal(cnmErrorOf(() => ipam.requestAddress('v6', 6, 'fd00:60::ffff:ffff:ffff:fffe')), expected('forbidden', 'Address already in use'));
  t.equal(ipam.requestAddress('v6', 6, 'fd00:60::8000:0:0:5'), 'fd00:60::8000:0:0:5');
});

t.test('reservations are synchronous: interleaved connects never share an address', async (t) => {
  const ipam = new Ipam();
  network(ipam, 'c', { configs: [{ subnet: '10.70.0.0/24' }] });
  // Each "connect" reserves, then awaits (a driver call) and fails or succeeds; a failure releases.
  const connect = async (i: number): Promise<string | undefined> => {
    const address = ipam.requestAddress('c', 4);
    await new Promise((resolve) => setImmediate(resolve));
    if (i % 3 === 0) {
      ipam.releaseAddress('c', address);
      return undefined;
    }
    return address;
  };
  const results = (await Promise.all(Array.from({ length: 90 }, (_, i) => connect(i)))).filter((a) => a !== undefined);
  t.equal(results.length, 60);
  t.equal(new Set(results).size, 60, 'no address given twice');
  t.equal(ipam.requestAddress('c', 4), '10.70.0.2', 'the first failed connect gave .2 back');
});
