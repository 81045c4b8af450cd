/**
 * The snapshot as data for the native responder (src/native/dns_answer.c): one flat buffer,
 * compiled here from the record tables (which stay the one place deciding what the records
 * are), indexed by C and swapped in whole. Little-endian:
 *
 *   "CNMT" u32 version=2 | u32 networks | u32 views | u32 slots | u32 entries
 *   views:    per view     u32 flags (bit 0: ndots set) | u32 count | count × u32 network index
 *   slots:    per slot     i32 view index (-1: no view; JavaScript answers REFUSED)
 *   networks: per network  u32 entry count | its entries:
 *     u8 kind (0 names, 1 reverse) | u8 key length | key (the lower-cased wire name, as
 *     records.ts keys it) | u16 A length | u16 AAAA length | u16 PTR length | the A record, the
 *     AAAA record, the PTR record (precompiled by records.ts, owner 0xC00C)
 *
 * An A or AAAA length of 0xFFFF means several records (a shared alias): their order is shuffled
 * per answer, which the TypeScript path does, so C hands such queries to it.
 *
 * The resolver does not send this whole buffer on every update: each network's entries are
 * built into a sub-table in C once (dnsNetworkBuild) and, when the network changes, derived from
 * the previous one with only the changed keys (dnsNetworkDerive: entries of the same format, kind
 * 2 or 3 removing a name or reverse key). A table is then its head (everything before the
 * entries) and the list of its networks' sub-tables, swapped in whole (one pointer): an update
 * costs the keys it changes and the head (views and slots), not every sandbox's records.
 */
import type { DnsNetworkHandle, DnsResponderAddon } from '../os/native';
import type { NetworkTable, Records, Snapshot, TableChanges, View } from './records';

const MAGIC = 0x544d4e43; // "CNMT"
const VERSION = 2;
const KIND_NAMES = 0;
const KIND_REVERSE = 1;
/** Added to a kind in a delta: the key goes. */
const DELETE = 2;
export const SEVERAL = 0xffff;
const A_BYTES = 16;
const AAAA_BYTES = 28;

/** One entry to encode: kind, key, the records it answers with (null: a deletion). */
type Entry = readonly [number, string, Records | null];

interface Encoded {
  readonly bytes: Buffer;
  readonly count: number;
}

/** The parts of a table the responder assembles: its head and its networks' sub-tables. */
export interface TableParts {
  readonly head: Buffer;
  readonly networks: DnsNetworkHandle[];
}

type NetworkAddon = Pick<DnsResponderAddon, 'dnsNetworkBuild' | 'dnsNetworkDerive' | 'dnsNetworkRelease'>;

/**
 * The whole table for snapshot in one buffer, with slot s mapped to the view of the sandbox
 * listening on it (slots: sandbox id → slot of its UDP listener; slotCount: one past the highest
 * slot). Tests and tools install it with dnsResponderInstall; the resolver uses the compiler.
 */
export function compileNativeTable(snapshot: Snapshot, slots: ReadonlyMap<string, number>, slotCount: number): Buffer {
  const head = compileHead(snapshot, slots, slotCount);
  const parts: Buffer[] = [head];
  let entries = 0;
  for (const table of snapshot.tables.values()) {
    const encoded = encodeNetwork(table);
    const count = Buffer.allocUnsafe(4);
    count.writeUInt32LE(encoded.count, 0);
    parts.push(count, encoded.bytes);
    entries += encoded.count;
  }
  const out = Buffer.concat(parts);
  out.writeUInt32LE(entries, 20);
  return out;
}

/**
 * Keeps one sub-table per network (the one of the last table compiled), derives a changed
 * network's from it, and says when a table would be the one compiled last (same sub-tables,
 * views and slots: most updates of the daemon touch no DNS name), so that nothing is swapped
 * for nothing.
 */
export class NativeTableCompiler {
  private readonly built = new Map<string, { table: NetworkTable; handle: DnsNetworkHandle }>();
  private lastHead: Buffer | null = null;
  private lastNetworks: DnsNetworkHandle[] = [];

  constructor(private readonly addon: NetworkAddon) {}

  /** Forgets the last table (it was not installed): the next compile returns a table. */
  forget(): void {
    this.lastHead = null;
  }

  /** The table's parts, or null when it equals the last one compiled. */
  compile(snapshot: Snapshot, slots: ReadonlyMap<string, number>, slotCount: number): TableParts | null {
    const head = compileHead(snapshot, slots, slotCount);
    const networks: DnsNetworkHandle[] = [];
    for (const table of snapshot.tables.values()) networks.push(this.network(table));
    for (const [id, { table, handle }] of this.built) {
      if (snapshot.tables.get(id) !== table) {
        this.addon.dnsNetworkRelease(handle);
        this.built.delete(id);
      }
    }
    if (this.lastHead !== null && head.equals(this.lastHead) && networks.length === this.lastNetworks.length && networks.every((n, i) => n === this.lastNetworks[i])) {
      return null;
    }
    this.lastHead = head;
    this.lastNetworks = networks;
    return { head, networks };
  }

  /** Lets go of every sub-table (the responder's table in force keeps its own). */
  close(): void {
    for (const { handle } of this.built.values()) this.addon.dnsNetworkRelease(handle);
    this.built.clear();
    this.lastHead = null;
    this.lastNetworks = [];
  }

  private network(table: NetworkTable): DnsNetworkHandle {
    const prev = this.built.get(table.id);
    if (prev?.table === table) return prev.handle;
    let handle: DnsNetworkHandle;
    if (prev !== undefined && table.changes?.base.deref() === prev.table) {
      // No key changed (internal, the endpoints' order): the C table is the same one.
      if (table.changes.names.length === 0 && table.changes.reverse.length === 0) {
        this.built.set(table.id, { table, handle: prev.handle });
        return prev.handle;
      }
      const delta = encodeDelta(table, table.changes);
      handle = this.addon.dnsNetworkDerive(prev.handle, delta.bytes, delta.count);
    } else {
      const whole = encodeNetwork(table);
      handle = this.addon.dnsNetworkBuild(whole.bytes, whole.count);
    }
    if (prev !== undefined) this.addon.dnsNetworkRelease(prev.handle);
    this.built.set(table.id, { table, handle });
    return handle;
  }
}

/** The table's head: counts (entries left 0, set by compileNativeTable), views, slots. */
function compileHead(snapshot: Snapshot, slots: ReadonlyMap<string, number>, slotCount: number): Buffer {
  const networkIndex = new Map<string, number>();
  for (const id of snapshot.tables.keys()) networkIndex.set(id, networkIndex.size);
  const viewIndex = new Map<View, number>();
  for (const view of snapshot.views.values()) if (!viewIndex.has(view)) viewIndex.set(view, viewIndex.size);

  let viewBytes = 0;
  for (const view of viewIndex.keys()) viewBytes += 8 + 4 * view.tables.length;
  const head = Buffer.alloc(24 + viewBytes + 4 * slotCount);
  head.writeUInt32LE(MAGIC, 0);
  head.writeUInt32LE(VERSION, 4);
  head.writeUInt32LE(networkIndex.size, 8);
  head.writeUInt32LE(viewIndex.size, 12);
  head.writeUInt32LE(slotCount, 16);
  let pos = 24;
  for (const view of viewIndex.keys()) {
    head.writeUInt32LE(view.ndotsSet ? 1 : 0, pos);
    head.writeUInt32LE(view.tables.length, pos + 4);
    pos += 8;
    for (const table of view.tables) pos = head.writeUInt32LE(networkIndex.get(table.id)!, pos);
  }
  head.fill(0xff, pos);
  for (const [sandboxId, slot] of slots) {
    const view = snapshot.views.get(sandboxId);
    if (view !== undefined && slot < slotCount) head.writeInt32LE(viewIndex.get(view)!, pos + 4 * slot);
  }
  return head;
}

/** Every entry of a network. */
function encodeNetwork(table: NetworkTable): Encoded {
  const list: Entry[] = [];
  for (const [key, records] of table.names) list.push([KIND_NAMES, key, records]);
  for (const [key, records] of table.reverse) list.push([KIND_REVERSE, key, records]);
  return { bytes: encodeEntries(list), count: list.length };
}

/** The entries of the keys that changed since the table's base: new records, or deletions. */
function encodeDelta(table: NetworkTable, changes: TableChanges): Encoded {
  const list: Entry[] = [];
  for (const [kind, keys, map] of [[KIND_NAMES, changes.names, table.names], [KIND_REVERSE, changes.reverse, table.reverse]] as const) {
    for (const key of keys) {
      const records = map.get(key);
      list.push(records === undefined ? [kind + DELETE, key, null] : [kind, key, records]);
    }
  }
  return { bytes: encodeEntries(list), count: list.length };
}

/** Bytes of a single record of the given size, 0 for none, SEVERAL for more than one. */
function recordLength(records: Buffer | null, one: number): number {
  if (records === null) return 0;
  return records.length === one ? one : SEVERAL;
}

function storedBytes(records: Buffer | null, one: number): number {
  return records !== null && records.length === one ? one : 0;
}

function encodeEntries(list: readonly Entry[]): Buffer {
  let size = 0;
  for (const [kind, key, records] of list) {
    size += 8 + key.length;
    if (records === null) continue;
    size += kind === KIND_NAMES ? storedBytes(records.a, A_BYTES) + storedBytes(records.aaaa, AAAA_BYTES) : (records.ptr?.length ?? 0);
  }
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  for (const [kind, key, records] of list) {
    out[pos] = kind;
    out[pos + 1] = key.length;
    pos += 2;
    pos += out.write(key, pos, 'latin1');
    const a = kind === KIND_NAMES && records !== null ? records.a : null;
    const aaaa = kind === KIND_NAMES && records !== null ? records.aaaa : null;
    const ptr = kind === KIND_REVERSE && records !== null ? records.ptr : null;
    out.writeUInt16LE(recordLength(a, A_BYTES), pos);
    out.writeUInt16LE(recordLength(aaaa, AAAA_BYTES), pos + 2);
    out.writeUInt16LE(ptr?.length ?? 0, pos + 4);
    pos += 6;
    if (a !== null && a.length === A_BYTES) pos += a.copy(out, pos);
    if (aaaa !== null && aaaa.length === AAAA_BYTES) pos += aaaa.copy(out, pos);
    if (ptr !== null) pos += ptr.copy(out, pos);
  }
  return out;
}
