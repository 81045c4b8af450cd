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
  /** Where each TTL sits in answer (which keeps the values as received). */
  readonly ttlOffsets: readonly number[];
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
  ownerOffsets: number[];
  /** How long the answer may be kept, in seconds: 0 when it must not be. */
  lifetime: number;
}

interface RecordAt {
  owner: number;
  /** Offset of the type field; class, TTL and rdlength follow. */
  fixed: number;
  type: number;
  ttl: number;
  rdata: number;
  rdlength: number;
}

/** Every record after the question, or null when the message is malformed. */
interface ParsedAnswer {
  nameEnd: number;
  answers: number;
  records: RecordAt[];
}

function recordsOf(msg: Buffer): ParsedAnswer | null {
  if (msg.length < HEADER_BYTES || msg.readUInt16BE(4) !== 1) return null;
  const nameEnd = skipName(msg, HEADER_BYTES);
  if (nameEnd < 0) return null;
  let pos = nameEnd + 4;
  const answers = msg.readUInt16BE(6);
  const count = answers + msg.readUInt16BE(8) + msg.readUInt16BE(10);
  const records: RecordAt[] = [];
  for (let i = 0; i < count; i++) {
    const owner = pos;
    pos = skipName(msg, pos);
    if (pos < 0 || pos + 10 > msg.length) return null;
    const rdlength = msg.readUInt16BE(pos + 8);
    if (pos + 10 + rdlength > msg.length) return null;
    records.push({ owner, fixed: pos, type: msg.readUInt16BE(pos), ttl: msg.readUInt32BE(pos + 4), rdata: pos + 10, rdlength });
    pos += 10 + rdlength;
  }
  return { nameEnd, answers, records };
}

/** Finds every TTL in a response (OPT excluded) and how long the whole answer may live. */
export function ttlLayout(answer: Buffer, parsed: ParsedAnswer | null = recordsOf(answer)): TtlLayout | null {
  if (parsed === null) return null;
  const { nameEnd, answers, records } = parsed;
  const ttlOffsets: number[] = [];
  const ownerOffsets: number[] = [];
  let minimum = Infinity;
  let negative = Infinity;
  records.forEach((r, i) => {
    if (r.fixed - r.owner === nameEnd - HEADER_BYTES && sameName(answer, r.owner, HEADER_BYTES, r.fixed - r.owner)) ownerOffsets.push(r.owner);
    if (r.type === TYPE.OPT) return;
    ttlOffsets.push(r.fixed + 4);
    minimum = Math.min(minimum, r.ttl);
    if (r.type === TYPE.SOA && i >= answers && r.rdlength >= 20) negative = Math.min(r.ttl, answer.readUInt32BE(r.rdata + r.rdlength - 4));
  });
  const rcode = rcodeOf(answer);
  let lifetime = 0;
  if (rcode === RCODE.NOERROR && answers > 0) lifetime = Math.min(minimum, MAX_POSITIVE_TTL);
  else if (rcode === RCODE.NXDOMAIN || rcode === RCODE.NOERROR) lifetime = negative === Infinity ? 0 : Math.min(negative, MAX_NEGATIVE_TTL);
  return { ttlOffsets, ownerOffsets, lifetime };
}

const COOKIE = 10;
const CLIENT_SUBNET = 8;

/**
 * The answer as it may be given to other askers: without the DNS COOKIE option (RFC 7873: it
 * carries the first asker's client cookie, which another client would reject), and null for an
 * answer tailored to the asker's subnet (RFC 7871 ECS with a non-zero scope).
 */
export function shareable(answer: Buffer, parsed: ParsedAnswer | null = recordsOf(answer)): Buffer | null {
  const opt = parsed?.records.find((r) => r.type === TYPE.OPT);
  if (opt === undefined) return answer;
  const kept: Buffer[] = [];
  let removed = false;
  for (let pos = opt.rdata; pos + 4 <= opt.rdata + opt.rdlength; ) {
    const code = answer.readUInt16BE(pos);
    const end = pos + 4 + answer.readUInt16BE(pos + 2);
    if (end > opt.rdata + opt.rdlength) return null;
    if (code === CLIENT_SUBNET && end - pos >= 8 && answer[pos + 7]! > 0) return null;
    if (code === COOKIE) removed = true;
    else kept.push(answer.subarray(pos, end));
    pos = end;
  }
  if (!removed) return answer;
  const options = Buffer.concat(kept);
  const out = Buffer.concat([answer.subarray(0, opt.rdata), options, answer.subarray(opt.rdata + opt.rdlength)]);
  out.writeUInt16BE(options.length, opt.fixed + 8);
  return out;
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

  /** Keeps an answer when it may be cached (complete, NOERROR or NXDOMAIN, a lifetime > 0, not client-specific). */
  store(key: string, upstreamAnswer: Buffer, now: number): void {
    if (isTruncated(upstreamAnswer)) return;
    const parsed = recordsOf(upstreamAnswer);
    if (parsed === null) return;
    const answer = shareable(upstreamAnswer, parsed);
    if (answer === null) return;
    // Parsed again only when a COOKIE option was cut out (the offsets moved).
    const layout = ttlLayout(answer, answer === upstreamAnswer ? parsed : recordsOf(answer));
    if (layout === null || layout.lifetime <= 0) return;
    // Its own memory: a slice of Node's shared 8 KB pool would keep the whole slab alive.
    const copy = Buffer.allocUnsafeSlow(answer.length);
    answer.copy(copy);
    this.entries.set(key, { answer: copy, storedAt: now, ttlOffsets: layout.ttlOffsets, ownerOffsets: layout.ownerOffsets }, { ttl: layout.lifetime * 1000 });
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
      for (const offset of entry.ttlOffsets) out.writeUInt32BE(Math.max(0, answer.readUInt32BE(offset) - elapsed), offset);
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
