/**
 * What every controller operation works with, and the small translations from records to the
 * plain data drivers receive.
 */
import type { DriverEndpoint, DriverNetwork, DriverSandbox } from '../drivers/api';
import type { DriverRegistry } from '../drivers/registry';
import type { Ipam } from '../ipam';
import { stripPrefixLength } from '../ipam';
import type { PortAllocator } from '../nat';
import type { Logger } from '../log';
import type { ResolvConf } from '../os/resolvconf';
import type { ClusterStore } from '../store/cluster';
import type { SqliteStore } from '../store/sqlite';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from './model';
import type { ControllerOs } from './os';
import type { State } from './state';

/** Services told about every committed change (embedded DNS, NAT). */
export interface ChangeListener {
  readonly name: string;
  /** Called after each committed change, inside the operation: the caller returns after it. */
  stateChanged(state: State): Promise<void>;
}

export interface ControllerContext {
  state: State;
  store: SqliteStore;
  ipam: Ipam;
  /** the pools handed to dockerd through the Docker IPAM plugin protocol (docker-ipam.ts) */
  dockerIpam: Ipam;
  drivers: DriverRegistry;
  execRoot: string;
  /** The daemon's upstream view: --dns servers or the host's resolv.conf, with its search/options. */
  hostResolv: () => ResolvConf;
  listeners: ChangeListener[];
  /** The store shared with other hosts, for global-scope (overlay) networks; absent without --cluster-store. */
  cluster?: ClusterStore;
  /** Host ports for published ports (the NAT service's allocator); absent means no publishing. */
  ports?: PortAllocator;
  log: Logger;
  /** the kernel work the controller does itself (namespaces, addresses, routes) */
  os: ControllerOs;
}

export function toDriverNetwork(n: NetworkRecord): DriverNetwork {
  return { id: n.id, name: n.name, options: n.options, pools: n.pools, internal: n.internal, ipv6: n.enableIPv6 };
}

export function toDriverEndpoint(e: EndpointRecord): DriverEndpoint {
  return {
    id: e.id,
    networkId: e.networkId,
    ifName: e.ifName,
    mac: e.mac,
    ...(e.ipv4 ? { ipv4: e.ipv4 } : {}),
    ...(e.ipv6 ? { ipv6: e.ipv6 } : {}),
    driverOptions: e.driverOptions,
  };
}

export function netnsDir(execRoot: string): string {
  return `${execRoot}/netns`;
}

/** Path of the namespace file a sandbox with its own namespace is kept alive by. */
export function ownNetnsPath(execRoot: string, sandboxId: string): string {
  // Plain concatenation: this runs for every sandbox on every DNS update (path.join showed up).
  return `${netnsDir(execRoot)}/${sandboxId}`;
}

/** The namespace a sandbox's programs and interfaces live in. */
export function nsPathOf(ctx: Pick<ControllerContext, 'execRoot' | 'state'>, sandbox: SandboxRecord): string {
  const owner = ctx.state.namespaceOwner(sandbox);
  if (owner.mode.kind === 'host' || owner.mode.kind === 'handoff') return `/proc/${process.pid}/ns/net`;
  if (owner.mode.kind === 'attached') return owner.mode.nsPath;
  return ownNetnsPath(ctx.execRoot, owner.id);
}

export function toDriverSandbox(ctx: Pick<ControllerContext, 'execRoot' | 'state'>, s: SandboxRecord): DriverSandbox {
  return { id: s.id, nsPath: nsPathOf(ctx, s) };
}

/** Docker's MAC scheme: 02:42 followed by the four IPv4 bytes. */
export function macFor(ipv4: string): string {
  if (!ipv4) {
    const bytes = [0x02, 0x42, ...Array.from({ length: 4 }, () => Math.floor(Math.random() * 256))];
    return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
  }
  const octets = stripPrefixLength(ipv4).split('.').map(Number);
  return ['02', '42', ...octets.map((o) => o.toString(16).padStart(2, '0'))].join(':');
}
