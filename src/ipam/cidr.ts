/**
 * Pure IP and CIDR arithmetic shared by IPAM, the controller, NAT and the overlay driver.
 *
 * Addresses are BigInt values so that IPv4 and IPv6 share one code path (an IPv6 /64 does not
 * fit in a double). Parsing is strict, like Go's netip: dotted-quad IPv4 without leading zeros,
 * IPv6 without zones; anything else is rejected, not guessed.
 */
export type IpFamily = 4 | 6;

export interface IpAddress {
  readonly family: IpFamily;
  readonly value: bigint;
}

/** A prefix as written: `address` may carry host bits (see `networkOf`, `isCanonical`). */
export interface Cidr {
  readonly family: IpFamily;
  readonly address: bigint;
  readonly bits: number;
}

export function addressBits(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

export function parseIp(text: string): IpAddress | undefined {
  if (text.includes(':')) {
    const value = parseIpv6(text);
    return value === undefined ? undefined : { family: 6, value };
  }
  const value = parseIpv4(text);
  return value === undefined ? undefined : { family: 4, value };
}

/** `10.0.0.0/24` or `fd00::/64`; the prefix length is required. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIp(text.slice(0, slash));
  const lengthText = text.slice(slash + 1);
  if (!ip || !/^(0|[1-9][0-9]{0,2})$/.test(lengthText)) return undefined;
  const bits = Number(lengthText);
  if (bits > addressBits(ip.family)) return undefined;
  return { family: ip.family, address: ip.value, bits };
}

/** For trusted input (state written by cnm itself): throws on malformed text. */
export function mustParseIp(text: string): IpAddress {
  const ip = parseIp(text);
  if (!ip) throw new TypeError(`not an IP address: ${text}`);
  return ip;
}

/** For trusted input (state written by cnm itself): throws on malformed text. */
export function mustParseCidr(text: string): Cidr {
  const cidr = parseCidr(text);
  if (!cidr) throw new TypeError(`not a CIDR prefix: ${text}`);
  return cidr;
}

export function formatIp(ip: IpAddress): string {
  return ip.family === 4 ? formatIpv4(ip.value) : formatIpv6(ip.value);
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIp({ family: cidr.family, value: cidr.address })}/${cidr.bits}`;
}

/** `10.0.0.2` in `10.0.0.0/24` → `10.0.0.2/24`: an interface address with its subnet's length. */
export function withPrefixLength(address: string, subnet: string): string {
  return `${formatIp(mustParseIp(address))}/${mustParseCidr(subnet).bits}`;
}

export function prefixLength(cidr: string): number {
  return mustParseCidr(cidr).bits;
}

/** Canonical text of a trusted address (`FD00::0001` → `fd00::1`). */
export function canonicalIp(text: string): string {
  return formatIp(mustParseIp(text));
}

function hostBits(cidr: Cidr): bigint {
  return BigInt(addressBits(cidr.family) - cidr.bits);
}

export function sizeOf(cidr: Cidr): bigint {
  return 1n << hostBits(cidr);
}

export function firstAddress(cidr: Cidr): bigint {
  return (cidr.address >> hostBits(cidr)) << hostBits(cidr);
}

export function lastAddress(cidr: Cidr): bigint {
  return firstAddress(cidr) + sizeOf(cidr) - 1n;
}

/** The prefix with its host bits cleared: `10.0.0.5/24` → `10.0.0.0/24`. */
export function networkOf(cidr: Cidr): Cidr {
  return { family: cidr.family, address: firstAddress(cidr), bits: cidr.bits };
}

export function isCanonical(cidr: Cidr): boolean {
  return cidr.address === firstAddress(cidr);
}

export function containsIp(cidr: Cidr, ip: IpAddress): boolean {
  return ip.family === cidr.family && ip.value >= firstAddress(cidr) && ip.value <= lastAddress(cidr);
}

export function containsCidr(outer: Cidr, inner: Cidr): boolean {
  return (
    outer.family === inner.family &&
    inner.bits >= outer.bits &&
    firstAddress(inner) >= firstAddress(outer) &&
    lastAddress(inner) <= lastAddress(outer)
  );
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && firstAddress(a) <= lastAddress(b) && firstAddress(b) <= lastAddress(a);
}

/** The n-th address of the prefix (0 = the network address); RangeError past its end. */
export function nthAddress(cidr: Cidr, n: bigint | number): IpAddress {
  const offset = BigInt(n);
  if (offset < 0n || offset >= sizeOf(cidr)) {
    throw new RangeError(`address #${offset} is outside ${formatCidr(networkOf(cidr))}`);
  }
  return { family: cidr.family, value: firstAddress(cidr) + offset };
}

/** String-level conveniences for callers that hold trusted text. */
export function cidrContains(cidr: string, address: string): boolean {
  return containsIp(mustParseCidr(cidr), mustParseIp(address));
}

export function cidrsOverlap(a: string, b: string): boolean {
  return overlaps(mustParseCidr(a), mustParseCidr(b));
}

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  // Accumulated as a number, one BigInt at the end: NAT canonicalizes two addresses per
  // published port on every ruleset render.
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return BigInt(value);
}

function parseGroups(text: string): number[] | undefined {
  if (text === '') return [];
  const groups: number[] = [];
  const parts = text.split(':');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (i === parts.length - 1 && part.includes('.')) {
      const v4 = parseIpv4(part);
      if (v4 === undefined) return undefined;
      groups.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
    } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) {
      groups.push(parseInt(part, 16));
    } else {
      return undefined;
    }
  }
  return groups;
}

function parseIpv6(text: string): bigint | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = parseGroups(halves[0]!);
  const tail = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (!head || !tail) return undefined;
  // An embedded IPv4 address may only end the address, never precede `::`.
  if (halves.length === 2 && halves[0]!.includes('.')) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  let value = 0n;
  for (const group of [...head, ...new Array<number>(missing).fill(0), ...tail]) {
    value = (value << 16n) | BigInt(group);
  }
  return value;
}

function formatIpv4(value: bigint): string {
  const n = Number(value);
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/**
 * RFC 5952: lower case, no leading zeros, the first longest run of two or more zero groups as
 * `::`, and IPv4-mapped addresses in mixed notation (`::ffff:10.0.0.1`).
 */
function formatIpv6(value: bigint): string {
  if (value >> 32n === 0xffffn) return `::ffff:${formatIpv4(value & 0xffffffffn)}`;
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) groups.push(Number((value >> shift) & 0xffffn));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}
