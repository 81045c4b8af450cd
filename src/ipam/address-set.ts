/**
 * A set of addresses kept sorted, so that "the lowest free address in [first, last]" is a binary
 * search (O(log n)) instead of a scan: within the members that fall in the interval, member k is
 * `first + k` exactly until the first gap, and that predicate is monotone.
 *
 * Members are stored as offsets from `base` (the subnet's first address). Offsets below 2^53 (all
 * of IPv4, and in practice all of an IPv6 pool handed out from its start) live in a Float64Array:
 * inserting into 60k members is a ~6 µs memmove, against ~35 µs for a number[] splice and ~150 µs
 * for a BigInt[] splice (measured on this machine). Larger offsets, only reachable by static IPv6
 * addresses or far ip-ranges, go to a BigInt array.
 */
const NEAR_LIMIT = 2n ** 53n;
const NEAR_MAX = Number.MAX_SAFE_INTEGER; // 2^53 - 1

export class AddressSet {
  private readonly near = new NumberList();
  private readonly far = new BigIntList();

  constructor(private readonly base: bigint) {}

  get size(): number {
    return this.near.length + this.far.length;
  }

  has(value: bigint): boolean {
    const offset = value - this.base;
    return offset < NEAR_LIMIT ? has(this.near, Number(offset)) : has(this.far, offset);
  }

  /** Adds the value; false if it was already there. */
  add(value: bigint): boolean {
    const offset = value - this.base;
    return offset < NEAR_LIMIT ? add(this.near, Number(offset)) : add(this.far, offset);
  }

  /** Removes the value; false if it was not there. */
  delete(value: bigint): boolean {
    const offset = value - this.base;
    return offset < NEAR_LIMIT ? remove(this.near, Number(offset)) : remove(this.far, offset);
  }

  /** The lowest value in [first, last] that is not a member, or undefined when all are. */
  lowestFree(first: bigint, last: bigint): bigint | undefined {
    let from = first - this.base;
    const to = last - this.base;
    if (from < NEAR_LIMIT) {
      const nearTo = to < NEAR_LIMIT ? Number(to) : NEAR_MAX;
      const found = lowestFree(this.near, Number(from), nearTo, (a, k) => a + k);
      if (found !== undefined) return this.base + BigInt(found);
      if (to < NEAR_LIMIT) return undefined;
      from = NEAR_LIMIT;
    }
    const found = lowestFree(this.far, from, to, (a, k) => a + BigInt(k));
    return found === undefined ? undefined : this.base + found;
  }
}

type Key = number | bigint;

interface SortedList<K extends Key> {
  readonly length: number;
  at(index: number): K;
  insert(index: number, value: K): void;
  removeAt(index: number): void;
}

class NumberList implements SortedList<number> {
  private data = new Float64Array(256);
  length = 0;

  at(index: number): number {
    return this.data[index]!;
  }

  insert(index: number, value: number): void {
    if (this.length === this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data.copyWithin(index + 1, index, this.length);
    this.data[index] = value;
    this.length++;
  }

  removeAt(index: number): void {
    this.data.copyWithin(index, index + 1, this.length);
    this.length--;
  }
}

class BigIntList implements SortedList<bigint> {
  private readonly data: bigint[] = [];

  get length(): number {
    return this.data.length;
  }

  at(index: number): bigint {
    return this.data[index]!;
  }

  insert(index: number, value: bigint): void {
    this.data.splice(index, 0, value);
  }

  removeAt(index: number): void {
    this.data.splice(index, 1);
  }
}

/** Index of the first member >= value. */
function lowerBound<K extends Key>(list: SortedList<K>, value: K): number {
  let left = 0;
  let right = list.length;
  while (left < right) {
    const mid = (left + right) >>> 1;
    if (list.at(mid) < value) left = mid + 1;
    else right = mid;
  }
  return left;
}

function has<K extends Key>(list: SortedList<K>, value: K): boolean {
  const i = lowerBound(list, value);
  return i < list.length && list.at(i) === value;
}

function add<K extends Key>(list: SortedList<K>, value: K): boolean {
  const i = lowerBound(list, value);
  if (i < list.length && list.at(i) === value) return false;
  list.insert(i, value);
  return true;
}

function remove<K extends Key>(list: SortedList<K>, value: K): boolean {
  const i = lowerBound(list, value);
  if (i >= list.length || list.at(i) !== value) return false;
  list.removeAt(i);
  return true;
}

function lowestFree<K extends Key>(list: SortedList<K>, first: K, last: K, plus: (a: K, k: number) => K): K | undefined {
  const lo = lowerBound(list, first);
  let hi = lowerBound(list, last);
  if (hi < list.length && list.at(hi) === last) hi++;
  // Smallest k in [0, hi-lo) whose member exceeds first+k, i.e. a gap precedes it.
  let left = 0;
  let right = hi - lo;
  while (left < right) {
    const mid = (left + right) >>> 1;
    if (list.at(lo + mid) > plus(first, mid)) right = mid;
    else left = mid + 1;
  }
  const candidate = plus(first, left);
  return candidate <= last ? candidate : undefined;
}
