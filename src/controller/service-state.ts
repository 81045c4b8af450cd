/**
 * What the embedded DNS and the NAT service should look like, derived from the controller's
 * records. Pure: the services receive the whole desired state after every change and work out
 * the difference themselves.
 */
import type { DriverRegistry } from '../drivers/registry';
import type { NatNetwork, NatPortMapping, NatState } from '../nat';
import type { DnsNetwork, DnsSandbox, DnsState } from '../resolver';
import { toDriverNetwork } from './context';
import { shortId } from './ids';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from './model';
import type { State } from './state';

const bare = (cidr: string): string => cidr.split('/')[0]!;

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
      ports.push({ networkId: e.networkId, bridge, proto: p.proto, hostIp: p.hostIp, hostPort: p.hostPort, containerIp: bare(containerIp), containerPort: p.containerPort });
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

export function dnsState(state: State, drivers: DriverRegistry, nsPathOf: (sandboxId: string) => string): DnsState {
  const networks: DnsNetwork[] = [];
  const served = new Set<string>();
  for (const n of state.networks.values()) {
    if (!hasServiceDiscovery(n, drivers)) continue;
    served.add(n.id);
    networks.push({
      id: n.id,
      name: n.name,
      internal: n.internal,
      endpoints: [
        ...state.endpointsOfNetwork(n.id).flatMap((e) => {
          const s = state.sandboxes.get(e.sandboxId);
          if (!s) return [];
          return [{ sandboxId: s.id, names: dnsNames(s, e), ...(e.ipv4 ? { ipv4: bare(e.ipv4) } : {}), ...(e.ipv6 ? { ipv6: bare(e.ipv6) } : {}) }];
        }),
        // Sandboxes on other hosts, for global networks.
        ...state.remoteEndpoints
          .filter((r) => r.networkId === n.id)
          .map((r) => ({ sandboxId: r.sandboxId, names: r.names, ...(r.ipv4 ? { ipv4: bare(r.ipv4) } : {}), ...(r.ipv6 ? { ipv6: bare(r.ipv6) } : {}) })),
      ],
    });
  }
  const sandboxes: DnsSandbox[] = [];
  for (const s of state.sandboxes.values()) {
    if (s.mode.kind !== 'own') continue;
    const networkIds = state.endpointsOfSandbox(s.id).map((e) => e.networkId).filter((id) => served.has(id));
    if (!networkIds.length) continue;
    const ndots = s.dns.options.find((o) => o.startsWith('ndots:'));
    sandboxes.push({ id: s.id, nsPath: nsPathOf(s.id), networkIds, ...(ndots ? { ndots: Number(ndots.slice('ndots:'.length)) } : {}) });
  }
  return { networks, sandboxes };
}
