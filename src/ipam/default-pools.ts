/**
 * The default pools automatic subnets come from, and the search for the next free one.
 *
 * Pools form one ordered sequence of candidate subnets (each base split into subnets of its size).
 * The search starts after the cursor (the last subnet handed out) and wraps around at the end, so
 * a freed subnet is handed out again only once every later candidate is taken. Candidates are
 * indexed, never listed: `base=10.0.0.0/8,size=24` has 65,536 of them and an IPv6 base may have
 * 2^56; a blocked candidate jumps straight past the prefix that blocks it.
 */
import { CnmError } from '../errors';
import {
  addressBits,
  firstAddress,
  formatCidr,
  isCanonical,
  lastAddress,
  networkOf,
  parseCidr,
  type Cidr,
  type IpFamily,
} from './cidr';
import type { PoolSpec } from './types';

/** Docker's local defaults: 172.17-31 as /16s (31 subnets with the 192.168/16 /20s). */
export const DEFAULT_POOLS: readonly PoolSpec[] = [
  { base: '172.17.0.0/16', size: 16 },
  { base: '172.18.0.0/16', size: 16 },
  { base: '172.19.0.0/16', size: 16 },
  { base: '172.20.0.0/14', size: 16 },
  { base: '172.24.0.0/14', size: 16 },
  { base: '172.28.0.0/14', size: 16 },
  { base: '192.168.0.0/16', size: 20 },
];

export interface SplitPool {
  readonly family: IpFamily;
  readonly first: bigint;
  readonly size: number;
  /** Addresses per candidate subnet. */
  readonly step: bigint;
  readonly count: bigint;
}

/** An inclusive address interval; blockers are kept sorted and merged. */
export interface Interval {
  readonly first: bigint;
  readonly last: bigint;
}

export function compilePoolSpec(spec: PoolSpec): SplitPool {
  const base = parseCidr(spec.base);
  const where = `invalid default address pool base=${spec.base},size=${spec.size}`;
  if (!base) throw new CnmError('invalid', `${where}: base is not a CIDR prefix`);
  if (!isCanonical(base)) {
    throw new CnmError('invalid', `${where}: base has host bits set, it should be ${formatCidr(networkOf(base))}`);
  }
  const maxBits = addressBits(base.family);
  if (!Number.isInteger(spec.size) || spec.size < base.bits || spec.size > maxBits) {
    throw new CnmError('invalid', `${where}: size must be between ${base.bits} and ${maxBits}`);
  }
  const step = 1n << BigInt(maxBits - spec.size);
  return {
    family: base.family,
    first: firstAddress(base),
    size: spec.size,
    step,
    count: (lastAddress(base) - firstAddress(base) + 1n) / step,
  };
}

/** Sorts and merges prefixes into disjoint intervals; `/0` prefixes (default routes) are ignored. */
export function mergeBlockers(prefixes: Iterable<Cidr>): Interval[] {
  const intervals = [...prefixes]
    .filter((p) => p.bits > 0)
    .map((p) => ({ first: firstAddress(p), last: lastAddress(p) }))
    .sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const merged: Interval[] = [];
  for (const interval of intervals) {
    const previous = merged[merged.length - 1];
    if (previous && interval.first <= previous.last + 1n) {
      if (interval.last > previous.last) merged[merged.length - 1] = { first: previous.first, last: interval.last };
    } else {
      merged.push(interval);
    }
  }
  return merged;
}

/**
 * The first free candidate after `after` (wrapping around, `after` itself last), or from the
 * start when `after` is undefined or no longer a candidate (the pools were reconfigured).
 */
export function findFreeSubnet(pools: readonly SplitPool[], blockers: readonly Interval[], after?: Cidr): Cidr | undefined {
  const position = after ? locate(pools, after) : undefined;
  const segments: Array<[poolIndex: number, from: bigint, to: bigint]> = [];
  if (position) {
    const [p, j] = position;
    segments.push([p, j + 1n, pools[p]!.count - 1n]);
    for (let i = p + 1; i < pools.length; i++) segments.push([i, 0n, pools[i]!.count - 1n]);
    for (let i = 0; i < p; i++) segments.push([i, 0n, pools[i]!.count - 1n]);
    segments.push([p, 0n, j]);
  } else {
    pools.forEach((pool, i) => segments.push([i, 0n, pool.count - 1n]));
  }
  for (const [p, from, to] of segments) {
    const pool = pools[p]!;
    const index = firstFreeIndex(pool, blockers, from, to);
    if (index !== undefined) return { family: pool.family, address: pool.first + index * pool.step, bits: pool.size };
  }
  return undefined;
}

function locate(pools: readonly SplitPool[], subnet: Cidr): [number, bigint] | undefined {
  for (let i = 0; i < pools.length; i++) {
    const pool = pools[i]!;
    if (pool.family !== subnet.family || pool.size !== subnet.bits) continue;
    const offset = firstAddress(subnet) - pool.first;
    if (offset >= 0n && offset < pool.count * pool.step) return [i, offset / pool.step];
  }
  return undefined;
}

function firstFreeIndex(pool: SplitPool, blockers: readonly Interval[], from: bigint, to: bigint): bigint | undefined {
  let index = from;
  while (index <= to) {
    const first = pool.first + index * pool.step;
    const last = first + pool.step - 1n;
    const blocker = blockers[firstEndingAtOrAfter(blockers, first)];
    if (!blocker || blocker.first > last) return index;
    // Every candidate up to the blocker's end overlaps it: resume after it.
    index = (blocker.last - pool.first) / pool.step + 1n;
  }
  return undefined;
}

function firstEndingAtOrAfter(blockers: readonly Interval[], value: bigint): number {
  let left = 0;
  let right = blockers.length;
  while (left < right) {
    const mid = (left + right) >>> 1;
    if (blockers[mid]!.last < value) left = mid + 1;
    else right = mid;
  }
  return left;
}
