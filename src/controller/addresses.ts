/**
 * Where a network's endpoint addresses come from: the local IPAM for local networks, the
 * cluster store for global ones (allocated cluster-wide, without duplicates across hosts).
 */
import { CnmError, forbidden, invalid } from '../errors';
import { ADDRESS_IN_USE } from '../ipam';
import { cidrContains, parseIp } from '../ipam/cidr';
import type { ControllerContext } from './context';
import type { NetworkRecord } from './model';

export interface AddressSource {
  /** A bare address of the family; `preferred` when given (a static --ip). */
  request(family: 4 | 6, preferred?: string): Promise<string>;
  release(address: string): Promise<void>;
}

export function requireCluster(ctx: ControllerContext): NonNullable<ControllerContext['cluster']> {
  if (!ctx.cluster) {
    throw new CnmError('unavailable', 'overlay networks need a cluster store: start cnmd with --cluster-store etcd://HOST:PORT and --cluster-advertise ADDRESS');
  }
  return ctx.cluster;
}

/** `reserved`: a preferred address of a global network is this host's already (claimed, not reserved anew). */
export function addressSource(ctx: ControllerContext, network: NetworkRecord, opts: { reserved?: boolean } = {}): AddressSource {
  if (network.scope !== 'global') {
    return {
      request: async (family, preferred) => ctx.ipam.requestAddress(network.id, family, preferred),
      release: async (address) => {
        ctx.ipam.releaseAddress(network.id, address);
      },
    };
  }
  const cluster = requireCluster(ctx);
  return {
    request: async (family, preferred) => {
      const pools = network.pools.filter((p) => p.family === family);
      if (preferred !== undefined) {
        const ip = parseIp(preferred);
        if (!ip || ip.family !== family) throw invalid(`Invalid IPv${family} address: ${preferred}`);
        const pool = pools.find((p) => cidrContains(p.subnet, preferred));
        if (!pool) throw invalid(`Invalid address ${preferred}: It does not belong to any of this network's subnets`);
        if (opts.reserved) {
          if ((await cluster.reclaimAddresses(network.id, [preferred])).length) throw forbidden(ADDRESS_IN_USE);
          return preferred;
        }
        return cluster.requestAddress(network.id, pool, preferred);
      }
      let last: unknown;
      for (const pool of pools) {
        try {
          return await cluster.requestAddress(network.id, pool);
        } catch (err) {
          last = err;
          if (!(err instanceof CnmError) || err.kind !== 'unavailable' || pools.length === 1) throw err;
        }
      }
      throw last;
    },
    release: (address) => cluster.releaseAddress(network.id, address),
  };
}
