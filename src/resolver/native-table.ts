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
 * An endpoint's entries do not depend on anything else while it holds its names alone, so they
 * are encoded once per compiled endpoint (records.ts reuses unchanged ones across snapshots) and
 * a network's entries once per network table: an update re-encodes only what changed.
 */
import type { CompiledEndpoint, NetworkTable, Records, Snapshot, View } from './records';

const MAGIC = 0x544d4e43; // "CNMT"
const VERSION = 2;
const KIND_NAMES = 0;
const KIND_REVERSE = 1;
export const SEVERAL = 0xffff;
const A_BYTES = 16;
const AAAA_BYTES = 28;

/** One entry to encode: kind, key, the records it answers with. */
type Entry = readonly [number, string, Records];

interface EncodedNetwork {
  readonly entries: number;
  readonly bytes: Buffer;
}

const endpointEntries = new WeakMap<CompiledEndpoint, Buffer>();
const networkEntries = new WeakMap<NetworkTable, EncodedNetwork>();

/**
 * The table for snapshot, with slot s mapped to the view of the sandbox listening on it
 * (slots: sandbox id → slot of its UDP listener; slotCount: one past the highest slot).
 */
export function compileNativeTable(snapshot: Snapshot, slots: ReadonlyMap<string, number>, slotCount: number): Buffer {
  return new NativeTableCompiler().compile(snapshot, slots, slotCount)!;
}

/**
 * Compiles tables one after the other and says when a table would be the one compiled last
 * (same network tables, views and slots: most updates of the daemon touch no DNS name), so
 * that nothing is swapped for nothing.
 */
export class NativeTableCompiler {
  private lastHead: Buffer | null = null;
  private lastNetworks: readonly NetworkTable[] = [];

  /** Forgets the last table (it was not installed): the next compile returns a table. */
  forget(): void {
    this.lastHead = null;
  }

  /** The table, or null when it equals the last one compiled. */
  compile(snapshot: Snapshot, slots: ReadonlyMap<string, number>, slotCount: number): Buffer | null {
    const head = compileHead(snapshot, slots, slotCount);
    const networks = [...snapshot.tables.values()];
    if (this.lastHead !== null && head.equals(this.lastHead) && networks.length === this.lastNetworks.length && networks.every((n, i) => n === this.lastNetworks[i])) {
      return null;
    }
    this.lastHead = head;
    this.lastNetworks = networks;
    const parts: Buffer[] = [head];
    let entries = 0;
    for (const table of networks) {
      const encoded = encodeNetwork(table);
      const count = Buffer.allocUnsafe(4);
      count.writeUInt32LE(encoded.entries, 0);
      parts.push(count, encoded.bytes);
      entries += encoded.entries;
    }
    const out = Buffer.concat(parts);
    out.writeUInt32LE(entries, 20);
    return out;
  }
}

/** Everything before the entries: counts (entries left 0, set by the caller), views, slots. */
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

function encodeNetwork(table: NetworkTable): EncodedNetwork {
  const cached = networkEntries.get(table);
  if (cached !== undefined) return cached;
  const parts: Buffer[] = [];
  let entries = 0;
  const sharedDone = new Set<Records>();
  for (const endpoint of table.endpoints.values()) {
    const alone = endpoint.nameKeys.every((k) => table.names.get(k) === endpoint) && endpoint.reverseKeys.every((k) => table.reverse.get(k) === endpoint);
    if (alone) {
      let bytes = endpointEntries.get(endpoint);
      if (bytes === undefined) {
        const list: Entry[] = endpoint.nameKeys.map((k) => [KIND_NAMES, k, endpoint]);
        for (const k of endpoint.reverseKeys) list.push([KIND_REVERSE, k, endpoint]);
        bytes = encodeEntries(list);
        endpointEntries.set(endpoint, bytes);
      }
      parts.push(bytes);
      entries += endpoint.nameKeys.length + endpoint.reverseKeys.length;
      continue;
    }
    // A name held with others: each key is written once, by whichever holder comes first.
    const list: Entry[] = [];
    for (const [kind, keys, map] of [[KIND_NAMES, endpoint.nameKeys, table.names], [KIND_REVERSE, endpoint.reverseKeys, table.reverse]] as const) {
      for (const key of keys) {
        const records = map.get(key);
        if (records === undefined || (records !== endpoint && sharedDone.has(records))) continue;
        if (records !== endpoint) sharedDone.add(records);
        list.push([kind, key, records]);
      }
    }
    parts.push(encodeEntries(list));
    entries += list.length;
  }
  const encoded = { entries, bytes: Buffer.concat(parts) };
  networkEntries.set(table, encoded);
  return encoded;
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
    size += 8 + key.length + (kind === KIND_NAMES ? storedBytes(records.a, A_BYTES) + storedBytes(records.aaaa, AAAA_BYTES) : (records.ptr?.length ?? 0));
  }
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  for (const [kind, key, records] of list) {
    out[pos] = kind;
    out[pos + 1] = key.length;
    pos += 2;
    pos += out.write(key, pos, 'latin1');
    const a = kind === KIND_NAMES ? records.a : null;
    const aaaa = kind === KIND_NAMES ? records.aaaa : null;
    const ptr = kind === KIND_REVERSE ? records.ptr : null;
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
