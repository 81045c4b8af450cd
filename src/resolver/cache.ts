/**
 * Upstream answers kept for as long as their TTLs allow (RFC 1035 §3.2.1), and negative answers
 * (NXDOMAIN, NODATA) for the SOA's negative TTL (RFC 2308 §5), both capped. Served copies carry
 * the asker's id and spelling and TTLs decremented by the time spent in the cache.
 */
import { LRUCache } from 'lru-cache';
import { HEADER_BYTES, Query, RCODE, TYPE, copyBytes, isTruncated, rcodeOf, skipName } from './wire';

const MAX_POSITIVE_TTL = 86_400;
/** Short, so that a name created upstream shows up soon. */
const MAX_NEGATIVE_TTL = 300;
/** Answers are small; this bounds the cache in bytes whatever they are. */
const MAX_CACHE_BYTES = 16 * 1024 * 1024;
const ENTRY_OVERHEAD = 128;

interface Entry {
  readonly answer: Buffer;
  readonly storedAt: number;
  /** Where each TTL sits in answer, and its value when stored. */
  readonly ttlOffsets: readonly number[];
  readonly ttls: readonly number[];
  /** Owner names spelled out (not compressed) that repeat the question: they get the asker's case. */
  readonly ownerOffsets: readonly number[];
}

/** Everything in a query that changes the answer: name, type, class and the rd, cd, EDNS and DO bits. */
export function cacheKey(q: Query): string {
  const bits = (q.flags & 0x0110) | (q.edns ? 1 : 0) | (q.dnssecOk ? 2 : 0);
  return `${q.key}${String.fromCharCode(q.qtype, q.qclass, bits)}`;
}

export interface TtlLayout {
  ttlOffsets: number[];
  ttls: number[];
  ownerOffsets: number[];
  /** How long the answer may be kept, in seconds: 0 when it must not be. */
  lifetime: number;
}

/** Finds every TTL in a response (OPT excluded) and how long the whole answer may live. */
export function ttlLayout(answer: Buffer): TtlLayout | null {
  if (answer.length < HEADER_BYTES || answer.readUInt16BE(4) !== 1) return null;
  const nameEnd = skipName(answer, HEADER_BYTES);
  if (nameEnd < 0) return null;
  let pos = nameEnd + 4;
  const answers = answer.readUInt16BE(6);
  const records = answers + answer.readUInt16BE(8) + answer.readUInt16BE(10);
  const ttlOffsets: number[] = [];
  const ttls: number[] = [];
  const ownerOffsets: number[] = [];
  let minimum = Infinity;
  let negative = Infinity;
  for (let i = 0; i < records; i++) {
    const owner = pos;
    pos = skipName(answer, pos);
    if (pos < 0 || pos + 10 > answer.length) return null;
    if (pos - owner === nameEnd - HEADER_BYTES && sameName(answer, owner, HEADER_BYTES, pos - owner)) ownerOffsets.push(owner);
    const type = answer.readUInt16BE(pos);
    const ttl = answer.readUInt32BE(pos + 4);
    const rdlength = answer.readUInt16BE(pos + 8);
    const end = pos + 10 + rdlength;
    if (end > answer.length) return null;
    if (type !== TYPE.OPT) {
      ttlOffsets.push(pos + 4);
      ttls.push(ttl);
      minimum = Math.min(minimum, ttl);
      if (type === TYPE.SOA && i >= answers && rdlength >= 20) negative = Math.min(ttl, answer.readUInt32BE(end - 4));
    }
    pos = end;
  }
  const rcode = rcodeOf(answer);
  let lifetime = 0;
  if (rcode === RCODE.NOERROR && answers > 0) lifetime = Math.min(minimum, MAX_POSITIVE_TTL);
  else if (rcode === RCODE.NXDOMAIN || rcode === RCODE.NOERROR) lifetime = negative === Infinity ? 0 : Math.min(negative, MAX_NEGATIVE_TTL);
  return { ttlOffsets, ttls, ownerOffsets, lifetime };
}

function sameName(buf: Buffer, a: number, b: number, length: number): boolean {
  for (let i = 0; i < length; i++) {
    const x = buf[a + i]!;
    const y = buf[b + i]!;
    if (x !== y && ((x | 0x20) !== (y | 0x20) || (x | 0x20) < 0x61 || (x | 0x20) > 0x7a)) return false;
  }
  return true;
}

export class AnswerCache {
  private readonly entries: LRUCache<string, Entry>;

  constructor(maxEntries: number) {
    this.entries = new LRUCache<string, Entry>({
      max: maxEntries,
      maxSize: MAX_CACHE_BYTES,
      sizeCalculation: (entry) => entry.answer.length + ENTRY_OVERHEAD,
    });
  }

  /** Keeps answer when it may be cached (complete, NOERROR or NXDOMAIN, a lifetime > 0). */
  store(key: string, answer: Buffer, now: number): void {
    if (isTruncated(answer)) return;
    const layout = ttlLayout(answer);
    if (layout === null || layout.lifetime <= 0) return;
    // Its own memory: a slice of Node's shared 8 KB pool would keep the whole slab alive.
    const copy = Buffer.allocUnsafeSlow(answer.length);
    answer.copy(copy);
    this.entries.set(key, { answer: copy, storedAt: now, ttlOffsets: layout.ttlOffsets, ttls: layout.ttls, ownerOffsets: layout.ownerOffsets }, { ttl: layout.lifetime * 1000 });
  }

  /** A copy of the cached answer for this asker, or null (missing, expired or too large for it). */
  serve(key: string, msg: Buffer, q: Query, limit: number, now: number): Buffer | null {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.answer.length > limit) return null;
    const answer = entry.answer;
    const out = Buffer.allocUnsafe(answer.length);
    copyBytes(answer, 0, answer.length, out, 0);
    out[0] = q.id >> 8;
    out[1] = q.id;
    // Same key, so the same question length: only the asker's spelling differs.
    copyBytes(msg, HEADER_BYTES, q.questionEnd, out, HEADER_BYTES);
    for (const offset of entry.ownerOffsets) copyBytes(msg, HEADER_BYTES, q.nameEnd, out, offset);
    const elapsed = Math.floor((now - entry.storedAt) / 1000);
    if (elapsed > 0) {
      for (let i = 0; i < entry.ttlOffsets.length; i++) out.writeUInt32BE(Math.max(0, entry.ttls[i]! - elapsed), entry.ttlOffsets[i]!);
    }
    return out;
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
