/** The cluster store's pure parts: flag parsing, key layout, network and address decisions. */
import t from 'tap';
import type { NetworkRecord } from '../../src/controller/model';
import { CnmError } from '../../src/errors';
import type { PoolConfig } from '../../src/ipam';
import { chooseAddress, planNetwork, VNI_FIRST, vniOf, VXLAN_ID_OPTION } from '../../src/store/cluster-plan';
import { addressKey, checkKeySegment, endpointKey, hostKey, networkKey, parseKey } from '../../src/store/etcd-keys';
import { parseClusterStoreUrl } from '../../src/store/etcd-url';

function pool(subnet: string, extra: Partial<PoolConfig> = {}): PoolConfig {
  return { family: subnet.includes(':') ? 6 : 4, subnet, gatewayExplicit: false, auxAddresses: {}, auto: false, ...extra };
}

function network(id: string, name: string, subnets: string[], options: Record<string, string> = {}): NetworkRecord {
  return {
    id,
    name,
    driver: 'overlay',
    scope: 'global',
    created: '2024-01-01T00:00:00.000000000Z',
    enableIPv6: subnets.some((s) => s.includes(':')),
    internal: false,
    attachable: false,
    ipamDriver: 'default',
    ipamOptions: null,
    pools: subnets.map((s) => pool(s)),
    options,
    labels: {},
    predefined: false,
  };
}

function errorOf(fn: () => unknown): CnmError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CnmError) return err;
    throw err;
  }
  throw new Error('expected a CnmError');
}

t.test('--cluster-store values', async (t) => {
  t.same(parseClusterStoreUrl('etcd://10.99.0.11:2379'), ['10.99.0.11:2379']);
  t.same(parseClusterStoreUrl('etcd://10.99.0.11:2379,10.99.0.12:2379, 10.99.0.13:2379/'), ['10.99.0.11:2379', '10.99.0.12:2379', '10.99.0.13:2379']);
  t.same(parseClusterStoreUrl('etcd://[fd00::1]:2379,etcd-1.lan:2379'), ['[fd00::1]:2379', 'etcd-1.lan:2379']);
  t.same(parseClusterStoreUrl('etcd://a:1,a:1'), ['a:1'], 'duplicates dropped');
  for (const bad of ['consul://a:8500', '10.0.0.1:2379', 'etcd://', 'etcd://a', 'etcd://a:0', 'etcd://a:70000', 'etcd://a:1,,b:2', 'etcd://a b:1']) {
    const err = errorOf(() => parseClusterStoreUrl(bad));
    t.equal(err.kind, 'invalid', bad);
  }
});

t.test('key layout round trip', async (t) => {
  t.same(parseKey(hostKey('h1')), { kind: 'host', hostId: 'h1' });
  t.same(parseKey(networkKey('n1')), { kind: 'network', networkId: 'n1' });
  t.same(parseKey(endpointKey('n1', 'e1')), { kind: 'endpoint', networkId: 'n1', endpointId: 'e1' });
  t.same(parseKey(addressKey('n1', '10.0.0.1')), { kind: 'other' });
  t.same(parseKey('guards/networks'), { kind: 'other' });
  t.same(parseKey('endpoints/n1/e1/extra'), { kind: 'other' });
  t.same(parseKey('endpoints/n1'), { kind: 'other' });
  t.throws(() => checkKeySegment('host id', 'a/b'), /cannot be part of a cluster store key/);
  t.throws(() => checkKeySegment('host id', ''), /cannot be part of a cluster store key/);
});

t.test('planNetwork: VXLAN ids, names, overlaps', async (t) => {
  const first = planNetwork(network('a', 'one', ['10.1.0.0/24']), []);
  t.equal(first.vni, VNI_FIRST);
  t.equal(first.stored.options[VXLAN_ID_OPTION], String(VNI_FIRST));
  t.equal(vniOf(first.stored), VNI_FIRST);

  const existing = [first.stored, network('b', 'two', ['10.2.0.0/24'], { [VXLAN_ID_OPTION]: '4097' })];
  t.equal(planNetwork(network('c', 'three', ['10.3.0.0/24']), existing).vni, 4098, 'lowest free id');
  t.equal(planNetwork(network('c', 'three', ['10.3.0.0/24']), [existing[1]!]).vni, 4096, 'a freed id is reused');
  t.equal(planNetwork(network('c', 'three', ['10.3.0.0/24'], { [VXLAN_ID_OPTION]: '42' }), existing).vni, 42, 'asked id');
  t.equal(planNetwork(first.stored, existing).vni, VNI_FIRST, 'the network itself does not conflict (a retried create)');

  const name = errorOf(() => planNetwork(network('c', 'two', ['10.3.0.0/24']), existing));
  t.equal(name.kind, 'conflict');
  t.equal(name.message, 'network with name two already exists');
  const overlap = errorOf(() => planNetwork(network('c', 'three', ['10.0.0.0/8']), existing));
  t.equal(overlap.kind, 'forbidden');
  t.equal(overlap.message, 'Pool overlaps with other one on this address space');
  t.equal(planNetwork(network('c', 'three', ['fd00::/64']), [network('v6', 'v6', ['fd00:1::/64'])]).vni, VNI_FIRST, 'IPv6 pools checked among IPv6');
  t.equal(errorOf(() => planNetwork(network('c', 'three', ['fd00::/48']), [network('v6', 'v6', ['fd00:0:0:1::/64'])])).kind, 'forbidden');
  const dup = errorOf(() => planNetwork(network('c', 'three', ['10.3.0.0/24'], { [VXLAN_ID_OPTION]: '4097' }), existing));
  t.equal(dup.kind, 'forbidden');
  for (const bad of ['0', '16777216', 'x', '1,2', '']) {
    const err = errorOf(() => planNetwork(network('c', 'three', ['10.3.0.0/24'], { [VXLAN_ID_OPTION]: bad }), existing));
    t.equal(err.kind, 'invalid', `vxlanid_list=${bad}`);
  }
});

t.test('chooseAddress: lowest free, preferred, exhausted', async (t) => {
  const p = pool('10.0.0.0/29');
  t.equal(chooseAddress(p, []), '10.0.0.1', 'no gateway reserved on overlay pools');
  t.equal(chooseAddress(p, ['10.0.0.1', '10.0.0.2']), '10.0.0.3');
  t.equal(chooseAddress(p, ['10.0.0.2/29']), '10.0.0.1', 'used addresses may carry a prefix length');
  t.equal(chooseAddress(pool('10.0.0.0/29', { gateway: '10.0.0.1' }), []), '10.0.0.2', 'a gateway is never handed out');
  t.equal(chooseAddress(pool('10.0.0.0/29', { auxAddresses: { x: '10.0.0.1' } }), []), '10.0.0.2', 'aux addresses are reserved');
  t.equal(chooseAddress(pool('10.0.0.0/24', { ipRange: '10.0.0.128/25' }), []), '10.0.0.128', 'from the ip-range');
  t.equal(chooseAddress(p, ['10.0.0.1'], '10.0.0.5'), '10.0.0.5');
  t.equal(chooseAddress(pool('fd00::/120'), [], 'FD00::0005'), 'fd00::5', 'canonical text');
  t.equal(chooseAddress(p, ['garbage', '192.168.0.1']), '10.0.0.1', 'foreign entries ignored');
  const inUse = errorOf(() => chooseAddress(p, ['10.0.0.5'], '10.0.0.5'));
  t.equal(inUse.kind, 'forbidden');
  t.equal(inUse.message, 'Address already in use');
  t.equal(errorOf(() => chooseAddress(p, [], '10.0.0.0')).message, 'Invalid address 10.0.0.0: it is the network address of 10.0.0.0/29', 'as the local IPAM says');
  t.equal(errorOf(() => chooseAddress(p, [], '10.0.0.7')).kind, 'invalid', 'the broadcast address');
  t.equal(errorOf(() => chooseAddress(pool('10.0.0.0/29', { gateway: '10.0.0.1' }), [], '10.0.0.1')).message, 'Address already in use', 'a reserved address');
  t.equal(errorOf(() => chooseAddress(p, [], '10.0.1.1')).kind, 'invalid');
  const full = errorOf(() => chooseAddress(p, ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6']));
  t.equal(full.kind, 'unavailable');
  t.equal(full.message, 'no available IPv4 addresses in pool 10.0.0.0/29');
});
