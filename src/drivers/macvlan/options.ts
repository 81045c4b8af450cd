/**
 * The macvlan driver's -o options parsed into typed settings, and the plan derived from a network:
 * which parent its sandboxes hang off, the names and tags of the kernel objects it owns, where the
 * host's shim sits. Pure.
 */
import { invalid } from '../../errors';
import type { PoolConfig } from '../../ipam';
import type { MacvlanMode } from '../../os/links';
import type { DriverEndpoint, DriverNetwork } from '../api';
import { ownerTags, parseBoolOption } from '../shared-options';

export const MACVLAN_OPTIONS = { parent: 'parent', mode: 'macvlan_mode', hostAccess: 'host_access' } as const;
/** `--aux-address host_access=IP`: the host's address on the network (see shimAddresses). */
export const HOST_ACCESS_AUX = 'host_access';

const MODES: readonly MacvlanMode[] = ['bridge', 'private', 'vepa', 'passthru'];
const KNOWN = new Set<string>(Object.values(MACVLAN_OPTIONS));
/** What the kernel accepts as an interface name (IFNAMSIZ - 1, no '/', ':' or whitespace). */
const IFNAME = /^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,14}$/;

export interface MacvlanSettings {
  /** -o parent as given; absent (or empty) for an isolated network */
  parent?: string;
  mode: MacvlanMode;
  hostAccess: boolean;
}

export function parseMacvlanOptions(options: Record<string, string>): MacvlanSettings {
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw invalid(`unknown option "${key}" for driver macvlan; known options: ${[...KNOWN].join(', ')}`);
  }
  const parent = options[MACVLAN_OPTIONS.parent] || undefined;
  if (parent !== undefined && !IFNAME.test(parent)) {
    throw invalid(`invalid parent interface name "${parent}": use 1-15 letters, digits, '_', '.' or '-' (a VLAN sub-interface is named like eth0.10)`);
  }
  // Docker: an empty mode is the default, bridge.
  const modeText = options[MACVLAN_OPTIONS.mode] || 'bridge';
  if (!(MODES as readonly string[]).includes(modeText)) {
    throw invalid(`requested macvlan mode '${modeText}' is not valid, 'bridge' mode is the macvlan driver default`);
  }
  const mode = modeText as MacvlanMode;
  const hostAccess = parseBoolOption(MACVLAN_OPTIONS.hostAccess, options[MACVLAN_OPTIONS.hostAccess] ?? 'false');
  // The shim is one more macvlan on the parent: it reaches the sandboxes only the way they reach
  // each other (bridge: inside the kernel; vepa: through a reflective switch).
  if (hostAccess && (mode === 'private' || mode === 'passthru')) {
    throw invalid(`host_access=true needs macvlan_mode bridge or vepa: in ${mode} mode the host's macvlan could not reach the sandboxes`);
  }
  return { ...(parent !== undefined ? { parent } : {}), mode, hostAccess };
}

/** The parent of a network that has no real one: a portless bridge the driver owns (Docker: a dummy named dm-<id>). */
export function isolatedParentName(networkId: string): string {
  return `dm-${networkId.slice(0, 12)}`;
}

/** The host's macvlan on the parent, for host_access. */
export function shimName(networkId: string): string {
  return `mh-${networkId.slice(0, 12)}`;
}

/** A VLAN link being made, before it is renamed to the parent's name and tagged in one step. */
export function vlanStagingName(networkId: string): string {
  return `vt-${networkId.slice(0, 12)}`;
}

/** IFLA_IFALIAS of every link the driver creates in the host namespace (ownerTag), read back (ownerOf). */
export const { ownerTag, ownerOf } = ownerTags('macvlan');

/**
 * Where a network's sandboxes hang off: the user's parent, or a private one when the network is
 * --internal or has no parent (Docker ignores -o parent on --internal networks too).
 */
export function parentOf(network: Pick<DriverNetwork, 'id' | 'internal'>, settings: MacvlanSettings): string {
  return settings.parent && !network.internal ? settings.parent : isolatedParentName(network.id);
}

export interface VlanSpec {
  /** the interface carrying the tagged frames (eth0 for eth0.10) */
  base: string;
  vid: number;
}

/** `eth0.10` → VLAN 10 on eth0; undefined when the name is not `<interface>.<number>`. */
export function vlanSpec(parent: string): VlanSpec | undefined {
  const m = /^(.+)\.(\d+)$/.exec(parent);
  if (!m) return undefined;
  const vid = Number(m[2]);
  if (vid < 1 || vid > 4094) throw invalid(`cannot create ${parent}: VLAN id ${m[2]} is outside 1-4094`);
  return { base: m[1]!, vid };
}

/**
 * The shim's addresses, one per subnet: the aux address named host_access, which IPAM keeps from
 * every sandbox. Host-sized prefixes: the shim must not take a route to the whole subnet, which
 * would clash with the parent's own when the host has an address on that LAN.
 */
export function shimAddresses(pools: PoolConfig[]): string[] {
  return pools.flatMap((p) => {
    const address = p.auxAddresses[HOST_ACCESS_AUX];
    return address ? [`${address}/${p.family === 4 ? 32 : 128}`] : [];
  });
}

/** The host routes that lead the host to one sandbox through the shim, with the shim's address as source. */
export function hostRoutes(endpoint: Pick<DriverEndpoint, 'ipv4' | 'ipv6'>, shim: string[]): { destination: string; source: string }[] {
  const routes: { destination: string; source: string }[] = [];
  for (const [cidr, bits] of [[endpoint.ipv4, 32], [endpoint.ipv6, 128]] as const) {
    if (!cidr) continue;
    const address = cidr.split('/')[0]!;
    const source = shim.map((s) => s.split('/')[0]!).find((s) => s.includes(':') === address.includes(':'));
    if (source) routes.push({ destination: `${address}/${bits}`, source });
  }
  return routes;
}

/** host_access without its address is refused before any kernel work, naming the fix. */
export function checkHostAccessAddress(network: Pick<DriverNetwork, 'name' | 'pools'>, settings: MacvlanSettings): void {
  if (!settings.hostAccess || shimAddresses(network.pools).length) return;
  // An aux address needs a subnet the user gave: an automatic one cannot carry it.
  const where = network.pools.some((p) => !p.auto) ? `an address in ${network.pools.filter((p) => !p.auto).map((p) => p.subnet).join(' or ')}` : 'an address in the --subnet you give';
  throw invalid(
    `host_access=true needs the host's address on network ${network.name}: add --aux-address ${HOST_ACCESS_AUX}=<${where}> (IPAM reserves it, so no sandbox gets it)`,
  );
}
