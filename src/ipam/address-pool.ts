/**
 * The addresses of one subnet: which are reserved for good (network, broadcast, gateway, aux
 * addresses), which are in use by endpoints, and which one comes next (the lowest free one from
 * the start of the ip-range). Built from a PoolConfig alone, so any allocator (the local IPAM,
 * the overlay's cluster-wide one) can rebuild it from stored data.
 */
import { AddressSet } from './address-set';
import {
  addressBits,
  containsIp,
  firstAddress,
  formatIp,
  lastAddress,
  mustParseCidr,
  mustParseIp,
  type Cidr,
  type IpAddress,
} from './cidr';
import type { PoolConfig } from './types';

export type SpecialRole = 'network address' | 'broadcast address';

/**
 * The addresses of a subnet no endpoint may have: the IPv4 network and broadcast addresses and
 * the IPv6 subnet-router anycast address. Point-to-point subnets (/31, /127) and single
 * addresses keep every address usable (RFC 3021, RFC 6164).
 */
export function specialRole(subnet: Cidr, value: bigint): SpecialRole | undefined {
  if (addressBits(subnet.family) - subnet.bits < 2) return undefined;
  if (value === firstAddress(subnet)) return 'network address';
  if (subnet.family === 4 && value === lastAddress(subnet)) return 'broadcast address';
  return undefined;
}

/**
 * The highest address of a new pool's subnet that is neither special, the gateway nor an aux
 * address: where an address IPAM picks for the network itself goes, far from the low end where
 * endpoints' addresses start (on a LAN, .254 of a /24).
 */
export function highestFreeAddress(config: Readonly<PoolConfig>): string | undefined {
  const subnet = mustParseCidr(config.subnet);
  const reserved = new Set([config.gateway, ...Object.values(config.auxAddresses)].filter((a): a is string => a !== undefined).map((a) => mustParseIp(a).value));
  const first = firstAddress(subnet);
  for (let value = lastAddress(subnet), tries = 0; value >= first && tries < 1 + reserved.size + 2; value--, tries++) {
    if (specialRole(subnet, value) || reserved.has(value)) continue;
    return formatIp({ family: subnet.family, value });
  }
  return undefined;
}

export type TakeOutcome = 'taken' | 'in use' | 'outside';

export class AddressPool {
  readonly subnet: Cidr;
  private readonly rangeFirst: bigint;
  private readonly rangeLast: bigint;
  /** Reserved and used addresses together, so one search finds the lowest free one. */
  private readonly taken: AddressSet;
  /** The reserved part of `taken`: never given back by `release`. */
  private readonly pinned = new Set<bigint>();

  constructor(readonly config: Readonly<PoolConfig>) {
    this.subnet = mustParseCidr(config.subnet);
    this.taken = new AddressSet(firstAddress(this.subnet));
    const range = config.ipRange ? mustParseCidr(config.ipRange) : this.subnet;
    this.rangeFirst = firstAddress(range);
    this.rangeLast = lastAddress(range);
    const first = firstAddress(this.subnet);
    const last = lastAddress(this.subnet);
    for (const value of [first, last]) if (specialRole(this.subnet, value)) this.pin(value);
    if (config.gateway) this.pin(mustParseIp(config.gateway).value);
    for (const aux of Object.values(config.auxAddresses)) this.pin(mustParseIp(aux).value);
  }

  get family(): 4 | 6 {
    return this.subnet.family;
  }

  contains(ip: IpAddress): boolean {
    return containsIp(this.subnet, ip);
  }

  /** The address the next dynamic request gets, without taking it. */
  peekLowestFree(): bigint | undefined {
    return this.taken.lowestFree(this.rangeFirst, this.rangeLast);
  }

  /** Takes the lowest free address of the ip-range (or subnet). */
  takeLowestFree(): IpAddress | undefined {
    const value = this.peekLowestFree();
    if (value === undefined) return undefined;
    this.taken.add(value);
    return { family: this.family, value };
  }

  /** Takes a given address; it may lie outside the ip-range but not outside the subnet. */
  take(ip: IpAddress): TakeOutcome {
    if (!this.contains(ip)) return 'outside';
    return this.taken.add(ip.value) ? 'taken' : 'in use';
  }

  /** Gives an endpoint's address back; reserved addresses stay reserved. */
  release(ip: IpAddress): boolean {
    if (!this.contains(ip) || this.pinned.has(ip.value)) return false;
    return this.taken.delete(ip.value);
  }

  private pin(value: bigint): void {
    this.pinned.add(value);
    this.taken.add(value);
  }
}

/**
 * The address a new endpoint gets in `pool` when `used` are taken: a pure function for
 * allocators that keep their used set elsewhere (the overlay driver's cluster store).
 */
export function lowestFreeAddress(pool: Readonly<PoolConfig>, used: Iterable<string>): string | undefined {
  const addresses = new AddressPool(pool);
  for (const address of used) addresses.take(mustParseIp(stripPrefixLength(address)));
  const value = addresses.peekLowestFree();
  return value === undefined ? undefined : formatIp({ family: addresses.family, value });
}

/** `10.0.0.2/24` → `10.0.0.2` (stored endpoint addresses may carry their prefix length). */
export function stripPrefixLength(address: string): string {
  const slash = address.indexOf('/');
  return slash < 0 ? address : address.slice(0, slash);
}
