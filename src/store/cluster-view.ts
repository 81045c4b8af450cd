/**
 * The cluster as one host last saw it: rebuilt from a full read of the prefix and kept current
 * by watch events. Revisions decide which of the two is newer, so a re-read racing a watch that
 * resumes after a reconnection neither loses nor resurrects anything. Pure.
 */
import type { NetworkRecord } from '../controller/model';
import type { ClusterEndpoint, ClusterHost, ClusterSnapshot } from './cluster';
import { parseKey } from './etcd-keys';

export interface KeyEvent {
  type: 'put' | 'delete';
  /** key relative to the store's prefix */
  key: string;
  value: string;
  /** the etcd revision of the change */
  revision: bigint;
}

export class ClusterView {
  private readonly hosts = new Map<string, ClusterHost>();
  private readonly networks = new Map<string, NetworkRecord>();
  /** by endpoint key */
  private readonly endpoints = new Map<string, ClusterEndpoint>();
  private revision = 0n;
  private cached: ClusterSnapshot | undefined;

  /** The revision everything up to which is reflected here. */
  get appliedRevision(): bigint {
    return this.revision;
  }

  /**
   * Replaces everything with a full read taken at `revision`; true when the snapshot changed.
   * A read older than what is reflected is ignored, unless `rewound` (etcd's data was restored
   * or replaced: its revisions started over).
   */
  reset(kvs: { key: string; value: string }[], revision: bigint, opts: { rewound?: boolean } = {}): boolean {
    if (revision < this.revision && !opts.rewound) return false;
    const before = this.fingerprint();
    this.hosts.clear();
    this.networks.clear();
    this.endpoints.clear();
    for (const kv of kvs) this.put(kv.key, kv.value);
    this.revision = revision;
    this.cached = undefined;
    return this.fingerprint() !== before;
  }

  /** Applies watch events newer than what is already reflected; true when something changed. */
  apply(events: KeyEvent[]): boolean {
    let changed = false;
    for (const event of events) {
      if (event.revision <= this.revision) continue;
      changed = (event.type === 'put' ? this.put(event.key, event.value) : this.remove(event.key)) || changed;
    }
    const last = events.reduce((max, e) => (e.revision > max ? e.revision : max), this.revision);
    this.revision = last;
    if (changed) this.cached = undefined;
    return changed;
  }

  /** Endpoints only of hosts whose lease is alive (their keys vanish together, but not in one event). */
  snapshot(): ClusterSnapshot {
    if (this.cached) return this.cached;
    const hosts = [...this.hosts.values()].sort((a, b) => a.id.localeCompare(b.id));
    const live = new Set(hosts.map((h) => h.id));
    const endpoints = [...this.endpoints.values()].filter((e) => live.has(e.hostId) && this.networks.has(e.networkId)).sort((a, b) => a.id.localeCompare(b.id));
    const networks = [...this.networks.values()].sort((a, b) => a.id.localeCompare(b.id));
    this.cached = { networks, endpoints, hosts };
    return this.cached;
  }

  private put(key: string, value: string): boolean {
    const parsed = parseKey(key);
    const decoded = decode(value);
    if (decoded === undefined) return false;
    switch (parsed.kind) {
      case 'host':
        if (!isHost(decoded) || decoded.id !== parsed.hostId) return false;
        return replace(this.hosts, parsed.hostId, { id: decoded.id, advertise: decoded.advertise });
      case 'network':
        if (!isNetwork(decoded) || decoded.id !== parsed.networkId) return false;
        return replace(this.networks, parsed.networkId, decoded);
      case 'endpoint':
        if (!isEndpoint(decoded) || decoded.id !== parsed.endpointId || decoded.networkId !== parsed.networkId) return false;
        return replace(this.endpoints, key, decoded);
      default:
        return false;
    }
  }

  private remove(key: string): boolean {
    const parsed = parseKey(key);
    switch (parsed.kind) {
      case 'host':
        return this.hosts.delete(parsed.hostId);
      case 'network':
        return this.networks.delete(parsed.networkId);
      case 'endpoint':
        return this.endpoints.delete(key);
      default:
        return false;
    }
  }

  private fingerprint(): string {
    this.cached = undefined;
    return JSON.stringify(this.snapshot());
  }
}

function replace<T>(map: Map<string, T>, key: string, value: T): boolean {
  const old = map.get(key);
  if (old !== undefined && JSON.stringify(old) === JSON.stringify(value)) return false;
  map.set(key, value);
  return true;
}

/** Values written by another (maybe newer or broken) host are checked, never trusted. */
function decode(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return undefined;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';

function isHost(v: unknown): v is ClusterHost {
  return isObject(v) && isString(v.id) && isString(v.advertise);
}

function isNetwork(v: unknown): v is NetworkRecord {
  return isObject(v) && isString(v.id) && isString(v.name) && isString(v.driver) && v.scope === 'global' && Array.isArray(v.pools) && isObject(v.options);
}

function isEndpoint(v: unknown): v is ClusterEndpoint {
  return (
    isObject(v) &&
    isString(v.id) &&
    isString(v.networkId) &&
    isString(v.sandboxId) &&
    Array.isArray(v.names) &&
    v.names.every(isString) &&
    isString(v.ipv4) &&
    isString(v.ipv6) &&
    isString(v.mac) &&
    isString(v.hostId)
  );
}
