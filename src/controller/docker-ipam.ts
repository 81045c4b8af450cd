/**
 * The pools and addresses of Docker's IPAM plugin protocol (docker network create --ipam-driver
 * cnm): cnm's IPAM decides them, in an address space of their own ("cnm", as Docker keeps each
 * IPAM driver's pools apart), so a pool handed to dockerd is not taken twice when a cnm-driven
 * network then asks the main IPAM for that same subnet. Automatic pools avoid the subnets of
 * cnm's networks. The state is kept in the store's meta table (one JSON document) and restored at
 * start, like every IPAM decision.
 *
 * A pool whose subnet is that of an overlay network a Docker network of this host uses
 * (docker-overlay.ts) gives its endpoint addresses out of the cluster store instead: reserved
 * cluster-wide, so two hosts never give out the same one (the gateway and aux addresses, asked
 * before the network exists, stay local: the cluster never gives those out).
 */
import { invalid, notFound } from '../errors';
import { stripPrefixLength } from '../ipam';
import { cidrContains, withPrefixLength } from '../ipam/cidr';
import type { PoolConfig } from '../ipam';
import type { ControllerContext } from './context';
import { newId } from './ids';
import { requireCluster } from './addresses';
import { dockerOverlays } from './docker-overlay';
import type { NetworkRecord } from './model';
import { withUndo } from './undo';

export const DOCKER_ADDRESS_SPACE = 'cnm';
const META_KEY = 'dockerIpamPools';

interface StoredPool {
  pools: PoolConfig[];
  used: string[];
  /** addresses reserved in the cluster store (the pool serves an overlay network) */
  cluster?: string[];
}

export interface DockerPoolRequest {
  pool?: string;
  subPool?: string;
  v6: boolean;
}

export interface DockerPool {
  poolId: string;
  /** the subnet, CIDR */
  pool: string;
}

function stored(ctx: ControllerContext): Record<string, StoredPool> {
  const text = ctx.store.getMeta(META_KEY);
  return text ? (JSON.parse(text) as Record<string, StoredPool>) : {};
}

function save(ctx: ControllerContext, all: Record<string, StoredPool>): void {
  ctx.store.transaction((tx) => tx.setMeta(META_KEY, JSON.stringify(all)));
}

/** At start: the pools handed to dockerd, with their addresses in use. */
export function restoreDockerPools(ctx: ControllerContext): void {
  for (const [poolId, p] of Object.entries(stored(ctx))) ctx.dockerIpam.restoreNetwork({ networkId: poolId, networkName: poolId, pools: p.pools, usedAddresses: p.used });
}

function requirePool(ctx: ControllerContext, poolId: string): Record<string, StoredPool> {
  const all = stored(ctx);
  if (!all[poolId]) throw notFound(`cnm's IPAM has no pool ${poolId}: it was released (docker network rm the network and create it again)`);
  return all;
}

/** A pool of the family asked (`V6`): the subnet given, or an automatic one (IPv6 only with --default-address-pool). */
export function requestDockerPool(ctx: ControllerContext, req: DockerPoolRequest): DockerPool {
  if (req.subPool && !req.pool) throw invalid('--ip-range needs --subnet');
  const family = req.v6 ? 6 : 4;
  if (req.pool && req.pool.includes(':') !== req.v6) throw invalid(`${req.pool} is not an IPv${family} subnet`);
  const poolId = `cnm-${newId().slice(0, 16)}`;
  // cnm's own networks' subnets (and other hosts' global ones) stay out of automatic pools.
  const exclude = [...ctx.state.networks.values()].flatMap((n) => n.pools.map((p) => p.subnet));
  const pools = ctx.dockerIpam.allocateNetwork({
    networkId: poolId,
    networkName: req.pool ?? poolId,
    configs: req.pool ? [{ subnet: req.pool, ...(req.subPool ? { ipRange: req.subPool } : {}) }] : [],
    enableIPv6: req.v6,
    family,
    reserveGateway: false,
    exclude,
  });
  try {
    save(ctx, { ...stored(ctx), [poolId]: { pools, used: [] } });
  } catch (err) {
    ctx.dockerIpam.abortNetwork(poolId);
    throw err;
  }
  return { poolId, pool: pools[0]!.subnet };
}

/** Idempotent: a pool cnm no longer has is released already. */
export function releaseDockerPool(ctx: ControllerContext, poolId: string): void {
  const all = stored(ctx);
  if (!all[poolId]) return;
  delete all[poolId];
  save(ctx, all);
  ctx.dockerIpam.releaseNetwork(poolId);
}

/** The overlay network (with its pool) a Docker IPAM pool serves on this host, if any. */
function overlayOf(ctx: ControllerContext, pool: StoredPool): { network: NetworkRecord; pool: PoolConfig } | undefined {
  const subnet = pool.pools[0]?.subnet;
  for (const network of dockerOverlays(ctx)) {
    const p = network.pools.find((q) => q.subnet === subnet);
    if (p) return { network, pool: p };
  }
  return undefined;
}

/** Whether the Docker IPAM plugin reserved this address of the overlay network in the cluster store. */
export function heldForDocker(ctx: ControllerContext, network: NetworkRecord, address: string): boolean {
  return Object.values(stored(ctx)).some((p) => p.cluster?.includes(address) && overlayOf(ctx, p)?.network.id === network.id);
}

/** An address (CIDR) from the pool: `preferred` when given (--ip, --gateway), else the lowest free. */
export async function requestDockerAddress(ctx: ControllerContext, poolId: string, preferred?: string): Promise<string> {
  const all = requirePool(ctx, poolId);
  const overlay = overlayOf(ctx, all[poolId]!);
  if (overlay) return requestClusterAddress(ctx, all, poolId, overlay, preferred);
  const pool = all[poolId]!;
  const address = ctx.dockerIpam.requestAddress(poolId, pool.pools[0]!.family, preferred || undefined);
  const subnet = pool.pools.find((p) => cidrContains(p.subnet, address))!.subnet;
  try {
    save(ctx, { ...all, [poolId]: { ...pool, used: [...pool.used, address] } });
  } catch (err) {
    ctx.dockerIpam.releaseAddress(poolId, address);
    throw err;
  }
  return withPrefixLength(address, subnet);
}

async function requestClusterAddress(ctx: ControllerContext, all: Record<string, StoredPool>, poolId: string, overlay: { network: NetworkRecord; pool: PoolConfig }, preferred?: string): Promise<string> {
  const cluster = requireCluster(ctx);
  return withUndo(ctx.log, `give Docker an address of overlay network ${overlay.network.name}`, async (undo) => {
    const address = await cluster.requestAddress(overlay.network.id, overlay.pool, preferred || undefined);
    undo.push(`address ${address} of overlay network ${overlay.network.name}, reserved in the cluster store`, () => cluster.releaseAddress(overlay.network.id, address));
    const pool = all[poolId]!;
    save(ctx, { ...all, [poolId]: { ...pool, cluster: [...(pool.cluster ?? []), address] } });
    return withPrefixLength(address, overlay.pool.subnet);
  });
}

/** Idempotent. */
export async function releaseDockerAddress(ctx: ControllerContext, poolId: string, address: string): Promise<void> {
  const all = stored(ctx);
  const pool = all[poolId];
  if (!pool) return;
  const bare = stripPrefixLength(address);
  const given = pool.cluster?.indexOf(bare) ?? -1;
  if (given >= 0) {
    // One grant goes: the endpoint that had it freed it already (DeleteEndpoint comes first), and
    // Docker may have been given the address again since, for a container whose endpoint is still
    // to come; one of cnm's own sandboxes on this host may hold it too.
    const cluster = pool.cluster!.filter((_, i) => i !== given);
    const overlay = overlayOf(ctx, pool);
    const inUse = cluster.includes(bare) || ctx.state.endpointsOfNetwork(overlay?.network.id ?? '').some((e) => [e.ipv4, e.ipv6].some((a) => a && stripPrefixLength(a) === bare));
    // The store first: if it is unreachable, Docker's grant stays recorded for its next ReleaseAddress.
    if (overlay && !inUse) await requireCluster(ctx).releaseAddress(overlay.network.id, bare);
    save(ctx, { ...all, [poolId]: { ...pool, cluster } });
    return;
  }
  if (!pool.used.includes(bare)) return;
  save(ctx, { ...all, [poolId]: { ...pool, used: pool.used.filter((a) => a !== bare) } });
  ctx.dockerIpam.releaseAddress(poolId, bare);
}
