/**
 * Record tables: an immutable snapshot of every name the resolver owns, derived from DnsState by
 * pure functions. A new snapshot reuses everything that did not change (endpoints with the same
 * facts keep their compiled records, networks without changes keep their tables), so a connect
 * costs work proportional to what it touches, not to the number of sandboxes.
 */
import { addressRecord, ptrRecord } from './answers';
import { addressBytes, nameKey, reverseName, wireName } from './names';
import { ShardedMap, type MapEditor } from './sharded-map';
import type { DnsEndpoint, DnsNetwork, DnsSandbox, DnsState } from './state';

/** One endpoint on one network, with its answers compiled (owner = the question). */
export interface CompiledEndpoint {
  readonly sandboxId: string;
  /** The facts it was compiled from, to tell whether a new state changes it. */
  readonly names: readonly string[];
  readonly ipv4: string | undefined;
  readonly ipv6: string | undefined;
  /** Keys of every name and every `name.network`. */
  readonly nameKeys: readonly string[];
  /** Keys of the reverse names of its addresses. */
  readonly reverseKeys: readonly string[];
  readonly a: Buffer | null;
  readonly aaaa: Buffer | null;
  readonly ptr: Buffer | null;
}

/** A name held by several endpoints of one network (a shared alias): every address answers. */
export interface SharedRecords {
  readonly holders: readonly CompiledEndpoint[];
  readonly a: Buffer | null;
  readonly aaaa: Buffer | null;
  readonly ptr: Buffer | null;
}

/** What a key resolves to within one network. Most names have one holder: the endpoint itself. */
export type Records = CompiledEndpoint | SharedRecords;

export interface NetworkTable {
  readonly id: string;
  readonly name: string;
  readonly internal: boolean;
  readonly ttl: number;
  /** Derived from the previous table's by copying only the shards a change touches. */
  readonly names: ShardedMap<Records>;
  readonly reverse: ShardedMap<Records>;
  readonly endpoints: ShardedMap<CompiledEndpoint>;
  /** The endpoints' sandbox ids in the order the state listed them (each once). */
  readonly order: readonly string[];
  /** How it differs from the table it was derived from (absent: made from scratch). */
  readonly changes?: TableChanges;
}

/**
 * The keys whose records differ between a table and its base: the native table re-encodes these
 * only. The base is held weakly: tables derived one from another must not keep every ancestor.
 */
export interface TableChanges {
  readonly base: WeakRef<NetworkTable>;
  readonly names: readonly string[];
  readonly reverse: readonly string[];
}

/** What one sandbox sees. Sandboxes with the same networks and options share one view. */
export interface View {
  /** In the sandbox's connect order. */
  readonly tables: readonly NetworkTable[];
  /** False when every network is internal: nothing is forwarded. */
  readonly forwards: boolean;
  /** The user set ndots > 0: unknown single-label A/AAAA names are answered locally, empty. */
  readonly ndotsSet: boolean;
}

export interface Snapshot {
  readonly tables: ReadonlyMap<string, NetworkTable>;
  readonly views: ReadonlyMap<string, View>;
  readonly sandboxes: ReadonlyMap<string, DnsSandbox>;
}

export const emptySnapshot = (): Snapshot => ({ tables: new Map(), views: new Map(), sandboxes: new Map() });

/** Derives the next snapshot; `problems` lists inputs that were skipped (for the log). */
export function buildSnapshot(prev: Snapshot, state: DnsState, ttl: number): { snapshot: Snapshot; problems: string[] } {
  const problems: string[] = [];
  const tables = new Map<string, NetworkTable>();
  for (const network of state.networks) {
    if (tables.has(network.id)) {
      problems.push(`network ${network.id} is listed twice; the first one is used`);
      continue;
    }
    tables.set(network.id, buildTable(prev.tables.get(network.id), network, ttl, problems));
  }

  // The common update changes no sandbox (a name, an alias, another network changed): the
  // sandbox map is then the previous snapshot's, and its views too when no table changed, so
  // that nothing is rebuilt (or left for the collector) per sandbox.
  if (sameSandboxes(prev, state.sandboxes)) {
    const sameTables = tables.size === prev.tables.size && [...tables].every(([id, table]) => prev.tables.get(id) === table);
    const sandboxProblems: string[] = sameTables ? [...(viewProblems.get(prev) ?? [])] : [];
    const views = sameTables ? prev.views : buildViews(tables, prev.sandboxes.values(), sandboxProblems);
    problems.push(...sandboxProblems);
    const snapshot = { tables, views, sandboxes: prev.sandboxes };
    viewProblems.set(snapshot, sandboxProblems);
    return { snapshot, problems };
  }
  const sandboxes = new Map<string, DnsSandbox>();
  const sandboxProblems: string[] = [];
  for (const sandbox of state.sandboxes) {
    if (sandboxes.has(sandbox.id)) sandboxProblems.push(`sandbox ${sandbox.id} is listed twice; the first one is used`);
    else sandboxes.set(sandbox.id, sandbox);
  }
  const views = buildViews(tables, sandboxes.values(), sandboxProblems);
  problems.push(...sandboxProblems);
  const snapshot = { tables, views, sandboxes };
  viewProblems.set(snapshot, sandboxProblems);
  return { snapshot, problems };
}

/** What a snapshot's sandboxes had to be told (a reused sandbox map reports them again). */
const viewProblems = new WeakMap<Snapshot, readonly string[]>();

/** True when state lists prev's sandboxes, in the same order, with the same facts. */
function sameSandboxes(prev: Snapshot, list: readonly DnsSandbox[]): boolean {
  if (prev.sandboxes.size !== list.length || !viewProblems.has(prev)) return false;
  let i = 0;
  for (const before of prev.sandboxes.values()) {
    const now = list[i++]!;
    if (before.id !== now.id || before.nsPath !== now.nsPath || before.ndots !== now.ndots || before.networkIds.length !== now.networkIds.length) return false;
    for (let k = 0; k < now.networkIds.length; k++) if (before.networkIds[k] !== now.networkIds[k]) return false;
  }
  return true;
}

/** Each sandbox's view; sandboxes with the same networks and options share one. */
function buildViews(tables: ReadonlyMap<string, NetworkTable>, sandboxes: Iterable<DnsSandbox>, problems: string[]): Map<string, View> {
  const views = new Map<string, View>();
  const shared = new Map<string, View>();
  for (const sandbox of sandboxes) {
    const ndotsSet = (sandbox.ndots ?? 0) > 0;
    // Most sandboxes are on one network: its id is the key, no string made per sandbox (this
    // loop runs over every sandbox on every update that changes a table).
    const ids = sandbox.networkIds;
    const viewKey = ids.length === 1 && !ndotsSet ? ids[0]! : `${ndotsSet}\0${ids.join('\0')}`;
    let view = shared.get(viewKey);
    if (view === undefined) {
      const seen: NetworkTable[] = [];
      for (const id of sandbox.networkIds) {
        const table = tables.get(id);
        if (table === undefined) problems.push(`sandbox ${sandbox.id} is on unknown network ${id}`);
        else if (!seen.includes(table)) seen.push(table);
      }
      view = { tables: seen, forwards: seen.some((t) => !t.internal), ndotsSet };
      shared.set(viewKey, view);
    }
    views.set(sandbox.id, view);
  }
  return views;
}

function unchanged(compiled: CompiledEndpoint, endpoint: DnsEndpoint): boolean {
  if (compiled.ipv4 !== endpoint.ipv4 || compiled.ipv6 !== endpoint.ipv6 || compiled.names.length !== endpoint.names.length) return false;
  for (let i = 0; i < compiled.names.length; i++) if (compiled.names[i] !== endpoint.names[i]) return false;
  return true;
}

export function compileEndpoint(endpoint: DnsEndpoint, network: string, ttl: number, problems: string[]): CompiledEndpoint {
  const nameKeys = new Set<string>();
  for (const name of endpoint.names) {
    const plain = nameKey(name);
    const qualified = nameKey(`${name}.${network}`);
    if (plain === null || qualified === null) {
      problems.push(`sandbox ${endpoint.sandboxId}: ${JSON.stringify(name)} is not a valid DNS name on ${network}`);
      continue;
    }
    nameKeys.add(plain).add(qualified);
  }
  const v4 = endpoint.ipv4 === undefined ? null : addressBytes(endpoint.ipv4, 4);
  const v6 = endpoint.ipv6 === undefined ? null : addressBytes(endpoint.ipv6, 6);
  if (endpoint.ipv4 !== undefined && v4 === null) problems.push(`sandbox ${endpoint.sandboxId}: bad IPv4 ${endpoint.ipv4}`);
  if (endpoint.ipv6 !== undefined && v6 === null) problems.push(`sandbox ${endpoint.sandboxId}: bad IPv6 ${endpoint.ipv6}`);
  const first = endpoint.names.length > 0 ? wireName(`${endpoint.names[0]}.${network}`) : null;
  const reverseKeys = first === null ? [] : [v4, v6].flatMap((bytes) => (bytes === null ? [] : [nameKey(reverseName(bytes))!]));
  return {
    sandboxId: endpoint.sandboxId,
    names: [...endpoint.names],
    ipv4: endpoint.ipv4,
    ipv6: endpoint.ipv6,
    nameKeys: [...nameKeys],
    reverseKeys,
    a: v4 === null ? null : addressRecord(v4, ttl),
    aaaa: v6 === null ? null : addressRecord(v6, ttl),
    ptr: first === null ? null : ptrRecord(first, ttl),
  };
}

/**
 * True when network lists base's endpoints in base's order with the same facts: the common
 * update (another network changed, or nothing DNS-visible) then builds no map at all.
 */
function sameEndpoints(base: NetworkTable, network: DnsNetwork): boolean {
  if (base.order.length !== network.endpoints.length) return false;
  for (let i = 0; i < base.order.length; i++) {
    const endpoint = network.endpoints[i]!;
    if (endpoint.sandboxId !== base.order[i]) return false;
    if (!unchanged(base.endpoints.get(endpoint.sandboxId)!, endpoint)) return false;
  }
  return true;
}

/** base, or base with what changed beside its records (internal, the endpoints' order): no key changed. */
function sameRecords(base: NetworkTable, network: DnsNetwork, order: readonly string[]): NetworkTable {
  const reordered = order !== base.order && order.some((id, i) => id !== base.order[i]);
  if (base.internal === network.internal && !reordered) return base;
  return { ...base, internal: network.internal, order: reordered ? order : base.order, changes: { base: new WeakRef(base), names: [], reverse: [] } };
}

/** The table of one network, reusing prev's unchanged endpoints and entries. */
export function buildTable(prev: NetworkTable | undefined, network: DnsNetwork, ttl: number, problems: string[]): NetworkTable {
  const base = prev !== undefined && prev.name === network.name && prev.ttl === ttl ? prev : undefined;
  if (base !== undefined && sameEndpoints(base, network)) {
    return sameRecords(base, network, base.order);
  }
  // The endpoint map too is derived from base's: only the shards of changed endpoints are copied.
  const listed = new Set<string>();
  const added: CompiledEndpoint[] = [];
  const removed: CompiledEndpoint[] = [];
  const endpoints = (base?.endpoints ?? ShardedMap.empty<CompiledEndpoint>()).derive((edit) => {
    for (const endpoint of network.endpoints) {
      if (listed.has(endpoint.sandboxId)) {
        problems.push(`sandbox ${endpoint.sandboxId} has two endpoints on ${network.name}; the first one is used`);
        continue;
      }
      listed.add(endpoint.sandboxId);
      const before = edit.get(endpoint.sandboxId);
      if (before !== undefined && unchanged(before, endpoint)) continue;
      if (before !== undefined) removed.push(before);
      const compiled = compileEndpoint(endpoint, network.name, ttl, problems);
      edit.set(endpoint.sandboxId, compiled);
      added.push(compiled);
    }
    if (base !== undefined && listed.size !== base.endpoints.size + added.length - removed.length) {
      for (const old of base.endpoints.values()) {
        if (listed.has(old.sandboxId)) continue;
        removed.push(old);
        edit.delete(old.sandboxId);
      }
    }
  });
  if (base !== undefined && added.length === 0 && removed.length === 0) {
    // The same endpoints, listed in another order: keep the new order, or every later update
    // would miss the fast check above.
    return sameRecords(base, network, [...listed]);
  }
  let changedNames: string[] = [];
  let changedReverse: string[] = [];
  const names = (base?.names ?? ShardedMap.empty<Records>()).derive((edit) => (changedNames = applyChanges(edit, endpoints, removed, added, (e) => e.nameKeys)));
  const reverse = (base?.reverse ?? ShardedMap.empty<Records>()).derive((edit) => (changedReverse = applyChanges(edit, endpoints, removed, added, (e) => e.reverseKeys)));
  const changes = base === undefined ? undefined : { base: new WeakRef(base), names: changedNames, reverse: changedReverse };
  return { id: network.id, name: network.name, internal: network.internal, ttl, names, reverse, endpoints, order: [...listed], ...(changes ? { changes } : {}) };
}

/** Recomputes only the keys that removed or added endpoints hold; returns those keys. */
function applyChanges(
  table: MapEditor<Records>,
  current: ReadonlyMap<string, CompiledEndpoint>,
  removed: readonly CompiledEndpoint[],
  added: readonly CompiledEndpoint[],
  keysOf: (e: CompiledEndpoint) => readonly string[],
): string[] {
  const affected = new Set<string>();
  for (const endpoint of removed) for (const key of keysOf(endpoint)) affected.add(key);
  const addedByKey = new Map<string, CompiledEndpoint[]>();
  for (const endpoint of added) {
    for (const key of keysOf(endpoint)) {
      affected.add(key);
      const list = addedByKey.get(key);
      if (list === undefined) addedByKey.set(key, [endpoint]);
      else list.push(endpoint);
    }
  }
  for (const key of affected) {
    const existing = table.get(key);
    const holders = existing === undefined ? [] : holdersOf(existing).filter((h) => current.get(h.sandboxId) === h);
    holders.push(...(addedByKey.get(key) ?? []));
    const records = combine(holders);
    if (records === undefined) table.delete(key);
    else table.set(key, records);
  }
  return [...affected];
}

export function holdersOf(records: Records): readonly CompiledEndpoint[] {
  return 'holders' in records ? records.holders : [records];
}

function combine(holders: CompiledEndpoint[]): Records | undefined {
  if (holders.length <= 1) return holders[0];
  const concat = (parts: (Buffer | null)[]): Buffer | null => {
    const present = parts.filter((p): p is Buffer => p !== null);
    return present.length === 0 ? null : Buffer.concat(present);
  };
  return {
    holders,
    a: concat(holders.map((h) => h.a)),
    aaaa: concat(holders.map((h) => h.aaaa)),
    ptr: holders[0]!.ptr,
  };
}
