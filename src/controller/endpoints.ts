/**
 * Endpoints: the join of a sandbox and a network. Planning (validation and allocation) is
 * synchronous, so concurrent operations never race for an address; the kernel work that
 * follows is undone if anything later fails.
 */
import { forbidden, invalid } from '../errors';
import { stripPrefixLength } from '../ipam';
import type { JoinResult } from '../drivers/api';
import type { ControllerContext } from './context';
import { macFor, toDriverEndpoint, toDriverNetwork, toDriverSandbox } from './context';
import { cidrContains, withPrefixLength } from '../ipam/cidr';
import { addressSource } from './addresses';
import { newId, shortId } from './ids';
import type { JournalEntry } from './journal';
import { leaveEndpointKernel } from './teardown';
import type { UndoStack } from './undo';
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
  const driver = ctx.drivers.get(network.driver);
  if (!creating) {
    if (driver.sandboxNamespace === 'daemon') throw invalid('container cannot be disconnected from host network or connected to host network');
    if (sandbox.mode.kind !== 'own' && sandbox.mode.kind !== 'attached' && sandbox.mode.kind !== 'handoff') {
      throw forbidden('container sharing network namespace with another container or host cannot be connected to any other network');
    }
  }
  checkExclusive(ctx, network, existing);
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

/** A sandbox on an exclusive network (none) is on no other. */
export function checkExclusive(ctx: ControllerContext, network: NetworkRecord, existing: EndpointRecord[]): void {
  const exclusive = (n: NetworkRecord | undefined): boolean => n !== undefined && ctx.drivers.get(n.driver).exclusive;
  if ((exclusive(network) && existing.length > 0) || existing.some((e) => exclusive(ctx.state.networks.get(e.networkId)))) {
    throw forbidden('container cannot be connected to multiple networks with one of the networks in private (none) mode');
  }
}

export function checkAliases(network: NetworkRecord, aliases: string[]): void {
  if (aliases.length && network.predefined) throw invalid('network-scoped aliases are only supported for user-defined networks');
  for (const alias of aliases) {
    if (!ALIAS.test(alias)) throw invalid(`invalid alias "${alias}": use letters, digits, '_', '.' and '-', starting and ending with a letter or digit`);
  }
}

/**
 * Allocates what a new endpoint needs, each address with its undo. Runs inside the controller's
 * serial queue, so local allocations never race.
 */
export async function planEndpoint(ctx: ControllerContext, undo: UndoStack, sandbox: SandboxRecord, network: NetworkRecord, req: EndpointRequest, seq: number): Promise<EndpointRecord> {
  const hasInterface = ctx.drivers.get(network.driver).hasInterface;
  const source = addressSource(ctx, network, { reserved: Boolean(req.reserved) });
  const addresses: Record<4 | 6, string> = { 4: '', 6: '' };
  for (const family of [4, 6] as const) {
    if (!network.pools.some((p) => p.family === family)) continue;
    const preferred = family === 4 ? req.ipv4 : req.ipv6;
    const address = await source.request(family, preferred || undefined);
    undo.push(`address ${address} of network ${network.name}`, () => source.release(address));
    const pool = network.pools.find((p) => p.family === family && cidrContains(p.subnet, address))!;
    addresses[family] = withPrefixLength(address, pool.subnet);
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
  // A handoff interface is back in the daemon's namespace under its temporary name once Docker
  // released it (libnetwork moves non-veth links back), or gone with the container's namespace.
  const deleteInterface = sandbox.mode.kind === 'own' || sandbox.mode.kind === 'handoff';
  return { op: 'join', driver: network.driver, network: toDriverNetwork(network), endpoint: toDriverEndpoint(e), sandbox: toDriverSandbox(ctx, sandbox), deleteInterface };
}

/**
 * Kernel side of a join: the driver's interface, then addresses and link state inside. Returns
 * the endpoint with the gateways the driver's join reported (to record before the commit). Half
 * done when it fails: leaveKernel removes what it made.
 */
export async function joinKernel(ctx: ControllerContext, e: EndpointRecord, network: NetworkRecord, sandbox: SandboxRecord): Promise<EndpointRecord> {
  const driver = ctx.drivers.get(network.driver);
  const sb = toDriverSandbox(ctx, sandbox);
  const joined = await driver.join(toDriverNetwork(network), toDriverEndpoint(e), sb);
  // A handoff interface gets its addresses from libnetwork once moved into the container.
  if (e.ifName && sandbox.mode.kind !== 'handoff') await ctx.os.configureInterface(sb.nsPath, { ifName: e.ifName, addresses: [e.ipv4, e.ipv6].filter(Boolean) });
  return withGateways(e, joined);
}

function withGateways(e: EndpointRecord, joined: JoinResult): EndpointRecord {
  const { gatewayV4: _v4, gatewayV6: _v6, ...rest } = e;
  return { ...rest, ...(joined.gatewayV4 ? { gatewayV4: joined.gatewayV4 } : {}), ...(joined.gatewayV6 ? { gatewayV6: joined.gatewayV6 } : {}) };
}

/** Kernel side of a leave: the one endpoint teardown (teardown.ts), from the records. */
export async function leaveKernel(ctx: ControllerContext, e: EndpointRecord, network: NetworkRecord, sandbox: SandboxRecord): Promise<void> {
  await leaveEndpointKernel(ctx, joinJournal(ctx, e, network, sandbox));
}

/**
 * The sandbox's default route goes through its first endpoint (in connect order) on a network
 * with a way out, as in Docker; it is added when the sandbox has none (first join, or after the
 * endpoint that carried it left).
 */
export async function ensureDefaultRoutes(ctx: ControllerContext, sandbox: SandboxRecord, endpoints: EndpointRecord[], undo?: UndoStack): Promise<void> {
  if (sandbox.mode.kind !== 'own' && sandbox.mode.kind !== 'attached') return;
  const nsPath = toDriverSandbox(ctx, sandbox).nsPath;
  for (const family of [4, 6] as const) {
    const gw = defaultRouteEndpoint(endpoints, family);
    if (!gw || (await ctx.os.hasDefaultRoute(nsPath, family))) continue;
    const route = { ifName: gw.endpoint.ifName, gateway: gw.gateway };
    // Through an interface the operation keeps, the route outlives an undo of its interfaces.
    undo?.push(`the IPv${family} default route via ${route.ifName} in ${sandbox.name}`, () => ctx.os.deleteDefaultRoutes(nsPath, [route]));
    await ctx.os.addDefaultRoutes(nsPath, [route]);
  }
}

/** The first endpoint, in connect order, whose driver gave it a gateway of the family. */
function defaultRouteEndpoint(endpoints: EndpointRecord[], family: 4 | 6): { endpoint: EndpointRecord; gateway: string } | undefined {
  for (const e of [...endpoints].sort((a, b) => a.seq - b.seq)) {
    const gateway = family === 4 ? e.gatewayV4 : e.gatewayV6;
    if (gateway && e.ifName) return { endpoint: e, gateway };
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

