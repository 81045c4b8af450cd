/**
 * Endpoints: the join of a sandbox and a network. Planning (validation and allocation) is
 * synchronous, so concurrent operations never race for an address; the kernel work that
 * follows is undone if anything later fails.
 */
import { forbidden, invalid } from '../errors';
import { addDefaultRoutes, configureInterface, deleteInterfaces, hasDefaultRoute } from '../os/sandbox-net';
import { stripPrefixLength } from '../ipam';
import type { ControllerContext } from './context';
import { macFor, toDriverEndpoint, toDriverNetwork, toDriverSandbox } from './context';
import { cidrContains, withPrefixLength } from '../ipam/cidr';
import { addressSource } from './addresses';
import { newId, shortId } from './ids';
import type { JournalEntry } from './journal';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from './model';

export interface EndpointRequest {
  ipv4?: string;
  ipv6?: string;
  aliases?: string[];
  driverOptions?: Record<string, string>;
  /** the interface's name inside the sandbox (a CNI runtime's CNI_IFNAME); eth<N> otherwise */
  ifName?: string;
  /** a MAC the runtime asked for; Docker's scheme (02:42 and the IPv4 address) otherwise */
  mac?: string;
  /** the static addresses are this host's already in the cluster store (the Docker IPAM plugin reserved them) */
  reserved?: boolean;
}

const ALIAS = /^[a-zA-Z0-9]([a-zA-Z0-9_.-]{0,251}[a-zA-Z0-9])?$/;

/** Docker's refusals for joining this sandbox to this network. */
export function checkCanJoin(ctx: ControllerContext, sandbox: SandboxRecord, network: NetworkRecord, req: EndpointRequest, creating: boolean): void {
  const existing = ctx.state.endpointsOfSandbox(sandbox.id);
  if (ctx.state.endpointOf(network.id, sandbox.id)) {
    throw forbidden(`endpoint with name ${sandbox.name} already exists in network ${network.name}`);
  }
  if (!creating) {
    if (network.driver === 'host') throw invalid('container cannot be disconnected from host network or connected to host network');
    if (sandbox.mode.kind !== 'own' && sandbox.mode.kind !== 'attached' && sandbox.mode.kind !== 'handoff') {
      throw forbidden('container sharing network namespace with another container or host cannot be connected to any other network');
    }
  }
  const onNone = existing.some((e) => ctx.state.networks.get(e.networkId)?.driver === 'null');
  if ((network.driver === 'null' && existing.length > 0) || onNone) {
    throw forbidden('container cannot be connected to multiple networks with one of the networks in private (none) mode');
  }
  if ((req.ipv4 || req.ipv6) && network.predefined) {
    throw invalid('user specified IP address is supported on user defined networks only');
  }
  checkAliases(network, req.aliases ?? []);
  for (const [family, address] of [[4, req.ipv4], [6, req.ipv6]] as const) {
    if (!address) continue;
    const pool = network.pools.find((p) => p.family === family);
    if (pool?.auto) throw invalid('user specified IP address is supported only when connecting to networks with user configured subnets');
    if (!pool && family === 6) throw invalid(`network ${network.name} has no IPv6 subnet: create it with --ipv6 --subnet <v6 CIDR> to use --ip6`);
  }
}

export function checkAliases(network: NetworkRecord, aliases: string[]): void {
  if (aliases.length && network.predefined) throw invalid('network-scoped aliases are only supported for user-defined networks');
  for (const alias of aliases) {
    if (!ALIAS.test(alias)) throw invalid(`invalid alias "${alias}": use letters, digits, '_', '.' and '-', starting and ending with a letter or digit`);
  }
}

/**
 * Allocates what a new endpoint needs; release with releaseEndpointAddresses on failure. Runs
 * inside the controller's serial queue, so local allocations never race.
 */
export async function planEndpoint(ctx: ControllerContext, sandbox: SandboxRecord, network: NetworkRecord, req: EndpointRequest, seq: number): Promise<EndpointRecord> {
  const driver = ctx.drivers.get(network.driver);
  const hasInterface = driver.name !== 'host' && driver.name !== 'null';
  const source = addressSource(ctx, network, { reserved: Boolean(req.reserved) });
  const addresses: Record<4 | 6, string> = { 4: '', 6: '' };
  try {
    for (const family of [4, 6] as const) {
      if (!network.pools.some((p) => p.family === family)) continue;
      const preferred = family === 4 ? req.ipv4 : req.ipv6;
      const address = await source.request(family, preferred || undefined);
      const pool = network.pools.find((p) => p.family === family && cidrContains(p.subnet, address))!;
      addresses[family] = withPrefixLength(address, pool.subnet);
    }
  } catch (err) {
    for (const cidr of Object.values(addresses)) if (cidr) await source.release(stripPrefixLength(cidr)).catch(() => undefined);
    throw err;
  }
  const ipv4 = addresses[4];
  const ipv6 = addresses[6];
  return {
    id: newId(),
    networkId: network.id,
    sandboxId: sandbox.id,
    ifName: hasInterface ? req.ifName || `eth${sandbox.nextInterface}` : '',
    mac: hasInterface ? req.mac || macFor(ipv4) : '',
    ipv4,
    ipv6,
    staticIpv4: req.ipv4 ?? '',
    staticIpv6: req.ipv6 ?? '',
    aliases: [...new Set(req.aliases ?? [])],
    driverOptions: req.driverOptions ?? {},
    ports: [],
    seq,
  };
}

export async function releaseEndpointAddresses(ctx: ControllerContext, e: EndpointRecord): Promise<void> {
  const network = ctx.state.networks.get(e.networkId);
  if (!network) return;
  const source = addressSource(ctx, network);
  for (const cidr of [e.ipv4, e.ipv6]) {
    if (!cidr) continue;
    try {
      await source.release(stripPrefixLength(cidr));
    } catch (err) {
      // A global address this host fails to release goes with the host's lease.
      ctx.log.log('warn', 'could not release an address', { network: network.name, address: cidr, error: String(err) });
    }
  }
}

export function joinJournal(ctx: ControllerContext, e: EndpointRecord, network: NetworkRecord, sandbox: SandboxRecord): Extract<JournalEntry, { op: 'join' }> {
  return { op: 'join', driver: network.driver, network: toDriverNetwork(network), endpoint: toDriverEndpoint(e), sandbox: toDriverSandbox(ctx, sandbox) };
}

/** Kernel side of a join: the driver's interface, then addresses and link state inside. */
export async function joinKernel(ctx: ControllerContext, e: EndpointRecord, network: NetworkRecord, sandbox: SandboxRecord): Promise<void> {
  const driver = ctx.drivers.get(network.driver);
  const sb = toDriverSandbox(ctx, sandbox);
  await driver.join(toDriverNetwork(network), toDriverEndpoint(e), sb);
  try {
    // A handoff interface gets its addresses from libnetwork once moved into the container.
    if (e.ifName && sandbox.mode.kind !== 'handoff') await configureInterface(sb.nsPath, { ifName: e.ifName, addresses: [e.ipv4, e.ipv6].filter(Boolean) });
  } catch (err) {
    await leaveKernel(ctx, e, network, sandbox).catch(() => undefined);
    throw err;
  }
}

export async function leaveKernel(ctx: ControllerContext, e: EndpointRecord, network: NetworkRecord, sandbox: SandboxRecord): Promise<void> {
  const driver = ctx.drivers.get(network.driver);
  const sb = toDriverSandbox(ctx, sandbox);
  await driver.leave(toDriverNetwork(network), toDriverEndpoint(e), sb);
  // A handoff interface is back in the daemon's namespace under its temporary name once Docker
  // released it (libnetwork moves non-veth links back), or gone with the container's namespace.
  if (e.ifName && (sandbox.mode.kind === 'own' || sandbox.mode.kind === 'handoff')) await deleteInterfaces(sb.nsPath, [e.ifName]).catch(() => undefined);
}

/**
 * The sandbox's default route goes through its first endpoint (in connect order) on a network
 * with a way out, as in Docker; it is added when the sandbox has none (first join, or after the
 * endpoint that carried it left).
 */
export async function ensureDefaultRoutes(ctx: ControllerContext, sandbox: SandboxRecord, endpoints: EndpointRecord[]): Promise<void> {
  if (sandbox.mode.kind !== 'own' && sandbox.mode.kind !== 'attached') return;
  const nsPath = toDriverSandbox(ctx, sandbox).nsPath;
  for (const family of [4, 6] as const) {
    const gw = gatewayEndpoint(ctx, endpoints, family);
    if (!gw || (await hasDefaultRoute(nsPath, family))) continue;
    await addDefaultRoutes(nsPath, [{ ifName: gw.endpoint.ifName, gateway: gw.gateway }]);
  }
}

function gatewayEndpoint(ctx: ControllerContext, endpoints: EndpointRecord[], family: 4 | 6): { endpoint: EndpointRecord; gateway: string } | undefined {
  for (const e of [...endpoints].sort((a, b) => a.seq - b.seq)) {
    const network = ctx.state.networks.get(e.networkId);
    if (!network || network.internal || !e.ifName || !(family === 4 ? e.ipv4 : e.ipv6)) continue;
    const driver = ctx.drivers.get(network.driver);
    // No way out of its own: an isolated macvlan, or an overlay (its gateway bridge carries the route).
    if (driver.isolated?.(toDriverNetwork(network)) || driver.needsGatewayBridge) continue;
    const pool = network.pools.find((p) => p.family === family && p.gateway);
    if (pool?.gateway) return { endpoint: e, gateway: pool.gateway };
  }
  return undefined;
}

/** Docker's endpoint Aliases: user aliases, then the short id, then the hostname if set by the user. */
export function endpointAliases(sandbox: SandboxRecord, e: EndpointRecord, network: NetworkRecord): string[] | null {
  if (network.predefined) return null;
  const out = [...e.aliases, shortId(sandbox.id)];
  if (sandbox.hostname && sandbox.hostname !== shortId(sandbox.id)) out.push(sandbox.hostname);
  return out;
}

