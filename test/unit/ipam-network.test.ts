import t from 'tap';
import { Ipam } from '../../src/ipam/ipam';
import type { NetworkRequest, PoolConfig } from '../../src/ipam/types';
import { cnmErrorOf, expected } from './ipam-helpers';

const request = (networkId: string, extra: Partial<NetworkRequest> = {}): NetworkRequest => ({
  networkId,
  configs: [],
  enableIPv6: false,
  reserveGateway: true,
  ...extra,
});
const subnets = (pools: PoolConfig[]): string[] => pools.map((p) => p.subnet);

t.test('the default bridge gets 172.17.0.0/16, user networks 172.18 onwards', async (t) => {
  const ipam = new Ipam();
  const bridge = ipam.allocateNetwork(request('bridge', { pick: 'first' }));
  t.same(bridge, [{ family: 4, subnet: '172.17.0.0/16', gatewayExplicit: false, auxAddresses: {}, auto: true, gateway: '172.17.0.1' }]);
  t.same(ipam.getCursor(), {}, 'the default bridge does not move the cursor');
  t.same(subnets(ipam.allocateNetwork(request('n1'))), ['172.18.0.0/16']);
  t.same(subnets(ipam.allocateNetwork(request('n2'))), ['172.19.0.0/16']);
  t.same(ipam.getCursor(), { v4: '172.19.0.0/16' });
  t.same(ipam.pools('n2')[0], { family: 4, subnet: '172.19.0.0/16', gatewayExplicit: false, auxAddresses: {}, auto: true, gateway: '172.19.0.1' });
});

t.test('freed subnets are reused only after wrapping around', async (t) => {
  const ipam = new Ipam({ defaultPools: [{ base: '10.0.0.0/22', size: 24 }] });
  t.same(subnets(ipam.allocateNetwork(request('a'))), ['10.0.0.0/24']);
  t.same(subnets(ipam.allocateNetwork(request('b'))), ['10.0.1.0/24']);
  ipam.releaseNetwork('a');
  t.same(subnets(ipam.allocateNetwork(request('c'))), ['10.0.2.0/24'], 'not the freed 10.0.0.0/24');
  ipam.releaseNetwork('b');
  t.same(subnets(ipam.allocateNetwork(request('d'))), ['10.0.3.0/24']);
  t.same(subnets(ipam.allocateNetwork(request('e'))), ['10.0.0.0/24'], 'wrapped: the oldest freed one');
  t.same(subnets(ipam.allocateNetwork(request('f'))), ['10.0.1.0/24']);
  t.equal(
    cnmErrorOf(() => ipam.allocateNetwork(request('g'))),
    expected('unavailable', 'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network'),
  );
  t.same(ipam.getCursor(), { v4: '10.0.1.0/24' }, 'a failed create leaves the cursor');
});

t.test('a refused create burns no pool; an aborted create gives its pool back', async (t) => {
  const ipam = new Ipam();
  ipam.allocateNetwork(request('bridge', { pick: 'first' }));
  ipam.allocateNetwork(request('n1'));
  t.match(cnmErrorOf(() => ipam.allocateNetwork(request('bad', { configs: [{ subnet: '10.0.0.0/24', gateway: '10.9.9.9' }] }))), /^invalid:/);
  t.match(cnmErrorOf(() => ipam.allocateNetwork(request('bad', { enableIPv6: true }))), /^invalid:/, 'the IPv6 side fails after the IPv4 side was chosen');
  t.same(ipam.getCursor(), { v4: '172.18.0.0/16' });
  t.same(subnets(ipam.allocateNetwork(request('failing'))), ['172.19.0.0/16']);
  ipam.abortNetwork('failing'); // the driver could not create it
  t.same(ipam.getCursor(), { v4: '172.18.0.0/16' });
  t.same(subnets(ipam.allocateNetwork(request('n2'))), ['172.19.0.0/16'], 'the same subnet again');

  // When another create handed out a subnet meanwhile, the cursor stays where it is.
  ipam.allocateNetwork(request('slow')); // 172.20
  ipam.allocateNetwork(request('fast')); // 172.21
  ipam.abortNetwork('slow');
  t.same(ipam.getCursor(), { v4: '172.21.0.0/16' });
  t.same(subnets(ipam.allocateNetwork(request('n3'))), ['172.22.0.0/16']);
  ipam.abortNetwork('unknown'); // harmless
  t.equal(cnmErrorOf(() => ipam.pools('slow')), expected('notFound', 'IPAM has no pools for network slow'));
});

t.test('automatic pools avoid the host routes and addresses given as exclude', async (t) => {
  const ipam = new Ipam();
  const exclude = ['0.0.0.0/0', '172.17.0.0/16', '172.18.5.0/24', '172.19.3.4/16', '172.20.0.9', 'fe80::/64'];
  t.same(subnets(ipam.allocateNetwork(request('n', { exclude }))), ['172.21.0.0/16']);
  t.equal(
    cnmErrorOf(() => ipam.allocateNetwork(request('m', { exclude: ['not-a-route'] }))),
    expected('internal', 'IPAM exclude entry is neither a prefix nor an address: not-a-route'),
  );
});

t.test('user subnets: canonical, validated, never overlapping another network', async (t) => {
  const ipam = new Ipam();
  ipam.allocateNetwork(request('bridge', { pick: 'first' }));
  const pools = ipam.allocateNetwork(request('u', { configs: [{ subnet: '172.18.0.0/16' }], exclude: ['172.18.0.0/16'] }));
  t.same(pools, [{ family: 4, subnet: '172.18.0.0/16', gatewayExplicit: false, auxAddresses: {}, auto: false, gateway: '172.18.0.1' }], 'exclude does not apply to user subnets (macvlan on the LAN)');
  t.same(ipam.getCursor(), {}, 'user subnets do not move the cursor');
  t.same(subnets(ipam.allocateNetwork(request('auto'))), ['172.19.0.0/16'], 'automatic pools skip user subnets');

  const fails = (configs: NetworkRequest['configs'], kind: 'invalid' | 'forbidden', message: string): void => {
    t.equal(cnmErrorOf(() => ipam.allocateNetwork(request('x', { configs, enableIPv6: true }))), expected(kind, message), message);
  };
  const overlap = 'Pool overlaps with other one on this address space';
  fails([{ subnet: '172.18.5.0/24' }], 'forbidden', overlap);
  fails([{ subnet: '172.0.0.0/8' }], 'forbidden', overlap);
  fails([{ subnet: '10.1.0.0/16' }, { subnet: '10.1.2.0/24' }], 'forbidden', overlap);
  fails([{ subnet: '10.20.0.300/24' }], 'invalid', 'Invalid subnet 10.20.0.300/24 : invalid CIDR address: 10.20.0.300/24');
  fails([{ subnet: 'fd00::zz/64' }], 'invalid', 'Invalid subnet fd00::zz/64 : invalid CIDR address: fd00::zz/64');
  fails([{ subnet: '10.0.0.5/24' }], 'invalid', 'Invalid subnet 10.0.0.5/24 : it should be 10.0.0.0/24');
  fails([{ subnet: '10.0.0.0/24', ipRange: '10.21.0.0/25' }], 'invalid', 'no matching subnet for range 10.21.0.0/25');
  fails([{ subnet: '10.0.0.0/24', ipRange: '10.0.0.0/23' }], 'invalid', 'no matching subnet for range 10.0.0.0/23');
  fails([{ subnet: '10.0.0.0/24', ipRange: '10.0.0.130/25' }], 'invalid', 'Invalid ip-range 10.0.0.130/25 : it should be 10.0.0.128/25');
  fails([{ subnet: '10.0.0.0/24', ipRange: 'nope' }], 'invalid', 'Invalid ip-range nope : invalid CIDR address: nope');
  fails([{ subnet: '10.0.0.0/24', gateway: '10.30.0.1' }], 'invalid', 'no matching subnet for gateway 10.30.0.1');
  fails([{ subnet: '10.0.0.0/24', gateway: 'fd00::1' }], 'invalid', 'no matching subnet for gateway fd00::1');
  fails([{ subnet: '10.0.0.0/24', gateway: 'notanip' }], 'invalid', 'Invalid gateway notanip : invalid IP address: notanip');
  fails([{ subnet: '10.0.0.0/24', gateway: '10.0.0.0' }], 'invalid', 'Invalid gateway 10.0.0.0 : it is the network address of 10.0.0.0/24');
  fails([{ subnet: '10.0.0.0/24', gateway: '10.0.0.255' }], 'invalid', 'Invalid gateway 10.0.0.255 : it is the broadcast address of 10.0.0.0/24');
  fails([{ subnet: '10.0.0.0/24', auxAddresses: { a: '10.1.0.5' } }], 'invalid', 'no matching subnet for aux-address 10.1.0.5');
  fails([{ subnet: '10.0.0.0/24', auxAddresses: { a: 'x' } }], 'invalid', 'Invalid aux-address a=x : invalid IP address: x');
  fails([{ subnet: '10.0.0.0/24', auxAddresses: { a: '10.0.0.255' } }], 'invalid', 'Invalid aux-address a=10.0.0.255 : it is the broadcast address of 10.0.0.0/24');
  fails([{ subnet: '10.0.0.0/24', gateway: '10.0.0.1', auxAddresses: { a: '10.0.0.1' } }], 'invalid', 'Invalid aux-address a=10.0.0.1 : it is the gateway');
  fails([{ subnet: '10.0.0.0/24', auxAddresses: { a: '10.0.0.5', b: '10.0.0.5' } }], 'invalid', 'Invalid aux-address b=10.0.0.5 : already reserved as aux-address a');
  fails([{ gateway: '10.0.0.1' }], 'invalid', 'every ip-range or gateway must have a corresponding subnet');
  fails([{ ipRange: '10.0.0.0/25' }], 'invalid', 'every ip-range or gateway must have a corresponding subnet');
  fails([{ auxAddresses: { a: '10.0.0.5' } }], 'invalid', 'every ip-range or gateway must have a corresponding subnet');
  fails([{}], 'invalid', 'an IPAM config entry needs a subnet (leave the IPAM config empty for an automatic one)');
  t.throws(() => ipam.pools('x'), 'nothing was kept of the refused requests');
  t.equal(cnmErrorOf(() => ipam.allocateNetwork(request('u'))), expected('conflict', 'IPAM already has pools for network u'));
});

t.test('gateway, ip-range and aux addresses in the pool config', async (t) => {
  const ipam = new Ipam();
  t.same(ipam.allocateNetwork(request('a', { configs: [{ subnet: '10.10.0.0/24', gateway: '10.10.0.254', ipRange: '10.10.0.128/25', auxAddresses: { host: '10.10.0.5' } }] })), [
    { family: 4, subnet: '10.10.0.0/24', ipRange: '10.10.0.128/25', gatewayExplicit: true, auxAddresses: { host: '10.10.0.5' }, auto: false, gateway: '10.10.0.254' },
  ]);
  t.equal(ipam.pools('a')[0]!.gateway, '10.10.0.254');
  const b = ipam.allocateNetwork(request('b', { configs: [{ subnet: '10.11.0.0/24', ipRange: '10.11.0.128/25' }] }));
  t.equal(b[0]!.gateway, '10.11.0.1', 'the default gateway is the first host address, not the start of the range');
  const c = ipam.allocateNetwork(request('c', { configs: [{ subnet: '10.12.0.0/24', auxAddresses: { router: '10.12.0.1' } }] }));
  t.equal(c[0]!.gateway, '10.12.0.2', 'an aux address at .1 moves the default gateway');
  const d = ipam.allocateNetwork(request('d', { configs: [{ subnet: '10.13.0.0/24' }], reserveGateway: false }));
  t.equal(d[0]!.gateway, undefined, 'a driver that needs no gateway gets none');
  t.equal(ipam.requestAddress('d', 4), '10.13.0.1', 'and .1 goes to an endpoint');
  const e = ipam.allocateNetwork(request('e', { configs: [{ subnet: '10.14.0.0/24', gateway: '10.14.0.9' }], reserveGateway: false }));
  t.equal(e[0]!.gateway, '10.14.0.9', 'an explicit gateway is kept and reserved anyway');
  const f = ipam.allocateNetwork(request('f', { reserveGateway: false }));
  t.same(f, [{ family: 4, subnet: '172.17.0.0/16', gatewayExplicit: false, auxAddresses: {}, auto: true }]);
  const copy = ipam.pools('a');
  copy[0]!.auxAddresses['x'] = '10.10.0.6';
  t.same(ipam.pools('a')[0]!.auxAddresses, { host: '10.10.0.5' }, 'pools() returns copies');
});

t.test('point-to-point and single-address subnets keep every address', async (t) => {
  const ipam = new Ipam();
  ipam.allocateNetwork(request('p2p', { configs: [{ subnet: '10.0.0.0/31' }] }));
  t.equal(ipam.pools('p2p')[0]!.gateway, '10.0.0.0');
  t.equal(ipam.requestAddress('p2p', 4), '10.0.0.1');
  ipam.allocateNetwork(request('one', { configs: [{ subnet: '10.0.1.7/32' }], reserveGateway: false }));
  t.equal(ipam.requestAddress('one', 4), '10.0.1.7');
  t.equal(
    cnmErrorOf(() => ipam.allocateNetwork(request('none', { configs: [{ subnet: '10.0.2.7/32', auxAddresses: { a: '10.0.2.7' } }] }))),
    expected('invalid', 'no address left for a gateway in subnet 10.0.2.7/32; use a larger subnet'),
  );
});

t.test('subnets no sandbox could use are refused, whatever their size', async (t) => {
  const ipam = new Ipam();
  const refused = (subnet: string, message: RegExp, extra: Partial<NetworkRequest> = {}): void => {
    let err: unknown;
    try {
      ipam.allocateNetwork(request(`x-${subnet}`, { configs: [{ subnet }], enableIPv6: true, ...extra }));
    } catch (e) {
      err = e;
    }
    t.match(err, { kind: 'invalid', message }, `${subnet}: ${(err as Error | undefined)?.message}`);
  };
  refused('127.0.0.0/8', /^Invalid subnet 127\.0\.0\.0\/8 : it is in the loopback range 127\.0\.0\.0\/8, .*use a private range/);
  refused('127.5.0.0/16', /is in the loopback range/);
  refused('0.0.0.0/1', /overlaps the "this network" range/);
  refused('224.0.0.0/4', /is in the multicast range 224\.0\.0\.0\/4/);
  refused('239.1.0.0/16', /multicast/);
  refused('169.254.0.0/16', /is in the link-local range 169\.254\.0\.0\/16/);
  refused('169.0.0.0/8', /overlaps the link-local range/);
  refused('0.0.0.0/0', /^Invalid subnet 0\.0\.0\.0\/0 : it covers every address/);
  refused('::/0', /^Invalid subnet ::\/0 : it covers every address/);
  refused('ff00::/8', /is in the multicast range ff00::\/8/);
  refused('ff02::/16', /multicast/);
  refused('fe80::/64', /is in the link-local range fe80::\/10/);
  refused('::1/128', /loopback address ::1/);
  refused('::ffff:0:0/96', /IPv4-mapped/);
  // Too small for the driver: a gateway leaves nothing; without one a single address is fine.
  refused('10.1.0.7/32', /^Invalid subnet 10\.1\.0\.7\/32 : no address is left for a container after the gateway; use a larger subnet/);
  refused('fd00::7/128', /no address is left for a container after the gateway/);
  refused('10.2.0.0/30', /no address is left for a container after the gateway and the aux addresses/, { configs: [{ subnet: '10.2.0.0/30', auxAddresses: { a: '10.2.0.2' } }] });
  refused('10.3.0.0/24', /^Invalid ip-range 10\.3\.0\.1\/32 : no address is left for a container after the gateway/, { configs: [{ subnet: '10.3.0.0/24', ipRange: '10.3.0.1/32' }] });
  t.throws(() => ipam.pools('x-127.0.0.0/8'), 'nothing kept of a refused request');
  t.equal(ipam.allocateNetwork(request('p30', { configs: [{ subnet: '10.4.0.0/30' }] }))[0]!.gateway, '10.4.0.1', 'a /30 leaves one address after the gateway');
  t.equal(ipam.requestAddress('p30', 4), '10.4.0.2');
  ipam.allocateNetwork(request('single', { configs: [{ subnet: '10.5.0.7/32' }], reserveGateway: false }));
  t.equal(ipam.requestAddress('single', 4), '10.5.0.7', 'without a gateway a /32 keeps its address');
  t.same(subnets(ipam.allocateNetwork(request('ok', { configs: [{ subnet: '192.168.77.0/24' }, { subnet: 'fd00:77::/64' }], enableIPv6: true }))), ['192.168.77.0/24', 'fd00:77::/64'], 'private ranges are fine');
});

t.test('IPv6', async (t) => {
  const ipam = new Ipam();
  const pools = ipam.allocateNetwork(request('v6', { enableIPv6: true, configs: [{ subnet: 'FD00:DEAD:BEEF::/64' }] }));
  t.same(pools, [
    { family: 4, subnet: '172.17.0.0/16', gatewayExplicit: false, auxAddresses: {}, auto: true, gateway: '172.17.0.1' },
    { family: 6, subnet: 'fd00:dead:beef::/64', gatewayExplicit: false, auxAddresses: {}, auto: false, gateway: 'fd00:dead:beef::1' },
  ], 'the IPv4 side gets an automatic pool; IPv4 pools come first');
  t.equal(ipam.requestAddress('v6', 6), 'fd00:dead:beef::2');
  t.equal(ipam.requestAddress('v6', 4), '172.17.0.2');
  const both = ipam.allocateNetwork(request('both', { enableIPv6: true, configs: [{ subnet: 'fd01::/64', gateway: 'fd01::fe' }, { subnet: '10.5.0.0/24' }] }));
  t.same(subnets(both), ['10.5.0.0/24', 'fd01::/64']);
  t.equal(both[1]!.gateway, 'fd01::fe');
  t.equal(
    cnmErrorOf(() => ipam.allocateNetwork(request('x', { configs: [{ subnet: 'fd02::/64' }] }))),
    expected('invalid', 'IPv6 subnet fd02::/64 needs IPv6 enabled on the network (--ipv6)'),
  );
  t.equal(
    cnmErrorOf(() => ipam.allocateNetwork(request('x', { enableIPv6: true }))),
    expected('invalid', 'could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network'),
  );
  t.equal(cnmErrorOf(() => ipam.allocateNetwork(request('x', { enableIPv6: true, configs: [{ subnet: 'fd00:dead:beef:0:1::/80' }] }))), expected('forbidden', 'Pool overlaps with other one on this address space'));
  t.equal(cnmErrorOf(() => ipam.allocateNetwork(request('x', { enableIPv6: true, configs: [{ subnet: 'fd03::1/64' }] }))), expected('invalid', 'Invalid subnet fd03::1/64 : it should be fd03::/64'));
});

t.test('configured default pools replace the defaults, IPv6 ones included', async (t) => {
  const ipam = new Ipam({ defaultPools: [{ base: '10.99.0.0/16', size: 24 }, { base: 'fd10::/48', size: 64 }] });
  const pools = ipam.allocateNetwork(request('a', { enableIPv6: true }));
  t.same(subnets(pools), ['10.99.0.0/24', 'fd10::/64']);
  t.same(pools.map((p) => [p.gateway, p.auto]), [['10.99.0.1', true], ['fd10::1', true]]);
  t.same(subnets(ipam.allocateNetwork(request('b', { enableIPv6: true }))), ['10.99.1.0/24', 'fd10:0:0:1::/64']);
  t.same(subnets(ipam.allocateNetwork(request('c'))), ['10.99.2.0/24'], 'no IPv6 pool without --ipv6');
  t.same(ipam.getCursor(), { v4: '10.99.2.0/24', v6: 'fd10:0:0:1::/64' });
  const v6only = new Ipam({ defaultPools: [{ base: 'fd10::/48', size: 64 }] });
  t.equal(
    cnmErrorOf(() => v6only.allocateNetwork(request('a'))),
    expected('unavailable', 'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network'),
  );
  t.throws(() => new Ipam({ defaultPools: [{ base: '10.0.0.0/16', size: 8 }] }), /size must be between 16 and 32/);
});

t.test('state is derivable: restore networks and cursor, then carry on identically', async (t) => {
  const before = new Ipam();
  before.allocateNetwork(request('bridge', { pick: 'first' }));
  before.allocateNetwork(request('a'));
  before.allocateNetwork(request('b', { enableIPv6: true, configs: [{ subnet: '10.0.0.0/24', ipRange: '10.0.0.16/28', auxAddresses: { x: '10.0.0.17' } }, { subnet: 'fd00::/64' }] }));
  before.releaseNetwork('a');
  const used = [before.requestAddress('b', 4), before.requestAddress('b', 4, '10.0.0.200'), before.requestAddress('b', 6)];
  t.same(used, ['10.0.0.16', '10.0.0.200', 'fd00::2']);

  const after = new Ipam();
  after.setCursor(before.getCursor());
  after.restoreNetwork({ networkId: 'bridge', pools: before.pools('bridge'), usedAddresses: ['172.17.0.2/16'] });
  after.restoreNetwork({ networkId: 'b', networkName: 'net-b', pools: before.pools('b'), usedAddresses: [...used.map((a) => (a.includes(':') ? `${a}/64` : `${a}/24`)), '192.0.2.1'] });
  before.requestAddress('bridge', 4, '172.17.0.2');

  for (const ipam of [before, after]) {
    t.equal(ipam.requestAddress('b', 4), '10.0.0.18', 'skips the used .16 and the aux .17');
    t.equal(ipam.requestAddress('b', 6), 'fd00::3');
    t.equal(ipam.requestAddress('bridge', 4), '172.17.0.3');
    t.equal(cnmErrorOf(() => ipam.requestAddress('b', 4, '10.0.0.200')), expected('forbidden', 'Address already in use'));
    t.same(subnets(ipam.allocateNetwork(request('c'))), ['172.19.0.0/16'], 'the cursor survived: 172.18 is not reused yet');
    t.equal(cnmErrorOf(() => ipam.allocateNetwork(request('d', { configs: [{ subnet: '10.0.0.128/25' }] }))), expected('forbidden', 'Pool overlaps with other one on this address space'));
  }
  after.setCursor({});
  t.same(after.getCursor(), {});
});

t.test('pickAuxAddresses: IPAM picks the highest free address and reserves it like an aux address', async (t) => {
  const ipam = new Ipam();
  const [pool] = ipam.allocateNetwork(request('mv', { configs: [{ subnet: '192.168.50.0/24', gateway: '192.168.50.1' }], pickAuxAddresses: ['host_access'] }));
  t.same(pool!.auxAddresses, { host_access: '192.168.50.254' }, '.254: not the broadcast address, far from where endpoints start');
  t.equal(cnmErrorOf(() => ipam.requestAddress('mv', 4, '192.168.50.254')), expected('forbidden', 'Address already in use'), 'no endpoint gets it, not even by --ip');
  t.same(ipam.pools('mv')[0]!.auxAddresses, { host_access: '192.168.50.254' }, 'kept with the pools (stored, restored, shown)');

  const [skips] = ipam.allocateNetwork(
    request('mv2', { configs: [{ subnet: '10.9.0.0/24', gateway: '10.9.0.254', auxAddresses: { router2: '10.9.0.253' } }], pickAuxAddresses: ['host_access'] }),
  );
  t.same(skips!.auxAddresses, { router2: '10.9.0.253', host_access: '10.9.0.252' }, 'the gateway and other aux addresses are skipped');

  const [given] = ipam.allocateNetwork(
    request('mv3', { configs: [{ subnet: '10.8.0.0/24', auxAddresses: { host_access: '10.8.0.7' } }], pickAuxAddresses: ['host_access'] }),
  );
  t.same(given!.auxAddresses, { host_access: '10.8.0.7' }, "the user's --aux-address wins");

  const both = ipam.allocateNetwork(
    request('mv6', { configs: [{ subnet: '10.7.0.0/24' }, { subnet: 'fd00:7::/64' }], enableIPv6: true, pickAuxAddresses: ['host_access'] }),
  );
  t.same(
    both.map((p) => p.auxAddresses.host_access),
    ['10.7.0.254', 'fd00:7::ffff:ffff:ffff:ffff'],
    'one per subnet, IPv6 too',
  );
  const [auto] = ipam.allocateNetwork(request('mvauto', { pickAuxAddresses: ['host_access'] }));
  t.same(auto!.auxAddresses, { host_access: '172.17.255.254' }, 'an automatic pool too');

  t.equal(
    cnmErrorOf(() => ipam.allocateNetwork(request('tiny', { configs: [{ subnet: '10.6.0.0/30', gateway: '10.6.0.1', auxAddresses: { x: '10.6.0.2' } }], pickAuxAddresses: ['host_access'] }))),
    expected('invalid', 'Invalid subnet 10.6.0.0/30 : no address is left for a container after the gateway and the aux addresses; use a larger subnet (a /30 or shorter prefix for IPv4 on a network with a gateway)'),
  );
  t.throws(() => ipam.pools('tiny'), 'a refused create leaves nothing');
  t.equal(
    cnmErrorOf(() => ipam.allocateNetwork(request('last', { configs: [{ subnet: '10.6.0.4/30', gateway: '10.6.0.5' }], pickAuxAddresses: ['host_access'] }))),
    expected('invalid', 'Invalid subnet 10.6.0.4/30 : no address is left for a container after the gateway and the aux addresses; use a larger subnet (a /30 or shorter prefix for IPv4 on a network with a gateway)'),
    'the picked address would have been the last one for a sandbox',
  );
  t.throws(() => ipam.pools('last'), 'a refused create leaves nothing');
});

t.test('family: pools of one family only, as the Docker IPAM plugin protocol asks', async (t) => {
  const ipam = new Ipam();
  const v6 = ipam.allocateNetwork(request('p6', { configs: [{ subnet: 'fd00:77::/64' }], enableIPv6: true, family: 6, reserveGateway: false }));
  t.same(subnets(v6), ['fd00:77::/64'], 'no automatic IPv4 pool beside it');
  t.same(ipam.getCursor(), {}, 'no IPv4 subnet taken');
  t.equal(ipam.requestAddress('p6', 6), 'fd00:77::1', 'the lowest address (no gateway reserved)');
  t.equal(
    cnmErrorOf(() => ipam.allocateNetwork(request('p6b', { enableIPv6: true, family: 6 }))),
    expected('invalid', 'could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network'),
    'an automatic IPv6 pool needs IPv6 default pools',
  );
  t.same(subnets(ipam.allocateNetwork(request('p4', { family: 4 }))), ['172.17.0.0/16'], 'family 4: the IPv4 pool alone');
});
