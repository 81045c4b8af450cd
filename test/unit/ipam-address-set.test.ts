import t from 'tap';
import { AddressSet } from '../../src/ipam/address-set';
import { AddressPool, lowestFreeAddress, specialRole } from '../../src/ipam/address-pool';
import { formatIp, mustParseCidr, mustParseIp } from '../../src/ipam/cidr';
import type { PoolConfig } from '../../src/ipam/types';
import { mulberry32 } from './ipam-helpers';

/** The obvious O(n) answer the binary search must agree with. */
function naiveLowestFree(members: Set<bigint>, first: bigint, last: bigint): bigint | undefined {
  for (let v = first; v <= last; v++) if (!members.has(v)) return v;
  return undefined;
}

t.test('lowest free: empty, full, gaps, interval bounds', async (t) => {
  const s = new AddressSet(100n);
  t.equal(s.lowestFree(100n, 103n), 100n);
  for (const v of [100n, 101n, 103n]) t.ok(s.add(v));
  t.notOk(s.add(101n), 'a second add reports the duplicate');
  t.equal(s.size, 3);
  t.equal(s.lowestFree(100n, 103n), 102n);
  t.equal(s.lowestFree(103n, 110n), 104n);
  t.ok(s.add(102n));
  t.equal(s.lowestFree(100n, 103n), undefined, 'full interval');
  t.ok(s.delete(100n));
  t.notOk(s.delete(100n), 'a second delete reports the absence');
  t.equal(s.lowestFree(100n, 103n), 100n);
  t.ok(s.has(101n));
  t.notOk(s.has(100n));
});

t.test('offsets past 2^53 (far IPv6 addresses) work like near ones', async (t) => {
  const base = mustParseIp('fd00::').value;
  const s = new AddressSet(base);
  const far = base + 2n ** 60n;
  t.ok(s.add(far));
  t.ok(s.add(far + 1n));
  t.ok(s.has(far));
  t.equal(s.lowestFree(far, far + 10n), far + 2n);
  t.equal(s.lowestFree(base, base + 2n ** 64n - 1n), base, 'near part still free');
  // A search that starts near and runs past the near limit continues in the far part.
  const nearEnd = base + 2n ** 53n - 2n;
  s.add(nearEnd);
  s.add(nearEnd + 1n);
  s.add(base + 2n ** 53n);
  t.equal(s.lowestFree(nearEnd, base + 2n ** 64n - 1n), base + 2n ** 53n + 1n);
  t.ok(s.delete(far));
  t.equal(s.lowestFree(far, far + 10n), far);
});

t.test('random add/delete agrees with a naive model', async (t) => {
  const seed = 20240601;
  const random = mulberry32(seed);
  const s = new AddressSet(0n);
  const model = new Set<bigint>();
  for (let step = 0; step < 20000; step++) {
    const v = BigInt(Math.floor(random() * 600));
    const adding = random() < 0.6;
    const changed = adding ? s.add(v) : s.delete(v);
    if (changed !== (adding ? !model.has(v) : model.has(v))) {
      t.fail(`${adding ? 'add' : 'delete'}(${v}) reported ${changed}, seed ${seed} step ${step}`);
      return;
    }
    if (adding) model.add(v);
    else model.delete(v);
    const first = BigInt(Math.floor(random() * 500));
    const last = first + BigInt(Math.floor(random() * 100));
    if (s.lowestFree(first, last) !== naiveLowestFree(model, first, last)) {
      t.fail(`lowestFree(${first}, ${last}) differs, seed ${seed} step ${step}`);
      return;
    }
  }
  t.equal(s.size, model.size, `20000 random steps agree with the model (seed ${seed})`);
});

const pool = (overrides: Partial<PoolConfig> = {}): PoolConfig => ({
  family: 4,
  subnet: '10.0.0.0/24',
  gatewayExplicit: false,
  auxAddresses: {},
  auto: false,
  ...overrides,
});

t.test('special addresses per family and size', async (t) => {
  const v4 = mustParseCidr('10.0.0.0/24');
  t.equal(specialRole(v4, mustParseIp('10.0.0.0').value), 'network address');
  t.equal(specialRole(v4, mustParseIp('10.0.0.255').value), 'broadcast address');
  t.equal(specialRole(v4, mustParseIp('10.0.0.1').value), undefined);
  t.equal(specialRole(mustParseCidr('10.0.0.0/31'), mustParseIp('10.0.0.0').value), undefined, '/31 is point-to-point');
  t.equal(specialRole(mustParseCidr('10.0.0.7/32'), mustParseIp('10.0.0.7').value), undefined);
  const v6 = mustParseCidr('fd00::/64');
  t.equal(specialRole(v6, mustParseIp('fd00::').value), 'network address', 'subnet-router anycast');
  t.equal(specialRole(v6, mustParseIp('fd00::ffff:ffff:ffff:ffff').value), undefined, 'IPv6 has no broadcast');
});

t.test('a pool hands out the lowest free address of its range, skipping reserved ones', async (t) => {
  const p = new AddressPool(pool({ gateway: '10.0.0.1', auxAddresses: { a: '10.0.0.2', b: '10.0.0.4' } }));
  const take = (): string | undefined => {
    const ip = p.takeLowestFree();
    return ip && formatIp(ip);
  };
  t.equal(take(), '10.0.0.3');
  t.equal(take(), '10.0.0.5');
  t.notOk(p.release(mustParseIp('10.0.0.1')), 'the gateway cannot be released');
  t.notOk(p.release(mustParseIp('10.0.0.0')), 'the network address cannot be released');
  t.ok(p.release(mustParseIp('10.0.0.3')));
  t.equal(take(), '10.0.0.3', 'a released address is reused at once');
  t.equal(p.take(mustParseIp('10.0.0.200')), 'taken');
  t.equal(p.take(mustParseIp('10.0.0.200')), 'in use');
  t.equal(p.take(mustParseIp('10.0.1.1')), 'outside');

  const ranged = new AddressPool(pool({ ipRange: '10.0.0.252/30', gateway: '10.0.0.1' }));
  t.equal(ranged.takeLowestFree()?.value, mustParseIp('10.0.0.252').value);
  t.equal(ranged.takeLowestFree()?.value, mustParseIp('10.0.0.253').value);
  t.equal(ranged.takeLowestFree()?.value, mustParseIp('10.0.0.254').value);
  t.equal(ranged.takeLowestFree(), undefined, '.255 is the broadcast address: the range is exhausted');
});

t.test('lowestFreeAddress: the pure function for other allocators', async (t) => {
  const config = pool({ gateway: '10.0.0.1', ipRange: '10.0.0.128/25' });
  t.equal(lowestFreeAddress(config, []), '10.0.0.128');
  t.equal(lowestFreeAddress(config, ['10.0.0.128', '10.0.0.129/24', '10.0.0.131']), '10.0.0.130');
  t.equal(lowestFreeAddress(pool({ subnet: '10.0.0.0/30', gateway: '10.0.0.1' }), ['10.0.0.2']), undefined);
  const v6 = pool({ family: 6, subnet: 'fd00::/64', gateway: 'fd00::1' });
  t.equal(lowestFreeAddress(v6, ['fd00::2', 'fd00::3']), 'fd00::4');
});
