/**
 * What the embedded DNS and the NAT service should look like, derived from the controller's
 * records. Pure: the services receive the whole desired state after every change and work out
 * the difference themselves.
 */
import type { DriverRegistry } from '../drivers/registry';
import { stripPrefixLength } from '../ipam';
import type { NatNetwork, NatPortMapping, NatState } from '../nat';
import type { DnsEndpoint, DnsNetwork, DnsSandbox, DnsState } from '../resolver';
import { toDriverNetwork } from './context';
import { shortId } from './ids';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from './model';
import type { State } from './state';

export function natState(state: State, drivers: DriverRegistry): NatState {
  const networks: NatNetwork[] = [];
  const bridges = new Map<string, string>();
  for (const n of state.networks.values()) {
    const ext = drivers.get(n.driver).externalConnectivity?.(toDriverNetwork(n));
    if (!ext) continue;
    bridges.set(n.id, ext.bridge);
    networks.push({ id: n.id, bridge: ext.bridge, subnets: n.pools.map((p) => p.subnet), internal: n.internal, icc: ext.icc, masquerade: ext.masquerade });
  }
  const ports: NatPortMapping[] = [];
  for (const e of state.endpoints.values()) {
    const bridge = bridges.get(e.networkId);
    if (!bridge) continue;
    for (const p of e.ports) {
      const containerIp = p.hostIp.includes(':') ? e.ipv6 : e.ipv4;
      if (!containerIp) continue;
      ports.push({ networkId: e.networkId, bridge, proto: p.proto, hostIp: p.hostIp, hostPort: p.hostPort, containerIp: stripPrefixLength(containerIp), containerPort: p.containerPort });
    }
  }
  return { networks, ports };
}

/** Networks served by the embedded DNS: user-defined ones of drivers with service discovery. */
export function hasServiceDiscovery(n: NetworkRecord, drivers: DriverRegistry): boolean {
  return !n.predefined && drivers.get(n.driver).serviceDiscovery;
}

/** The names a sandbox answers to on one network: name, short id, hostname, aliases. */
export function dnsNames(s: SandboxRecord, e: EndpointRecord): string[] {
  return [...new Set([s.name, shortId(s.id), s.hostname, ...e.aliases])];
}

/**
 * Endpoint records are replaced, never changed, and a sandbox's name and hostname never change:
 * the DNS view of a record is computed once. At 1,000 sandboxes this keeps a connect from
 * rebuilding a thousand entries the resolver would then find unchanged.
 */
const dnsEndpointCache = new WeakMap<EndpointRecord, DnsEndpoint>();

function dnsEndpoint(s: SandboxRecord, e: EndpointRecord): DnsEndpoint {
  let cached = dnsEndpointCache.get(e);
  if (!cached) {
    cached = toDnsEndpoint(s.id, dnsNames(s, e), e);
    dnsEndpointCache.set(e, cached);
  }
  return cached;
}

function toDnsEndpoint(sandboxId: string, names: string[], a: { ipv4?: string; ipv6?: string }): DnsEndpoint {
  return { sandboxId, names, ...(a.ipv4 ? { ipv4: stripPrefixLength(a.ipv4) } : {}), ...(a.ipv6 ? { ipv6: stripPrefixLength(a.ipv6) } : {}) };
}

export function dnsState(state: State, drivers: DriverRegistry, nsPathOf: (sandbox: SandboxRecord) => string): DnsState {
  const networks: DnsNetwork[] = [];
  const served = new Set<string>();
  // Sandboxes on other hosts, for global networks: grouped once, not scanned per network.
  const remote = new Map<string, DnsEndpoint[]>();
  for (const r of state.remoteEndpoints) {
    const list = remote.get(r.networkId) ?? [];
    list.push(toDnsEndpoint(r.sandboxId, r.names, r));
    remote.set(r.networkId, list);
  }
  for (const n of state.networks.values()) {
    if (!hasServiceDiscovery(n, drivers)) continue;
    served.add(n.id);
    const endpoints: DnsEndpoint[] = [];
    for (const e of state.endpoints.ofNetwork(n.id)) {
      const s = state.sandboxes.get(e.sandboxId);
      if (s) endpoints.push(dnsEndpoint(s, e));
    }
    endpoints.push(...(remote.get(n.id) ?? []));
    networks.push({ id: n.id, name: n.name, internal: n.internal, endpoints });
  }
  const sandboxes: DnsSandbox[] = [];
  for (const s of state.sandboxes.values()) {
    if (s.mode.kind !== 'own' && s.mode.kind !== 'attached') continue;
    const networkIds = state.endpointsOfSandbox(s.id).map((e) => e.networkId).filter((id) => served.has(id));
    if (!networkIds.length) continue;
    const ndots = s.dns.options.find((o) => o.startsWith('ndots:'));
    sandboxes.push({ id: s.id, nsPath: nsPathOf(s), networkIds, ...(ndots ? { ndots: Number(ndots.slice('ndots:'.length)) } : {}) });
  }
  return { networks, sandboxes };
}
