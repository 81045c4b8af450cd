/**
 * Parsing of IPAM command-line flags: cnmd's `--default-address-pool` and the way `network
 * create`'s separate `--subnet`, `--ip-range`, `--gateway` and `--aux-address` lists are matched
 * into per-subnet entries (Docker does this client-side, with the texts below). Pure functions
 * for the CLIs; the daemon validates the resulting entries again.
 */
import { CnmError } from '../errors';
import { containsCidr, containsIp, overlaps, parseCidr, parseIp } from './cidr';
import { compilePoolSpec } from './default-pools';
import { NO_SUBNET_FOR_RANGE_OR_GATEWAY } from './subnet-request';
import type { PoolSpec, SubnetRequest } from './types';

const invalid = (message: string): CnmError => new CnmError('invalid', message);

/** `base=10.10.0.0/16,size=24` (keys in any case and order) → a validated PoolSpec. */
export function parseAddressPoolFlag(value: string): PoolSpec {
  const where = `invalid --default-address-pool "${value}"`;
  let base: string | undefined;
  let size: number | undefined;
  for (const field of value.split(',')) {
    const eq = field.indexOf('=');
    if (eq < 0) throw invalid(`${where}: field '${field}' must be a key=value pair`);
    const key = field.slice(0, eq).trim().toLowerCase();
    const text = field.slice(eq + 1).trim();
    if (key === 'base') base = text;
    else if (key === 'size') {
      if (!/^[0-9]{1,3}$/.test(text)) throw invalid(`${where}: size '${text}' must be an integer prefix length`);
      size = Number(text);
    } else throw invalid(`${where}: unexpected key '${key}' (expected base=CIDR,size=N)`);
  }
  if (base === undefined || size === undefined) throw invalid(`${where}: both base=CIDR and size=N are required`);
  const spec = { base, size };
  compilePoolSpec(spec);
  return spec;
}

export interface SubnetFlags {
  subnets: string[];
  ipRanges?: string[];
  gateways?: string[];
  auxAddresses?: Record<string, string>;
}

/**
 * Matches each range, gateway and aux address to the subnet containing it, keeping the subnets'
 * order (Docker returns them in random map order).
 */
export function groupSubnetFlags(flags: SubnetFlags): SubnetRequest[] {
  const ipRanges = flags.ipRanges ?? [];
  const gateways = flags.gateways ?? [];
  const aux = Object.entries(flags.auxAddresses ?? {});
  if (flags.subnets.length < ipRanges.length || flags.subnets.length < gateways.length) {
    throw invalid(NO_SUBNET_FOR_RANGE_OR_GATEWAY);
  }
  if (flags.subnets.length === 0 && aux.length > 0) throw invalid(NO_SUBNET_FOR_RANGE_OR_GATEWAY);

  const entries = flags.subnets.map((text) => {
    const cidr = parseCidr(text);
    if (!cidr) throw invalid(`Invalid subnet ${text} : invalid CIDR address: ${text}`);
    return { cidr, request: { subnet: text } as SubnetRequest };
  });
  entries.forEach((a, i) => {
    if (entries.slice(0, i).some((b) => overlaps(a.cidr, b.cidr))) {
      throw invalid('multiple overlapping subnet configuration is not supported');
    }
  });

  for (const range of ipRanges) {
    const cidr = parseCidr(range);
    if (!cidr) throw invalid(`Invalid ip-range ${range} : invalid CIDR address: ${range}`);
    const entry = entries.find((e) => containsCidr(e.cidr, cidr));
    if (!entry) throw invalid(`no matching subnet for range ${range}`);
    if (entry.request.ipRange) {
      throw invalid(`cannot configure multiple ranges (${range}, ${entry.request.ipRange}) on the same subnet (${entry.request.subnet})`);
    }
    entry.request.ipRange = range;
  }

  for (const gateway of gateways) {
    const address = parseIp(gateway);
    const entry = address && entries.find((e) => containsIp(e.cidr, address));
    if (!entry) throw invalid(`no matching subnet for gateway ${gateway}`);
    if (entry.request.gateway) {
      throw invalid(`cannot configure multiple gateways (${gateway}, ${entry.request.gateway}) for the same subnet (${entry.request.subnet})`);
    }
    entry.request.gateway = gateway;
  }

  for (const [name, text] of aux) {
    const address = parseIp(text);
    const entry = address && entries.find((e) => containsIp(e.cidr, address));
    if (!entry) throw invalid(`no matching subnet for aux-address ${text}`);
    entry.request.auxAddresses = { ...entry.request.auxAddresses, [name]: text };
  }

  return entries.map((e) => e.request);
}
