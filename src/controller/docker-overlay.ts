/**
 * Overlay networks of dockerd hosts (cnmd --docker-plugin, -o cnm.driver=overlay). The plugin is
 * local-scope: each dockerd makes a network of its own with `docker network create`, under its
 * own id, and all of them use one global cnm network, named by `-o cnm.network=NAME`. The first
 * host's CreateNetwork makes it in the cluster store; the others find it there. Per host, the
 * Docker network id → cnm network id map is kept in the store's meta table (one JSON document);
 * cluster-wide, each Docker network holds the cnm network (cluster.holdNetwork), so that it goes
 * only with the last Docker network using it, on whichever host that is.
 */
import { CnmError, conflict, invalid } from '../errors';
import { requireCluster } from './addresses';
import type { ControllerContext } from './context';
import type { NetworkRecord } from './model';
import { createNetwork, removeNetwork, type CreateNetworkRequest } from './networks';
import { withUndo } from './undo';

const META_KEY = 'dockerOverlays';

function mapping(ctx: ControllerContext): Record<string, string> {
  const text = ctx.store.getMeta(META_KEY);
  return text ? (JSON.parse(text) as Record<string, string>) : {};
}

function saveMapping(ctx: ControllerContext, all: Record<string, string>): void {
  ctx.store.transaction((tx) => tx.setMeta(META_KEY, JSON.stringify(all)));
}

/** The global cnm network a Docker network of this host uses, if any. */
export function dockerOverlay(ctx: ControllerContext, dockerNetworkId: string): NetworkRecord | undefined {
  const id = mapping(ctx)[dockerNetworkId];
  return id === undefined ? undefined : ctx.state.networks.get(id);
}

/** The global cnm networks Docker networks of this host use. */
export function dockerOverlays(ctx: ControllerContext): NetworkRecord[] {
  return Object.values(mapping(ctx))
    .map((id) => ctx.state.networks.get(id))
    .filter((n): n is NetworkRecord => n !== undefined);
}

/** A network of another host must be the one this Docker network describes: same subnets and gateways. */
function checkSame(existing: NetworkRecord, req: CreateNetworkRequest): void {
  if (existing.driver !== req.driver) {
    throw conflict(`cnm has a ${existing.driver} network named ${existing.name}: choose another -o cnm.network for the overlay network`);
  }
  for (const asked of req.ipamConfig ?? []) {
    const subnet = asked.subnet;
    if (!subnet) continue;
    const pool = existing.pools.find((p) => p.subnet === subnet);
    const same = existing.pools.filter((p) => p.family === (subnet.includes(':') ? 6 : 4));
    if (!pool) {
      const has = same.map((p) => p.subnet).join(', ') || 'no subnet of that family';
      throw invalid(`overlay network ${existing.name} exists in cnm's cluster with subnet ${has}, not ${asked.subnet}: on this host use --ipam-driver cnm --subnet ${same[0]?.subnet ?? asked.subnet}`);
    }
    if (asked.gateway && pool.gateway && asked.gateway !== pool.gateway) {
      throw invalid(`overlay network ${existing.name} has gateway ${pool.gateway} in cnm's cluster, not ${asked.gateway}: on this host use --gateway ${pool.gateway} (or leave it out)`);
    }
  }
}

/**
 * CreateNetwork of an overlay: makes the global network or uses the one another host made,
 * holds it for this Docker network and records the map. All or nothing: a network this call made
 * goes again if the rest failed.
 */
export async function useDockerOverlay(ctx: ControllerContext, dockerNetworkId: string, req: CreateNetworkRequest): Promise<NetworkRecord> {
  const cluster = requireCluster(ctx);
  return withUndo(ctx.log, `use overlay network ${req.name} for Docker network ${dockerNetworkId.slice(0, 12)}`, async (undo) => {
    let network = ctx.state.networkByName(req.name);
    if (network) checkSame(network, req);
    else {
      const made = await createNetwork(ctx, req);
      undo.push(`overlay network ${made.name}`, () => removeNetwork(ctx, made));
      network = made;
    }
    const held = network;
    undo.push(`the hold of Docker network ${dockerNetworkId.slice(0, 12)} on ${held.name} in the cluster store`, () => cluster.releaseNetwork(held.id, dockerNetworkId));
    await cluster.holdNetwork(held.id, dockerNetworkId);
    saveMapping(ctx, { ...mapping(ctx), [dockerNetworkId]: held.id });
    return held;
  });
}

/**
 * DeleteNetwork of an overlay (its endpoints on this host removed already): the hold goes, and the
 * global network too unless it is still used (other hosts' Docker networks, cnm's own sandboxes).
 * Idempotent: works on whatever is left, also when the network is gone from the cluster.
 */
export async function dropDockerOverlay(ctx: ControllerContext, dockerNetworkId: string): Promise<boolean> {
  const all = mapping(ctx);
  const networkId = all[dockerNetworkId];
  if (networkId === undefined) return false;
  const network = ctx.state.networks.get(networkId);
  // The map goes last: a failure (the cluster store unreachable) leaves it for a retry.
  if (network) {
    await requireCluster(ctx).releaseNetwork(networkId, dockerNetworkId);
    try {
      await removeNetwork(ctx, network);
    } catch (err) {
      if (!(err instanceof CnmError) || err.kind !== 'forbidden') throw err;
      ctx.log.log('info', 'the overlay network stays: it is still used', { network: network.name, reason: err.message });
    }
  }
  delete all[dockerNetworkId];
  saveMapping(ctx, all);
  return true;
}
