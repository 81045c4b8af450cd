/**
 * What cnm-dns serves, derived from the parsed networks as plain data (unit-tested without root):
 * the resolver state (one DnsNetwork per Podman network, one "sandbox" per container: its view is
 * every network it is on, as aardvark's), the addresses to listen on, which view a source address
 * gets, and where each view's forwarded names go.
 */
import type { DnsEndpoint, DnsNetwork, DnsSandbox, DnsState } from '../resolver';
import type { PodmanNetwork } from './config';

export interface ListenAddress {
  readonly address: string;
  readonly family: 4 | 6;
  /** The view of a source address no container has (the host, a stranger): this network's names. */
  readonly fallbackView: string;
}

export interface Plan {
  readonly state: DnsState;
  readonly listen: readonly ListenAddress[];
  /** Container address → its view (sandbox id). */
  readonly viewOf: ReadonlyMap<string, string>;
  /** View → configured DNS servers; a view not listed forwards to the host's resolv.conf. */
  readonly serversOf: ReadonlyMap<string, readonly string[]>;
  readonly containers: number;
}

/** The view of unknown askers on one network (never a container id: those are hex). */
export const fallbackViewOf = (network: string): string => `network:${network}`;

/**
 * domain: the search domain containers get (`dns.podman`); every name is also answered as
 * `name.<domain>`, which is how aardvark's `.dns.podman` stripping looks to a client.
 */
export function planOf(networks: readonly PodmanNetwork[], domain: string): Plan {
  const sorted = [...networks].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const dnsNetworks: DnsNetwork[] = [];
  const sandboxes = new Map<string, { networkIds: string[]; servers: string[] | null; networkServers: string[]; internalOnly: boolean }>();
  const viewOf = new Map<string, string>();
  const listen: ListenAddress[] = [];
  const listening = new Set<string>();
  let containers = 0;

  for (const network of sorted) {
    const endpoints: DnsEndpoint[] = [];
    for (const c of network.containers) {
      // A container with several addresses of a family on one network: one endpoint per address,
      // sharing its names (every address answers); the extra ones get ids of their own.
      const count = Math.max(1, c.ipv4.length, c.ipv6.length);
      for (let k = 0; k < count; k++) {
        const endpoint: DnsEndpoint = { sandboxId: k === 0 ? c.id : `${c.id}#${k}`, names: c.names };
        endpoints.push({ ...endpoint, ...(c.ipv4[k] !== undefined ? { ipv4: c.ipv4[k] } : {}), ...(c.ipv6[k] !== undefined ? { ipv6: c.ipv6[k] } : {}) });
      }
      let sandbox = sandboxes.get(c.id);
      if (sandbox === undefined) {
        sandbox = { networkIds: [], servers: null, networkServers: [], internalOnly: true };
        sandboxes.set(c.id, sandbox);
        containers++;
      }
      sandbox.networkIds.push(network.name);
      if (!network.internal) {
        sandbox.internalOnly = false;
        // aardvark: the container's own servers (from a non-internal network), else the union
        // of its networks' servers, else the host's.
        if (c.dnsServers.length > 0 && sandbox.servers === null) sandbox.servers = [...c.dnsServers];
        for (const s of network.dnsServers) if (!sandbox.networkServers.includes(s)) sandbox.networkServers.push(s);
      }
      for (const address of [...c.ipv4, ...c.ipv6]) if (!viewOf.has(address)) viewOf.set(address, c.id);
    }
    dnsNetworks.push({ id: network.name, name: domain, internal: network.internal, endpoints });
    for (const address of network.gateways) {
      if (listening.has(address)) continue;
      listening.add(address);
      listen.push({ address, family: address.includes(':') ? 6 : 4, fallbackView: fallbackViewOf(network.name) });
    }
  }

  const dnsSandboxes: DnsSandbox[] = [];
  const serversOf = new Map<string, readonly string[]>();
  for (const [id, s] of sandboxes) {
    dnsSandboxes.push({ id, nsPath: '', networkIds: s.networkIds });
    const servers = s.servers ?? s.networkServers;
    if (!s.internalOnly && servers.length > 0) serversOf.set(id, servers);
  }
  for (const network of sorted) dnsSandboxes.push({ id: fallbackViewOf(network.name), nsPath: '', networkIds: [network.name] });
  return { state: { networks: dnsNetworks, sandboxes: dnsSandboxes }, listen, viewOf, serversOf, containers };
}
