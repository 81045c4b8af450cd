/**
 * Gatekeepers for everything that is spliced into nft command text. nft treats any token that
 * is not an address literal as a hostname and resolves it through the machine's resolver, and an
 * unquoted or wildcard interface name changes a rule's meaning: so only strict literals pass,
 * and they come out in one canonical spelling (which also makes rendered rulesets stable).
 */
import net from 'node:net';
import { invalid } from '../errors';
import { formatCidr, formatIp, networkOf, parseCidr, parseIp, type IpAddress, type IpFamily } from '../ipam/cidr';

export type { IpFamily };

/**
 * The family of an address literal; throws for anything else (names, zones, brackets, CIDRs).
 * net.isIP, not the strict parse: rendering asks this several times per published port of
 * addresses canonicalIp has already checked, and the parse costs ten times as much.
 */
export function ipFamily(address: string): IpFamily {
  const family = net.isIP(address);
  if (family === 0 || address.includes('%')) throw invalid(`invalid IP address: ${JSON.stringify(address)}`);
  return family as IpFamily;
}

/** The canonical spelling of an address literal (lower-case, compressed IPv6). */
export function canonicalIp(address: string): string {
  return formatIp(parsedIp(address));
}

function parsedIp(address: string): IpAddress {
  const ip = parseIp(address);
  if (!ip) throw invalid(`invalid IP address: ${JSON.stringify(address)}`);
  return ip;
}

export interface Cidr {
  family: IpFamily;
  /** Network address and prefix length, host bits cleared: `10.1.0.0/24`. */
  text: string;
}

/** Parses `ADDRESS/PREFIX` strictly and clears host bits (nft refuses them in interval sets). */
export function canonicalCidr(cidr: string): Cidr {
  const slash = cidr.indexOf('/');
  if (slash >= 0) parsedIp(cidr.slice(0, slash)); // a bad address is named as such
  const parsed = parseCidr(cidr);
  if (!parsed) throw invalid(`invalid subnet: ${JSON.stringify(cidr)}`);
  return { family: parsed.family, text: formatCidr(networkOf(parsed)) };
}

/** Unspecified addresses stand for "every local address of that family" in a port binding. */
export function isUnspecified(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

// Linux allows more (IFNAMSIZ 16 bytes, no '/', ':' or whitespace); cnm's bridges need no more
// than this, and it keeps nft's wildcard '*' and quoting out.
const IFNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

/** Throws unless name is a plain interface name that can be quoted safely in nft. */
export function checkIfname(name: string): string {
  if (!IFNAME.test(name)) throw invalid(`invalid interface name: ${JSON.stringify(name)}`);
  return name;
}

/** Throws unless port is an integer in 1..65535. */
export function checkPort(port: number, what: string): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(`invalid ${what}: ${port}`);
  return port;
}
