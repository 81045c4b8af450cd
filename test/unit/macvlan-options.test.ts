/** The macvlan driver's option parsing and the plan it derives from a network. */
import t from 'tap';
import { CnmError } from '../../src/errors';
import type { PoolConfig } from '../../src/ipam';
import {
  checkHostAccessAddress,
  hostRoutes,
  isolatedParentName,
  ownerOf,
  ownerTag,
  parentOf,
  parseMacvlanOptions,
  shimAddresses,
  shimName,
  vlanSpec,
  vlanStagingName,
} from '../../src/drivers/macvlan/options';

const ID = 'c81aa207b15288cce5a39d8e3130aaebe8b8a012b0e172cf0f664468eef67961';

function pool(subnet: string, extra: Partial<PoolConfig> = {}): PoolConfig {
  return { family: subnet.includes(':') ? 6 : 4, subnet, gatewayExplicit: false, auxAddresses: {}, auto: false, ...extra };
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

t.test('defaults: no parent, bridge mode, no host access', async (t) => {
  t.same(parseMacvlanOptions({}), { mode: 'bridge', hostAccess: false });
  t.same(parseMacvlanOptions({ parent: '', macvlan_mode: '' }), { mode: 'bridge', hostAccess: false }, "Docker: empty values mean the defaults");
});

t.test('every mode and the parent are taken as given', async (t) => {
  for (const mode of ['bridge', 'private', 'vepa', 'passthru'] as const) {
    t.same(parseMacvlanOptions({ parent: 'eth0.10', macvlan_mode: mode }), { parent: 'eth0.10', mode, hostAccess: false });
  }
});

t.test("bad mode: Docker's text", async (t) => {
  const err = errorOf(() => parseMacvlanOptions({ parent: 'eth0', macvlan_mode: 'bogus' }));
  t.equal(err.message, "requested macvlan mode 'bogus' is not valid, 'bridge' mode is the macvlan driver default");
  t.equal(err.kind, 'invalid');
});

t.test('unknown options are refused, naming them and the known ones', async (t) => {
  const err = errorOf(() => parseMacvlanOptions({ parent: 'eth0', 'com.docker.network.bridge.name': 'x' }));
  t.equal(err.message, 'unknown option "com.docker.network.bridge.name" for driver macvlan; known options: parent, macvlan_mode, host_access');
});

t.test('parent names the kernel could not take are refused', async (t) => {
  for (const bad of ['a/b', 'has space', 'x'.repeat(16), '.', '-eth0', 'eth0:1']) {
    t.match(errorOf(() => parseMacvlanOptions({ parent: bad })).message, `invalid parent interface name "${bad}"`, bad);
  }
  t.same(parseMacvlanOptions({ parent: 'x'.repeat(15) }).parent, 'x'.repeat(15));
});

t.test('host_access: a boolean, refused where the shim could not reach the sandboxes', async (t) => {
  t.equal(parseMacvlanOptions({ host_access: 'true' }).hostAccess, true);
  t.equal(parseMacvlanOptions({ host_access: '1' }).hostAccess, true);
  t.equal(parseMacvlanOptions({ host_access: 'false' }).hostAccess, false);
  t.equal(parseMacvlanOptions({ host_access: 'true', macvlan_mode: 'vepa' }).hostAccess, true);
  t.match(errorOf(() => parseMacvlanOptions({ host_access: 'yes' })).message, 'invalid value "yes" for option host_access');
  for (const mode of ['private', 'passthru']) {
    t.match(errorOf(() => parseMacvlanOptions({ host_access: 'true', macvlan_mode: mode })).message, `host_access=true needs macvlan_mode bridge or vepa: in ${mode} mode`);
  }
});

t.test('the parent: the given one, or the private one when internal or absent', async (t) => {
  const settings = parseMacvlanOptions({ parent: 'eth0.10' });
  t.equal(parentOf({ id: ID, internal: false }, settings), 'eth0.10');
  t.equal(parentOf({ id: ID, internal: true }, settings), 'dm-c81aa207b152', 'Docker ignores -o parent on --internal');
  t.equal(parentOf({ id: ID, internal: false }, parseMacvlanOptions({})), 'dm-c81aa207b152');
});

t.test('names of owned links fit IFNAMSIZ and carry the network id', async (t) => {
  for (const name of [isolatedParentName(ID), shimName(ID), vlanStagingName(ID)]) {
    t.ok(name.length <= 15, name);
    t.ok(name.endsWith(ID.slice(0, 12)), name);
  }
  t.not(isolatedParentName(ID), shimName(ID));
  t.not(shimName(ID), vlanStagingName(ID));
});

t.test('owner tags round-trip; other aliases belong to nobody', async (t) => {
  t.equal(ownerOf(ownerTag(ID)), ID);
  t.equal(ownerOf(undefined), undefined);
  t.equal(ownerOf('uplink to the switch'), undefined);
  t.equal(ownerOf(''), undefined);
});

t.test('VLAN-shaped parents', async (t) => {
  t.same(vlanSpec('eth0.10'), { base: 'eth0', vid: 10 });
  t.same(vlanSpec('bond0.4094'), { base: 'bond0', vid: 4094 });
  t.same(vlanSpec('eth0.10.20'), { base: 'eth0.10', vid: 20 }, 'QinQ: the last number is the VLAN id');
  t.equal(vlanSpec('eth0'), undefined);
  t.equal(vlanSpec('eth0.x'), undefined);
  t.equal(vlanSpec('eth0.'), undefined);
  t.match(errorOf(() => vlanSpec('eth0.0')).message, 'cannot create eth0.0: VLAN id 0 is outside 1-4094');
  t.match(errorOf(() => vlanSpec('eth0.4095')).message, 'VLAN id 4095 is outside 1-4094');
});

t.test('shim addresses: the host_access aux address of each subnet, host-sized', async (t) => {
  const pools = [
    pool('192.168.10.0/24', { auxAddresses: { host_access: '192.168.10.254', printer: '192.168.10.9' } }),
    pool('fd00:10::/64', { auxAddresses: { host_access: 'fd00:10::fe' } }),
    pool('10.1.0.0/24'),
  ];
  t.same(shimAddresses(pools), ['192.168.10.254/32', 'fd00:10::fe/128']);
  t.same(shimAddresses([pool('10.1.0.0/24')]), []);
});

t.test('host routes: one per family the shim has an address in', async (t) => {
  const shim = ['192.168.10.254/32'];
  t.same(hostRoutes({ ipv4: '192.168.10.5/24', ipv6: 'fd00:10::5/64' }, shim), [{ destination: '192.168.10.5/32', source: '192.168.10.254' }]);
  t.same(hostRoutes({ ipv4: '192.168.10.5/24', ipv6: 'fd00:10::5/64' }, [...shim, 'fd00:10::fe/128']), [
    { destination: '192.168.10.5/32', source: '192.168.10.254' },
    { destination: 'fd00:10::5/128', source: 'fd00:10::fe' },
  ]);
  t.same(hostRoutes({}, shim), []);
  t.same(hostRoutes({ ipv4: '192.168.10.5/24' }, []), []);
});

t.test('host_access without its address is refused before any kernel work', async (t) => {
  const settings = parseMacvlanOptions({ host_access: 'true' });
  const given = errorOf(() => checkHostAccessAddress({ name: 'lan', pools: [pool('192.168.10.0/24')] }, settings));
  t.equal(given.message, "host_access=true needs the host's address on network lan: add --aux-address host_access=<an address in 192.168.10.0/24> (IPAM reserves it, so no sandbox gets it)");
  const auto = errorOf(() => checkHostAccessAddress({ name: 'lan', pools: [pool('172.18.0.0/16', { auto: true })] }, settings));
  t.match(auto.message, 'host_access=<an address in the --subnet you give>');
  t.doesNotThrow(() => checkHostAccessAddress({ name: 'lan', pools: [pool('192.168.10.0/24', { auxAddresses: { host_access: '192.168.10.254' } })] }, settings));
  t.doesNotThrow(() => checkHostAccessAddress({ name: 'lan', pools: [pool('192.168.10.0/24')] }, parseMacvlanOptions({})), 'not asked for');
});
