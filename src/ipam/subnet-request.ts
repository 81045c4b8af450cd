/**
 * Validation of one user-given IPAM config entry (`--subnet` with its `--ip-range`, `--gateway`
 * and `--aux-address`). Error texts follow Docker's where it has one; where Docker accepts
 * something dubious (host bits in a subnet, a gateway on the broadcast address) we refuse it,
 * as Docker 25+ does for host bits.
 */
import { CnmError } from '../errors';
import { specialRole } from './address-pool';
import { containsCidr, containsIp, formatCidr, isCanonical, mustParseCidr, networkOf, overlaps, parseCidr, parseIp } from './cidr';
import type { Cidr, IpAddress } from './cidr';
import type { SubnetRequest } from './types';

export interface ParsedSubnetRequest {
  subnet: Cidr;
  ipRange?: Cidr;
  gateway?: IpAddress;
  auxAddresses: Array<[name: string, address: IpAddress]>;
}

export const NO_SUBNET_FOR_RANGE_OR_GATEWAY = 'every ip-range or gateway must have a corresponding subnet';

const invalid = (message: string): CnmError => new CnmError('invalid', message);

export function parseSubnetRequest(request: SubnetRequest): ParsedSubnetRequest {
  const auxEntries = Object.entries(request.auxAddresses ?? {});
  if (!request.subnet) {
    if (request.ipRange || request.gateway || auxEntries.length > 0) throw invalid(NO_SUBNET_FOR_RANGE_OR_GATEWAY);
    throw invalid('an IPAM config entry needs a subnet (leave the IPAM config empty for an automatic one)');
  }
  const subnet = parseCanonicalCidr('subnet', request.subnet);
  refuseUnusableSubnet(request.subnet, subnet);

  let ipRange: Cidr | undefined;
  if (request.ipRange) {
    ipRange = parseCanonicalCidr('ip-range', request.ipRange);
    if (!containsCidr(subnet, ipRange)) throw invalid(`no matching subnet for range ${request.ipRange}`);
  }

  let gateway: IpAddress | undefined;
  if (request.gateway) {
    gateway = parseAddress(`gateway ${request.gateway}`, request.gateway);
    if (!containsIp(subnet, gateway)) throw invalid(`no matching subnet for gateway ${request.gateway}`);
    refuseSpecial(`gateway ${request.gateway}`, subnet, gateway);
  }

  const auxAddresses: Array<[string, IpAddress]> = [];
  for (const [name, text] of auxEntries) {
    const what = `aux-address ${name}=${text}`;
    const address = parseAddress(what, text);
    if (!containsIp(subnet, address)) throw invalid(`no matching subnet for aux-address ${text}`);
    refuseSpecial(what, subnet, address);
    if (gateway?.value === address.value) throw invalid(`Invalid ${what} : it is the gateway`);
    const twin = auxAddresses.find(([, other]) => other.value === address.value);
    if (twin) throw invalid(`Invalid ${what} : already reserved as aux-address ${twin[0]}`);
    auxAddresses.push([name, address]);
  }

  return { subnet, ...(ipRange && { ipRange }), ...(gateway && { gateway }), auxAddresses };
}

function parseCanonicalCidr(what: 'subnet' | 'ip-range', text: string): Cidr {
  const cidr = parseCidr(text);
  if (!cidr) throw invalid(`Invalid ${what} ${text} : invalid CIDR address: ${text}`);
  if (!isCanonical(cidr)) throw invalid(`Invalid ${what} ${text} : it should be ${formatCidr(networkOf(cidr))}`);
  return cidr;
}

function parseAddress(what: string, text: string): IpAddress {
  const address = parseIp(text);
  if (!address) throw invalid(`Invalid ${what} : invalid IP address: ${text}`);
  return address;
}

function refuseSpecial(what: string, subnet: Cidr, address: IpAddress): void {
  const role = specialRole(subnet, address.value);
  if (role) throw invalid(`Invalid ${what} : it is the ${role} of ${formatCidr(subnet)}`);
}

/**
 * Ranges no network may use: their addresses cannot be given to an interface and routed like
 * others (the kernel answers loopback itself, multicast is not an interface address, link-local
 * is never routed, 0.0.0.0/8 and :: mean "this host"). A subnet overlapping one is refused, as is
 * a /0, which would cover them all and every route of the host.
 */
const UNUSABLE: ReadonlyArray<{ range: Cidr; what: string }> = [
  { range: mustParseCidr('0.0.0.0/8'), what: 'the "this network" range 0.0.0.0/8' },
  { range: mustParseCidr('127.0.0.0/8'), what: 'the loopback range 127.0.0.0/8' },
  { range: mustParseCidr('169.254.0.0/16'), what: 'the link-local range 169.254.0.0/16' },
  { range: mustParseCidr('224.0.0.0/4'), what: 'the multicast range 224.0.0.0/4' },
  { range: mustParseCidr('255.255.255.255/32'), what: 'the limited broadcast address 255.255.255.255' },
  { range: mustParseCidr('::/128'), what: 'the unspecified address ::' },
  { range: mustParseCidr('::1/128'), what: 'the loopback address ::1' },
  { range: mustParseCidr('::ffff:0:0/96'), what: 'the IPv4-mapped range ::ffff:0:0/96' },
  { range: mustParseCidr('fe80::/10'), what: 'the link-local range fe80::/10' },
  { range: mustParseCidr('ff00::/8'), what: 'the multicast range ff00::/8' },
];

const PRIVATE_HINT = 'use a private range such as 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or fd00::/8';

export function refuseUnusableSubnet(text: string, subnet: Cidr): void {
  if (subnet.bits === 0) throw invalid(`Invalid subnet ${text} : it covers every address; ${PRIVATE_HINT}`);
  for (const { range, what } of UNUSABLE) {
    if (range.family === subnet.family && overlaps(range, subnet)) {
      const where = containsCidr(range, subnet) ? 'is in' : 'overlaps';
      throw invalid(`Invalid subnet ${text} : it ${where} ${what}, whose addresses cannot be given to containers; ${PRIVATE_HINT}`);
    }
  }
}
