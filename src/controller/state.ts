/**
 * The controller's in-memory view of its records, with the indexes every operation needs.
 * It mirrors the store exactly: it changes only together with a committed transaction.
 */
import type { EndpointRecord, NetworkRecord, SandboxRecord } from './model';

export class State {
  readonly networks = new Map<string, NetworkRecord>();
  readonly sandboxes = new Map<string, SandboxRecord>();
  readonly endpoints = new Map<string, EndpointRecord>();

  endpointsOfSandbox(sandboxId: string): EndpointRecord[] {
    return [...this.endpoints.values()].filter((e) => e.sandboxId === sandboxId).sort((a, b) => a.seq - b.seq);
  }

  endpointsOfNetwork(networkId: string): EndpointRecord[] {
    return [...this.endpoints.values()].filter((e) => e.networkId === networkId);
  }

  endpointOf(networkId: string, sandboxId: string): EndpointRecord | undefined {
    for (const e of this.endpoints.values()) if (e.networkId === networkId && e.sandboxId === sandboxId) return e;
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
