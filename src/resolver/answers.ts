/**
 * Precompiled answers. A local answer's records all name the question, so their owner is the
 * compression pointer 0xC00C (offset 12, where the question starts): the record bytes do not
 * depend on how the asker spelled the name and are compiled once per endpoint. Answering is then
 * header + the asker's question bytes + records copied in a shuffled order.
 */
import { HEADER_BYTES, OPT_BYTES, Query, RCODE, TYPE, CLASS_IN, copyBytes, writeHeader, writeOpt } from './wire';

export const A_RECORD_BYTES = 16;
export const AAAA_RECORD_BYTES = 28;

function recordHead(type: number, ttl: number, rdlength: number): Buffer {
  const rr = Buffer.allocUnsafe(12 + rdlength);
  rr.writeUInt16BE(0xc00c, 0);
  rr.writeUInt16BE(type, 2);
  rr.writeUInt16BE(CLASS_IN, 4);
  rr.writeUInt32BE(ttl, 6);
  rr.writeUInt16BE(rdlength, 10);
  return rr;
}

/** An A (4 bytes) or AAAA (16 bytes) record for the question's name. */
export function addressRecord(address: Uint8Array, ttl: number): Buffer {
  const rr = recordHead(address.length === 4 ? TYPE.A : TYPE.AAAA, ttl, address.length);
  rr.set(address, 12);
  return rr;
}

/** A PTR record for the question's name pointing at target (wire form, uncompressed). */
export function ptrRecord(target: Buffer, ttl: number): Buffer {
  const rr = recordHead(TYPE.PTR, ttl, target.length);
  target.copy(rr, 12);
  return rr;
}

let order = new Int32Array(64);

/**
 * Copies `count` of the `total` records of `size` bytes in rrs to out at pos, in a fresh random
 * order (a partial Fisher-Yates shuffle), and returns the new position.
 */
function copyShuffled(out: Buffer, pos: number, rrs: Buffer, size: number, total: number, count: number): number {
  if (total === 1) {
    if (count === 1) copyBytes(rrs, 0, size, out, pos);
    return pos + count * size;
  }
  if (order.length < total) order = new Int32Array(total * 2);
  for (let i = 0; i < total; i++) order[i] = i;
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(Math.random() * (total - i));
    const pick = order[j]!;
    order[j] = order[i]!;
    const start = pick * size;
    copyBytes(rrs, start, start + size, out, pos);
    pos += size;
  }
  return pos;
}

/**
 * A NOERROR answer with up to two record sets (A then AAAA for ANY), each shuffled. Records that
 * do not fit in `limit` bytes are left out whole and TC is set (RFC 2181 §9).
 */
export function localAnswer(
  msg: Buffer,
  q: Query,
  limit: number,
  first: Buffer,
  firstSize: number,
  second: Buffer | null = null,
  secondSize = 0,
): Buffer {
  const questionLength = q.questionEnd - HEADER_BYTES;
  const optBytes = q.edns ? OPT_BYTES : 0;
  let room = limit - HEADER_BYTES - questionLength - optBytes;
  const firstTotal = first.length / firstSize;
  const firstCount = Math.min(firstTotal, Math.floor(room / firstSize));
  room -= firstCount * firstSize;
  const secondTotal = second === null ? 0 : second.length / secondSize;
  const secondCount = firstCount < firstTotal ? 0 : Math.min(secondTotal, Math.floor(room / secondSize));
  const truncated = firstCount < firstTotal || secondCount < secondTotal;

  const out = Buffer.allocUnsafe(
    HEADER_BYTES + questionLength + firstCount * firstSize + secondCount * secondSize + optBytes,
  );
  writeHeader(out, q, RCODE.NOERROR, truncated, firstCount + secondCount, q.edns ? 1 : 0);
  copyBytes(msg, HEADER_BYTES, q.questionEnd, out, HEADER_BYTES);
  let pos = copyShuffled(out, q.questionEnd, first, firstSize, firstTotal, firstCount);
  if (second !== null) pos = copyShuffled(out, pos, second, secondSize, secondTotal, secondCount);
  if (q.edns) writeOpt(out, pos, q, RCODE.NOERROR);
  return out;
}
