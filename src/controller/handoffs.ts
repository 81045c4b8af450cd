/**
 * Handoffs: endpoints of Docker networks that cnm owns (cnmd --docker-plugin). Docker names a
 * network and an endpoint by its own ids; cnm keeps a network labelled with Docker's network id
 * and, per Docker endpoint, a sandbox in mode 'handoff' whose interface is made in the daemon's
 * namespace under a temporary name, for libnetwork to move into the container. Everything else
 * (IPAM, the journal, the driver's kernel work, rollback) is the ordinary connect/removeSandbox
 * path; this file only maps Docker's ids onto cnm's records.
 */
import { CnmError, conflict, notFound } from '../errors';
import { stripPrefixLength } from '../ipam';
import type { ControllerContext } from './context';
import { toDriverNetwork } from './context';
import type { EndpointRecord, HandoffMode, NetworkRecord, PortBindingRecord, PublishedPortRequest, SandboxRecord } from './model';
import { allocatePorts, releasePorts } from './ports';
import { connect, removeSandbox } from './sandboxes';
import { createNetwork, removeNetwork, type CreateNetworkRequest } from './networks';
import { withUndo } from './undo';
import { runtimeSandbox } from './sandbox-record';
import { dockerOverlay, dropDockerOverlay, useDockerOverlay } from './docker-overlay';
import { heldForDocker } from './docker-ipam';

/** The label that ties a cnm network to the Docker network it serves. */
export const DOCKER_NETWORK_LABEL = 'io.cnm.docker.network-id';

export type HandoffSandbox = SandboxRecord & { mode: HandoffMode };

export interface HandoffRequest {
  dockerNetworkId: string;
  dockerEndpointId: string;
  /** address/prefix chosen by Docker's IPAM (cnm reserves exactly these) */
  ipv4?: string;
  ipv6?: string;
  mac?: string;
}

export interface Handoff {
  endpoint: EndpointRecord;
  network: NetworkRecord;
  /** where the container's default route goes (none on internal or isolated networks) */
  gatewayV4?: string;
  gatewayV6?: string;
}

/** The cnm network's name for a Docker network: Docker sends only its id. */
export function handoffNetworkName(dockerNetworkId: string): string {
  return `docker-${dockerNetworkId.slice(0, 12)}`;
}

/**
 * The interface's name in the daemon's namespace until libnetwork moves and renames it: unique
 * per Docker endpoint (so it never meets another link there) and within IFNAMSIZ.
 */
export function handoffInterfaceName(dockerEndpointId: string): string {
  return `cnm${dockerEndpointId.slice(0, 11)}`;
}

export function dockerNetwork(ctx: ControllerContext, dockerNetworkId: string): NetworkRecord | undefined {
  for (const n of ctx.state.networks.values()) if (n.labels[DOCKER_NETWORK_LABEL] === dockerNetworkId) return n;
  return dockerOverlay(ctx, dockerNetworkId);
}

/**
 * CreateNetwork: a local network of its own (labelled with Docker's id), or for an overlay the
 * global network shared with other dockerd hosts (docker-overlay.ts). A repeated call is a success.
 */
export async function createDockerNetwork(ctx: ControllerContext, dockerNetworkId: string, req: CreateNetworkRequest): Promise<NetworkRecord> {
  const existing = dockerNetwork(ctx, dockerNetworkId);
  if (existing) return existing;
  // A global-scope driver's network is shared with the other dockerd hosts of the cluster.
  const global = req.driver !== undefined && ctx.drivers.forCreate(req.driver).scope === 'global';
  return global ? useDockerOverlay(ctx, dockerNetworkId, req) : createNetwork(ctx, req);
}

function isHandoff(s: SandboxRecord): s is HandoffSandbox {
  return s.mode.kind === 'handoff';
}

export function handoffSandbox(ctx: ControllerContext, dockerEndpointId: string): HandoffSandbox | undefined {
  for (const s of ctx.state.sandboxes.values()) if (isHandoff(s) && s.mode.dockerEndpointId === dockerEndpointId) return s;
  return undefined;
}

export function handoffsOfNetwork(ctx: ControllerContext, dockerNetworkId: string): HandoffSandbox[] {
  return [...ctx.state.sandboxes.values()].filter((s): s is HandoffSandbox => isHandoff(s) && s.mode.dockerNetworkId === dockerNetworkId);
}

export function describeHandoff(ctx: ControllerContext, sandbox: HandoffSandbox): Handoff | undefined {
  const network = dockerNetwork(ctx, sandbox.mode.dockerNetworkId);
  const endpoint = network && ctx.state.endpointOf(network.id, sandbox.id);
  if (!network || !endpoint) return undefined;
  const driver = ctx.drivers.get(network.driver);
  // An overlay's way out is a gateway bridge: with no Gateway in Join's answer, libnetwork joins
  // the container to its own docker_gwbridge (as for Docker's overlay driver).
  const routed = !network.internal && !driver.isolated?.(toDriverNetwork(network)) && !driver.needsGatewayBridge;
  const gateway = (family: 4 | 6, address: string): string | undefined => (routed && address ? network.pools.find((p) => p.family === family && p.gateway)?.gateway : undefined);
  const gatewayV4 = gateway(4, endpoint.ipv4);
  const gatewayV6 = gateway(6, endpoint.ipv6);
  return { endpoint, network, ...(gatewayV4 ? { gatewayV4 } : {}), ...(gatewayV6 ? { gatewayV6 } : {}) };
}

/**
 * CreateEndpoint: the interface exists (in the daemon's namespace) when this returns; all or
 * nothing, as connect is, and the sandbox record goes if the connect failed.
 */
export async function createHandoff(ctx: ControllerContext, req: HandoffRequest): Promise<Handoff> {
  const network = dockerNetwork(ctx, req.dockerNetworkId);
  if (!network) throw notFound(`cnm has no network for Docker network ${req.dockerNetworkId.slice(0, 12)}: it was removed from cnm (docker network rm it and create it again)`);
  if (handoffSandbox(ctx, req.dockerEndpointId)) throw conflict(`endpoint ${req.dockerEndpointId.slice(0, 12)} already exists in cnm`);
  await removeStaleHolders(ctx, network, req);
  const sandbox: HandoffSandbox = runtimeSandbox({
    id: req.dockerEndpointId,
    name: `docker-ep-${req.dockerEndpointId.slice(0, 12)}`,
    mode: { kind: 'handoff', dockerNetworkId: req.dockerNetworkId, dockerEndpointId: req.dockerEndpointId },
    networkMode: network.name,
    labels: {},
    publish: [],
  });

  // The sandbox is recorded by connect's commit, with its endpoint: a crash before leaves nothing.
  await connect(ctx, network, sandbox, {
    ifName: handoffInterfaceName(req.dockerEndpointId),
    ...(req.ipv4 ? { ipv4: stripPrefixLength(req.ipv4) } : {}),
    ...(req.ipv6 ? { ipv6: stripPrefixLength(req.ipv6) } : {}),
    ...(req.mac ? { mac: req.mac } : {}),
    // On an overlay, the Docker IPAM plugin reserved the address cluster-wide already.
    ...(network.scope === 'global' && reservedForDocker(ctx, network, req) ? { reserved: true } : {}),
  });
  return describeHandoff(ctx, ctx.state.sandboxes.get(sandbox.id) as HandoffSandbox)!;
}

/** Docker's addresses were all reserved in the cluster store by the IPAM plugin (a pool of cnm's, on an overlay). */
function reservedForDocker(ctx: ControllerContext, network: NetworkRecord, req: HandoffRequest): boolean {
  const given = [req.ipv4, req.ipv6].filter((a): a is string => Boolean(a)).map(stripPrefixLength);
  return given.length > 0 && given.every((a) => heldForDocker(ctx, network, a));
}

/**
 * Docker's IPAM just gave these addresses out, so Docker holds no endpoint with them: a Docker
 * endpoint cnm still has with one of them is one dockerd forgot (it was killed; on restart it
 * calls no DeleteEndpoint for the containers it had) and goes, as DeleteEndpoint would have.
 */
async function removeStaleHolders(ctx: ControllerContext, network: NetworkRecord, req: HandoffRequest): Promise<void> {
  const wanted = new Set([req.ipv4, req.ipv6].filter((a): a is string => Boolean(a)).map(stripPrefixLength));
  if (!wanted.size) return;
  for (const sandbox of handoffsOfNetwork(ctx, req.dockerNetworkId)) {
    const e = ctx.state.endpointOf(network.id, sandbox.id);
    if (!e || ![e.ipv4, e.ipv6].some((a) => a && wanted.has(stripPrefixLength(a)))) continue;
    ctx.log.log('warn', 'removing a Docker endpoint dockerd no longer has (its address was given out again)', { endpoint: sandbox.mode.dockerEndpointId, network: network.name });
    await removeSandbox(ctx, sandbox);
  }
}

/** DeleteEndpoint: idempotent (dockerd calls it after its own failures, on whatever is left). */
export async function deleteHandoff(ctx: ControllerContext, dockerEndpointId: string): Promise<boolean> {
  return deferIfUnavailable(ctx, 'endpoints', dockerEndpointId, () => removeHandoff(ctx, dockerEndpointId));
}

async function removeHandoff(ctx: ControllerContext, dockerEndpointId: string): Promise<boolean> {
  const sandbox = handoffSandbox(ctx, dockerEndpointId);
  if (!sandbox) return false;
  await removeSandbox(ctx, sandbox);
  return true;
}

/** DeleteNetwork: idempotent; endpoints Docker failed to delete go first. */
export async function deleteDockerNetwork(ctx: ControllerContext, dockerNetworkId: string): Promise<boolean> {
  return deferIfUnavailable(ctx, 'networks', dockerNetworkId, () => removeDockerNetwork(ctx, dockerNetworkId));
}

async function removeDockerNetwork(ctx: ControllerContext, dockerNetworkId: string): Promise<boolean> {
  for (const sandbox of handoffsOfNetwork(ctx, dockerNetworkId)) await removeSandbox(ctx, sandbox);
  if (await dropDockerOverlay(ctx, dockerNetworkId)) return true;
  const network = dockerNetwork(ctx, dockerNetworkId);
  if (!network) return false;
  await removeNetwork(ctx, network);
  return true;
}

// ---- removals waiting for the cluster store ----
// dockerd ignores DeleteEndpoint's and DeleteNetwork's errors: it forgets the endpoint or network
// whatever cnm answers. So when the cluster store is unreachable (an overlay's endpoint cannot be
// withdrawn, its hold released), cnm answers success, keeps the Docker id in the store's meta
// table and removes it when the store answers again (retryDockerRemovals, which the plugin server
// calls every few seconds). A removal stops before its first change when the store fails
// (withdrawing an endpoint, releasing a hold come first), so a retry starts clean.

const PENDING_KEY = 'dockerPendingRemovals';

interface PendingRemovals {
  endpoints: string[];
  networks: string[];
}

function pending(ctx: ControllerContext): PendingRemovals {
  const text = ctx.store.getMeta(PENDING_KEY);
  return text ? (JSON.parse(text) as PendingRemovals) : { endpoints: [], networks: [] };
}

function setPending(ctx: ControllerContext, kind: keyof PendingRemovals, dockerId: string, waiting: boolean): void {
  const all = pending(ctx);
  const others = all[kind].filter((id) => id !== dockerId);
  if (!waiting && others.length === all[kind].length) return;
  ctx.store.transaction((tx) => tx.setMeta(PENDING_KEY, JSON.stringify({ ...all, [kind]: waiting ? [...others, dockerId] : others })));
}

async function deferIfUnavailable(ctx: ControllerContext, kind: keyof PendingRemovals, dockerId: string, remove: () => Promise<boolean>): Promise<boolean> {
  try {
    const removed = await remove();
    setPending(ctx, kind, dockerId, false);
    return removed;
  } catch (err) {
    if (!(err instanceof CnmError) || err.kind !== 'unavailable') throw err;
    ctx.log.log('warn', 'a Docker removal waits for the cluster store', { [kind]: dockerId, error: err.message });
    setPending(ctx, kind, dockerId, true);
    return true;
  }
}

/**
 * The removals that waited for the cluster store, tried again (endpoints first). The first that
 * finds the store unreachable again ends the round (each further try would wait out its deadline
 * inside the queue). One that fails otherwise is logged and dropped: dockerd has forgotten it
 * already, as after a DeleteEndpoint that failed, and it must not hold up the others for good.
 */
export async function retryDockerRemovals(ctx: ControllerContext): Promise<void> {
  const all = pending(ctx);
  const removals = [
    ...all.endpoints.map((id) => ({ kind: 'endpoints' as const, id, remove: () => removeHandoff(ctx, id) })),
    ...all.networks.map((id) => ({ kind: 'networks' as const, id, remove: () => removeDockerNetwork(ctx, id) })),
  ];
  for (const { kind, id, remove } of removals) {
    try {
      await remove();
    } catch (err) {
      if (err instanceof CnmError && err.kind === 'unavailable') return;
      ctx.log.log('error', 'a Docker removal that waited for the cluster store failed: given up, what it left stays', { [kind]: id, error: err instanceof Error ? err.message : String(err) });
    }
    setPending(ctx, kind, id, false);
  }
}

/** Whether removals wait for the cluster store. */
export function hasPendingDockerRemovals(ctx: ControllerContext): boolean {
  const all = pending(ctx);
  return all.endpoints.length + all.networks.length > 0;
}

/**
 * ProgramExternalConnectivity: the container's -p ports, published by cnm's NAT on the endpoint
 * (dockerd runs no proxy for plugin networks). Replaces what was published before; all or
 * nothing. Unknown endpoints are an error (Docker calls this after CreateEndpoint and Join).
 */
export async function publishHandoff(ctx: ControllerContext, dockerEndpointId: string, publish: PublishedPortRequest[]): Promise<PortBindingRecord[]> {
  const sandbox = handoffSandbox(ctx, dockerEndpointId);
  if (!sandbox) throw notFound(`cnm has no endpoint ${dockerEndpointId.slice(0, 12)}: it failed or was removed; start the container again`);
  const endpoints = ctx.state.endpointsOfSandbox(sandbox.id);
  const next: HandoffSandbox = { ...sandbox, publish };
  const copies = endpoints.map((e) => ({ ...e, ports: [] as PortBindingRecord[] }));
  await withUndo(ctx.log, `publish the ports of Docker endpoint ${dockerEndpointId.slice(0, 12)}`, async (undo) => {
    releasePorts(ctx, endpoints);
    undo.push('the host ports the endpoint had', () => restorePortsOf(ctx, endpoints));
    allocatePorts(ctx, next, copies);
    undo.push('the host ports just allocated', () => releasePorts(ctx, copies));
    ctx.store.transaction((tx) => {
      tx.putSandbox(next);
      for (const e of copies) tx.putEndpoint(e);
    });
  });
  ctx.state.sandboxes.set(next.id, next);
  for (const e of copies) ctx.state.endpoints.set(e.id, e);
  return copies.flatMap((e) => e.ports);
}

/** RevokeExternalConnectivity: idempotent. */
export async function revokeHandoff(ctx: ControllerContext, dockerEndpointId: string): Promise<void> {
  const sandbox = handoffSandbox(ctx, dockerEndpointId);
  if (!sandbox || (!sandbox.publish.length && ctx.state.endpointsOfSandbox(sandbox.id).every((e) => !e.ports.length))) return;
  await publishHandoff(ctx, dockerEndpointId, []);
}

/** Holds again the ports endpoints had, after a refused change. */
function restorePortsOf(ctx: ControllerContext, endpoints: EndpointRecord[]): void {
  for (const e of endpoints) {
    const sandbox = ctx.state.sandboxes.get(e.sandboxId);
    if (!sandbox || !e.ports.length) continue;
    allocatePorts(ctx, { ...sandbox, publish: e.ports.map((p) => ({ proto: p.proto, containerPort: p.containerPort, hostIp: p.hostIp, hostPortStart: p.hostPort, hostPortEnd: p.hostPort })) }, [{ ...e }]);
  }
}
