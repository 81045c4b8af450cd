/**
 * Global networks across hosts: this host's endpoints are published to the cluster store, the
 * other hosts' endpoints come back through its watch and are handed to the drivers (forwarding
 * entries) and to the embedded DNS (names across hosts).
 */
import type { RemotePeer } from '../drivers/api';
import type { ClusterEndpoint, ClusterSnapshot } from '../store/cluster';
import { requireCluster } from './addresses';
import type { ControllerContext } from './context';
import { toDriverNetwork } from './context';
import type { EndpointRecord, SandboxRecord } from './model';
import { dnsNames } from './service-state';

export function isGlobal(ctx: ControllerContext, e: EndpointRecord): boolean {
  return ctx.state.networks.get(e.networkId)?.scope === 'global';
}

function clusterEndpoint(ctx: ControllerContext, sandbox: SandboxRecord, e: EndpointRecord): ClusterEndpoint {
  return {
    id: e.id,
    networkId: e.networkId,
    sandboxId: sandbox.id,
    names: dnsNames(sandbox, e),
    ipv4: e.ipv4,
    ipv6: e.ipv6,
    mac: e.mac,
    hostId: requireCluster(ctx).host.id,
  };
}

export async function publishEndpoint(ctx: ControllerContext, sandbox: SandboxRecord, e: EndpointRecord): Promise<void> {
  if (isGlobal(ctx, e)) await requireCluster(ctx).publishEndpoint(clusterEndpoint(ctx, sandbox, e));
}

export async function withdrawEndpoint(ctx: ControllerContext, e: EndpointRecord): Promise<void> {
  if (isGlobal(ctx, e)) await requireCluster(ctx).withdrawEndpoint(e.networkId, e.id);
}

/**
 * Follows the cluster: global networks appear and vanish in the local view (and in the SQLite
 * copy kept for restarts), remote endpoints are recorded, drivers get their peers, and any of
 * this host's endpoints missing from the store (a lease lost while etcd was away) are put back.
 */
export async function applySnapshot(ctx: ControllerContext, snap: ClusterSnapshot): Promise<void> {
  const cluster = requireCluster(ctx);
  // A connected store always lists this host; without it (not joined yet, or the lease lost)
  // the snapshot says nothing about the cluster, and nothing local is dropped on its word.
  if (!snap.hosts.some((h) => h.id === cluster.host.id)) return;
  const { state } = ctx;
  const seen = new Set<string>();
  for (const n of snap.networks) {
    seen.add(n.id);
    const mine = state.networks.get(n.id);
    if (mine && JSON.stringify(mine) === JSON.stringify(n)) continue;
    const other = state.networkByName(n.name);
    if (other && other.id !== n.id) {
      ctx.log.log('warn', 'a global network has the name of a local one: it is hidden on this host', { network: n.name });
      continue;
    }
    ctx.store.transaction((tx) => tx.putNetwork(n));
    state.networks.set(n.id, n);
  }
  for (const n of [...state.networks.values()]) {
    if (n.scope !== 'global' || seen.has(n.id) || state.endpointsOfNetwork(n.id).length) continue;
    try {
      await ctx.drivers.get(n.driver).deleteNetwork(toDriverNetwork(n));
    } catch (err) {
      // The record goes all the same (the network is gone from the cluster); what the driver left is logged.
      ctx.log.log('error', 'could not remove the local part of a global network that is gone', { network: n.name, error: String(err) });
    }
    ctx.store.transaction((tx) => tx.deleteNetwork(n.id));
    state.networks.delete(n.id);
  }

  state.hosts.clear();
  for (const h of snap.hosts) state.hosts.set(h.id, h.advertise);
  state.remoteEndpoints = snap.endpoints.filter((e) => e.hostId !== cluster.host.id && state.networks.has(e.networkId));

  const published = new Set(snap.endpoints.filter((e) => e.hostId === cluster.host.id).map((e) => e.id));
  for (const e of state.endpoints.values()) {
    if (!isGlobal(ctx, e) || published.has(e.id)) continue;
    const sandbox = state.sandboxes.get(e.sandboxId);
    if (!sandbox) continue;
    try {
      const taken = await cluster.reclaimAddresses(e.networkId, [e.ipv4, e.ipv6].filter(Boolean).map((a) => a.split('/')[0]!));
      if (taken.length) ctx.log.log('error', 'another host took addresses of this host while it was away', { endpoint: e.id, addresses: taken });
      await cluster.publishEndpoint(clusterEndpoint(ctx, sandbox, e));
    } catch (err) {
      ctx.log.log('warn', 'could not publish an endpoint to the cluster store yet', { endpoint: e.id, error: String(err) });
    }
  }
  await programPeers(ctx);
}

/** Every driver with global networks this host uses gets the other hosts' endpoints. */
export async function programPeers(ctx: ControllerContext): Promise<void> {
  const { state } = ctx;
  for (const n of state.networks.values()) {
    const driver = ctx.drivers.get(n.driver);
    if (n.scope !== 'global' || !driver.setPeers || !state.endpointsOfNetwork(n.id).length) continue;
    const peers: RemotePeer[] = [];
    for (const r of state.remoteEndpoints) {
      const vtep = state.hosts.get(r.hostId);
      if (r.networkId !== n.id || !vtep) continue;
      peers.push({ endpointId: r.id, mac: r.mac, vtep, ...(r.ipv4 ? { ipv4: r.ipv4 } : {}), ...(r.ipv6 ? { ipv6: r.ipv6 } : {}) });
    }
    try {
      await driver.setPeers(toDriverNetwork(n), peers);
    } catch (err) {
      ctx.log.log('error', 'could not program the peers of a global network', { network: n.name, error: String(err) });
    }
  }
}
