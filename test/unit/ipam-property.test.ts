/**
 * Property tests: long random sequences checked against small, obviously-correct models, and
 * against an Ipam rebuilt from the stored data (pools, used addresses, cursor) at random points.
 */
import t from 'tap';
import { Ipam } from '../../src/ipam/ipam';
import { firstAddress, formatIp, lastAddress, mustParseCidr, sizeOf } from '../../src/ipam/cidr';
import type { PoolConfig, SubnetRequest } from '../../src/ipam/types';
import { mulberry32 } from './ipam-helpers';

interface ModelNetwork {
  id: string;
  pools: PoolConfig[];
  used: Set<string>;
}

/** The naive answer: scan the pools of the family in order, each from its range start. */
function modelLowestFree(net: ModelNetwork, family: 4 | 6): string | undefined {
  for (const pool of net.pools.filter((p) => p.family === family)) {
    const subnet = mustParseCidr(pool.subnet);
    const range = mustParseCidr(pool.ipRange ?? pool.subnet);
    const reserved = new Set([pool.gateway, ...Object.values(pool.auxAddresses)].filter(Boolean));
    for (let v = firstAddress(range); v <= lastAddress(range); v++) {
      const text = formatIp({ family, value: v });
      const special = v === firstAddress(subnet) || (family === 4 && v === lastAddress(subnet));
      if (!special && !reserved.has(text) && !net.used.has(text)) return text;
    }
  }
  return undefined;
}

const outcome = (fn: () => string): string => {
  try {
    return fn();
  } catch (err) {
    return `error: ${(err as Error).message}`;
  }
};

function rebuild(from: Ipam, nets: ModelNetwork[], fresh = (): Ipam => new Ipam()): Ipam {
  const ipam = fresh();
  ipam.setCursor(from.getCursor());
  for (const net of nets) ipam.restoreNetwork({ networkId: net.id, networkName: net.id, pools: from.pools(net.id), usedAddresses: [...net.used] });
  return ipam;
}

for (const seed of [1, 42, 20240601]) {
  t.test(`addresses: never twice, always the lowest free (seed ${seed})`, async (t) => {
    const random = mulberry32(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const configs: SubnetRequest[][] = [
      [{ subnet: '10.0.0.0/27' }],
      [{ subnet: '10.0.1.0/26', ipRange: '10.0.1.16/29', gateway: '10.0.1.17', auxAddresses: { a: '10.0.1.19', b: '10.0.1.40' } }],
      [{ subnet: '10.0.2.0/29' }, { subnet: '10.0.3.0/28', ipRange: '10.0.3.8/30' }],
      [{ subnet: 'fd00::/123' }, { subnet: '10.0.4.0/28' }],
    ];
    let ipam = new Ipam();
    const nets: ModelNetwork[] = configs.map((c, i) => {
      const id = `n${i}`;
      const pools = ipam.allocateNetwork({ networkId: id, networkName: id, configs: c, enableIPv6: c.some((x) => x.subnet?.includes(':')), reserveGateway: true });
      return { id, pools, used: new Set<string>() };
    });
    const seen = { dynamic: 0, exhausted: 0, static: 0, 'static refused': 0, release: 0, rebuild: 0 };
    let steps = 0;
    for (; steps < 6000; steps++) {
      const net = pick(nets);
      const family = pick(net.pools.map((p) => p.family));
      const roll = random();
      if (roll < 0.5) {
        const want = modelLowestFree(net, family);
        const got = outcome(() => ipam.requestAddress(net.id, family));
        if (want === undefined ? !got.startsWith('error: no available') : got !== want || net.used.has(got)) {
          t.fail(`step ${steps}: ${net.id} IPv${family} got ${got}, want ${want ?? 'exhaustion'}`);
          return;
        }
        if (want) net.used.add(want);
        seen[want ? 'dynamic' : 'exhausted']++;
      } else if (roll < 0.65) {
        const pool = pick(net.pools.filter((p) => p.family === family));
        const subnet = mustParseCidr(pool.subnet);
        const value = firstAddress(subnet) + BigInt(Math.floor(random() * Number(sizeOf(subnet))));
        const address = formatIp({ family, value });
        const got = outcome(() => ipam.requestAddress(net.id, family, address));
        const special = value === firstAddress(subnet) || (family === 4 && value === lastAddress(subnet));
        const reserved = address === pool.gateway || Object.values(pool.auxAddresses).includes(address);
        const takeable = !special && !reserved && !net.used.has(address);
        if (takeable ? got !== address : !got.startsWith('error: ')) {
          t.fail(`step ${steps}: static ${address} on ${net.id} gave ${got}, takeable=${takeable}`);
          return;
        }
        seen[takeable ? 'static' : 'static refused']++;
        if (takeable) net.used.add(address);
      } else if (roll < 0.97 && net.used.size > 0) {
        const address = pick([...net.used]);
        if (!ipam.releaseAddress(net.id, address)) {
          t.fail(`step ${steps}: release of ${address} refused`);
          return;
        }
        net.used.delete(address);
        seen.release++;
      } else {
        ipam = rebuild(ipam, nets);
        seen.rebuild++;
      }
    }
    t.equal(steps, 6000, 'every step matched the model');
    for (const [what, count] of Object.entries(seen)) t.ok(count > 0, `${what}: ${count}`);
  });
}

for (const seed of [7, 99, 31337]) {
  t.test(`subnets: next after the cursor, wrapping, never overlapping (seed ${seed})`, async (t) => {
    const random = mulberry32(seed);
    const candidates = ['10.8.0.0/24', '10.8.1.0/24', '10.8.2.0/24', '10.8.3.0/24', '10.9.0.0/25', '10.9.0.128/25'];
    const fresh = (): Ipam => new Ipam({ defaultPools: [{ base: '10.8.0.0/22', size: 24 }, { base: '10.9.0.0/24', size: 25 }] });
    let ipam = fresh();
    const live = new Map<string, string>(); // network id → subnet
    let cursor: number | undefined;
    let counter = 0;
    const seen = { auto: 0, exhausted: 0, wrapped: 0, user: 0, overlap: 0, abort: 0, release: 0, rebuild: 0 };
    const nets = (): ModelNetwork[] => [...live.keys()].map((id) => ({ id, pools: [], used: new Set() }));
    for (let step = 0; step < 3000; step++) {
      const roll = random();
      if (roll < 0.5) {
        const id = `n${counter++}`;
        // A user subnet now and then, which automatic pools must then avoid.
        const user = random() < 0.15 ? ['10.8.2.0/24', '10.9.0.0/26', '10.8.0.0/23'][Math.floor(random() * 3)] : undefined;
        const overlaps = (a: string, b: string): boolean => {
          const x = mustParseCidr(a);
          const y = mustParseCidr(b);
          return firstAddress(x) <= lastAddress(y) && firstAddress(y) <= lastAddress(x);
        };
        const got = outcome(() => ipam.allocateNetwork({ networkId: id, configs: user ? [{ subnet: user }] : [], enableIPv6: false, reserveGateway: true })[0]!.subnet);
        if (user) {
          const want = [...live.values()].some((s) => overlaps(s, user)) ? 'error: Pool overlaps with other one on this address space' : user;
          if (got !== want) return void t.fail(`step ${step}: user ${user} gave ${got}, want ${want}`);
          if (got === user) live.set(id, user);
          seen[got === user ? 'user' : 'overlap']++;
          continue;
        }
        const order = candidates.map((_, i) => (cursor === undefined ? i : (cursor + 1 + i) % candidates.length));
        const next = order.find((i) => ![...live.values()].some((s) => overlaps(s, candidates[i]!)));
        const want = next === undefined ? 'error: could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network' : candidates[next]!;
        if (got !== want) return void t.fail(`step ${step}: got ${got}, want ${want}`);
        if (next === undefined) seen.exhausted++;
        else {
          live.set(id, want);
          if (random() < 0.1) {
            ipam.abortNetwork(id); // nothing was handed out since: the cursor goes back
            live.delete(id);
            seen.abort++;
          } else {
            if (cursor !== undefined && next <= cursor) seen.wrapped++;
            cursor = next;
            seen.auto++;
          }
        }
      } else if (roll < 0.95 && live.size > 0) {
        const id = [...live.keys()][Math.floor(random() * live.size)]!;
        ipam.releaseNetwork(id);
        live.delete(id);
        seen.release++;
      } else {
        ipam = rebuild(ipam, nets(), fresh);
        seen.rebuild++;
      }
    }
    t.pass('3000 steps matched the model');
    for (const [what, count] of Object.entries(seen)) t.ok(count > 0, `${what}: ${count}`);
  });
}
