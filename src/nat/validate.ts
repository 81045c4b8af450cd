/**
 * Gatekeepers for everything that is spliced into nft command text. nft treats any token that
 * is not an address literal as a hostname and resolves it through the machine's resolver, and an
 * unquoted or wildcard interface name changes a rule's meaning: so only strict literals pass,
 * and they come out in one canonical spelling (which also makes rendered rulesets stable).
 */
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import { invalid } from '../errors';

export type IpFamily = 4 | 6;

/** The family of an address literal; throws for anything else (names, zones, brackets, CIDRs). */
export function ipFamily(address: string): IpFamily {
  const family = net.isIP(address);
  if (family === 0 || address.includes('%')) throw invalid(`invalid IP address: ${JSON.stringify(address)}`);
  return family as IpFamily;
}

/** The canonical spelling of an address literal (lower-case, compressed IPv6). */
export function canonicalIp(address: string): string {
  ipFamily(address);
  return ipaddr.parse(address).toString();
}

export interface Cidr {
  family: IpFamily;
  /** Network address and prefix length, host bits cleared: `10.1.0.0/24`. */
  text: string;
}

/** Parses `ADDRESS/PREFIX` strictly and clears host bits (nft refuses them in interval sets). */
export function canonicalCidr(cidr: string): Cidr {
  const slash = cidr.indexOf('/');
  const prefixText = slash < 0 ? '' : cidr.slice(slash + 1);
  if (slash < 0 || !/^\d{1,3}$/.test(prefixText)) throw invalid(`invalid subnet: ${JSON.stringify(cidr)}`);
  const family = ipFamily(cidr.slice(0, slash));
  const prefix = Number(prefixText);
  if (prefix > (family === 4 ? 32 : 128)) throw invalid(`invalid subnet: ${JSON.stringify(cidr)}`);
  const network =
    family === 4 ? ipaddr.IPv4.networkAddressFromCIDR(cidr) : ipaddr.IPv6.networkAddressFromCIDR(cidr);
  return { family, text: `${network.toString()}/${prefix}` };
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
