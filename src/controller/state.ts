/**
 * The controller's in-memory view of its records, with the indexes every operation needs.
 * It mirrors the store exactly: it changes only together with a committed transaction.
 */
import type { ClusterEndpoint } from '../store/cluster';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from './model';

/** Endpoints by id, also indexed by sandbox and by network (kept in step by set/delete). */
class EndpointTable extends Map<string, EndpointRecord> {
  private readonly bySandbox = new Map<string, Map<string, EndpointRecord>>();
  private readonly byNetwork = new Map<string, Map<string, EndpointRecord>>();

  override set(id: string, e: EndpointRecord): this {
    this.delete(id);
    super.set(id, e);
    index(this.bySandbox, e.sandboxId).set(id, e);
    index(this.byNetwork, e.networkId).set(id, e);
    return this;
  }

  override delete(id: string): boolean {
    const e = this.get(id);
    if (!e) return false;
    unindex(this.bySandbox, e.sandboxId, id);
    unindex(this.byNetwork, e.networkId, id);
    return super.delete(id);
  }

  ofSandbox(sandboxId: string): Iterable<EndpointRecord> {
    return this.bySandbox.get(sandboxId)?.values() ?? [];
  }

  ofNetwork(networkId: string): Iterable<EndpointRecord> {
    return this.byNetwork.get(networkId)?.values() ?? [];
  }
}

function index(maps: Map<string, Map<string, EndpointRecord>>, key: string): Map<string, EndpointRecord> {
  let m = maps.get(key);
  if (!m) maps.set(key, (m = new Map()));
  return m;
}

function unindex(maps: Map<string, Map<string, EndpointRecord>>, key: string, id: string): void {
  const m = maps.get(key);
  m?.delete(id);
  if (m?.size === 0) maps.delete(key);
}

export class State {
  readonly networks = new Map<string, NetworkRecord>();
  readonly sandboxes = new Map<string, SandboxRecord>();
  readonly endpoints = new EndpointTable();
  /** Endpoints of global networks on other hosts, as the cluster store last reported them. */
  remoteEndpoints: ClusterEndpoint[] = [];
  /** Underlay address of each live host of the cluster. */
  readonly hosts = new Map<string, string>();

  endpointsOfSandbox(sandboxId: string): EndpointRecord[] {
    return [...this.endpoints.ofSandbox(sandboxId)].sort((a, b) => a.seq - b.seq);
  }

  endpointsOfNetwork(networkId: string): EndpointRecord[] {
    return [...this.endpoints.ofNetwork(networkId)];
  }

  endpointOf(networkId: string, sandboxId: string): EndpointRecord | undefined {
    for (const e of this.endpoints.ofSandbox(sandboxId)) if (e.networkId === networkId) return e;
    return undefined;
  }

  networkByName(name: string): NetworkRecord | undefined {
    for (const n of this.networks.values()) if (n.name === name) return n;
    return undefined;
  }

  sandboxByName(name: string): SandboxRecord | undefined {
    for (const s of this.sandboxes.values()) if (s.name === name) return s;
    return undefined;
  }

  /** Sandboxes that use another sandbox's namespace. */
  dependentsOf(sandboxId: string): SandboxRecord[] {
    return [...this.sandboxes.values()].filter((s) => s.mode.kind === 'container' && s.mode.sandboxId === sandboxId);
  }

  /** The sandbox whose namespace this one uses (itself unless container: mode). */
  namespaceOwner(sandbox: SandboxRecord): SandboxRecord {
    let current = sandbox;
    // container:X chains are resolved at creation, but follow them defensively.
    for (let i = 0; i < 8 && current.mode.kind === 'container'; i++) {
      const next = this.sandboxes.get(current.mode.sandboxId);
      if (!next) break;
      current = next;
    }
    return current;
  }
}
