/**
 * The DNS wire format, as much of it as the hot path needs: the 12-byte header, the question and
 * the OPT record of a query, read in place without building objects (RFC 1035 §4, RFC 6891).
 * Everything that is not on the hot path (upstream answers, tests) may use `dns-packet` instead.
 */

export const TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, ANY: 255 } as const;
export const CLASS_IN = 1;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 } as const;

export const HEADER_BYTES = 12;
/** RFC 1035 §4.2.1: the UDP limit for a client that did not offer EDNS. */
export const CLASSIC_UDP_LIMIT = 512;
/** The largest payload of one IPv4 UDP datagram. */
export const MAX_UDP_PAYLOAD = 65507;
export const MAX_TCP_MESSAGE = 65535;
/** No real query is this large (EDNS padding stays under 1 KB); larger ones are refused unread. */
export const MAX_QUERY_BYTES = 4096;
/** Payload size we advertise in our own OPT records (DNS flag day 2020). */
export const OUR_UDP_PAYLOAD = 1232;
export const OPT_BYTES = 11;

const QR = 0x8000;
const TC = 0x0200;
const RD = 0x0100;
const RA = 0x0080;
const CD = 0x0010;
const DO = 0x8000;

/** What to do with an incoming message, decided from its header and question. */
export const Verdict = {
  /** Well formed: answer it. */
  Answer: 0,
  /** Not worth a reply (too short to carry an id, or a response rather than a query). */
  Drop: 1,
  FormErr: 2,
  NotImp: 3,
  /** EDNS version other than 0 (RFC 6891 §6.1.3). */
  BadVers: 4,
} as const;
export type Verdict = (typeof Verdict)[keyof typeof Verdict];

/**
 * A parsed query. One instance is reused for every message handled synchronously; whoever needs
 * a field after the handler returns copies it.
 */
export class Query {
  id = 0;
  flags = 0;
  /** Offset just past the question name (the question starts at HEADER_BYTES). */
  nameEnd = 0;
  /** Offset just past the question (name, type, class). */
  questionEnd = 0;
  qtype = 0;
  qclass = 0;
  /** Lower-cased wire form of the question name as a latin1 string: the record tables' key. */
  key = '';
  labels = 0;
  edns = false;
  udpPayload = CLASSIC_UDP_LIMIT;
  ednsVersion = 0;
  dnssecOk = false;
}

/** Room to lower-case a name (at most 255 bytes) without allocating per query. */
const scratch = Buffer.allocUnsafe(256);
/** Buffer's own latin1 decoder, without toString's encoding dispatch (in Node since v0.x). */
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(this: Buffer, start: number, end: number): string }).latin1Slice;

/** Big-endian 16 bits at pos; the caller has checked the bounds (cheaper than readUInt16BE). */
const u16 = (b: Buffer, pos: number): number => (b[pos]! << 8) | b[pos + 1]!;

/**
 * Reads the header, the question and any OPT record of msg into q. Only the question name is
 * copied (lower-cased, into q.key); the rest is numbers.
 */
export function parseQuery(msg: Buffer, q: Query): Verdict {
  const length = msg.length;
  if (length < HEADER_BYTES) return Verdict.Drop;
  const flags = u16(msg, 2);
  if ((flags & QR) !== 0) return Verdict.Drop;
  q.id = u16(msg, 0);
  q.flags = flags;
  q.edns = false;
  q.udpPayload = CLASSIC_UDP_LIMIT;
  q.ednsVersion = 0;
  q.dnssecOk = false;
  if (((flags >> 11) & 0xf) !== 0) return Verdict.NotImp;
  if (length > MAX_QUERY_BYTES || u16(msg, 4) !== 1) return Verdict.FormErr;

  // The question name: plain labels only. A pointer here could only point into the header.
  let pos = HEADER_BYTES;
  let out = 0;
  let labels = 0;
  for (;;) {
    if (pos >= length) return Verdict.FormErr;
    const len = msg[pos]!;
    scratch[out++] = len;
    pos++;
    if (len === 0) break;
    if (len > 63 || pos + len > length || out + len > 255) return Verdict.FormErr;
    for (let end = pos + len; pos < end; pos++) {
      const c = msg[pos]!;
      scratch[out++] = c >= 0x41 && c <= 0x5a ? c | 0x20 : c;
    }
    labels++;
  }
  if (pos + 4 > length) return Verdict.FormErr;
  q.nameEnd = pos;
  q.qtype = u16(msg, pos);
  q.qclass = u16(msg, pos + 2);
  q.questionEnd = pos + 4;
  q.labels = labels;
  q.key = latin1Slice.call(scratch, 0, out);

  const records = u16(msg, 6) + u16(msg, 8) + u16(msg, 10);
  return records === 0 ? Verdict.Answer : readRecords(msg, q, records, u16(msg, 10));
}

/** Walks the answer, authority and additional records looking for the (single) OPT record. */
function readRecords(msg: Buffer, q: Query, records: number, additional: number): Verdict {
  let pos = q.questionEnd;
  const firstAdditional = records - additional;
  for (let i = 0; i < records; i++) {
    const nameStart = pos;
    pos = skipName(msg, pos);
    if (pos < 0 || pos + 10 > msg.length) return Verdict.FormErr;
    const type = msg.readUInt16BE(pos);
    const rdlength = msg.readUInt16BE(pos + 8);
    if (type === TYPE.OPT) {
      // RFC 6891 §6.1.1: one OPT, in the additional section, owned by the root.
      if (i < firstAdditional || q.edns || pos !== nameStart + 1 || !optionsTile(msg, pos + 10, rdlength)) return Verdict.FormErr;
      q.edns = true;
      q.udpPayload = Math.max(CLASSIC_UDP_LIMIT, msg.readUInt16BE(pos + 2));
      q.ednsVersion = msg[pos + 5]!;
      q.dnssecOk = (msg.readUInt16BE(pos + 6) & DO) !== 0;
    }
    pos += 10 + rdlength;
    if (pos > msg.length) return Verdict.FormErr;
  }
  return q.edns && q.ednsVersion !== 0 ? Verdict.BadVers : Verdict.Answer;
}

/** The OPT record's options (code, length, data) fill its data exactly (RFC 6891 §6.1.2). */
function optionsTile(msg: Buffer, start: number, length: number): boolean {
  const end = start + length;
  if (end > msg.length) return false;
  let pos = start;
  while (pos + 4 <= end) pos += 4 + msg.readUInt16BE(pos + 2);
  return pos === end;
}

/**
 * Offset after the (possibly compressed) name at pos, or -1 when it is malformed. Pointers are
 * not followed, but one that does not point backwards (a forward pointer, or a loop) is malformed.
 */
export function skipName(msg: Buffer, pos: number): number {
  for (;;) {
    if (pos >= msg.length) return -1;
    const len = msg[pos]!;
    if (len === 0) return pos + 1;
    if ((len & 0xc0) === 0xc0) return pos + 2 <= msg.length && (msg.readUInt16BE(pos) & 0x3fff) < pos ? pos + 2 : -1;
    if (len > 63) return -1;
    pos += 1 + len;
  }
}

/** The largest response the asker accepts over this transport. */
export function responseLimit(q: Query, tcp: boolean): number {
  if (tcp) return MAX_TCP_MESSAGE;
  return q.edns ? Math.min(q.udpPayload, MAX_UDP_PAYLOAD) : CLASSIC_UDP_LIMIT;
}

/** Header of our response to q: `qr ra`, rd and cd mirrored, never aa (we are not authoritative). */
export function writeHeader(out: Buffer, q: Query, rcode: number, truncated: boolean, answers: number, additional: number): void {
  const flags = QR | (q.flags & (RD | CD)) | RA | (truncated ? TC : 0) | (rcode & 0xf);
  out[0] = q.id >> 8;
  out[1] = q.id;
  out[2] = flags >> 8;
  out[3] = flags;
  out[4] = 0;
  out[5] = 1;
  out[6] = answers >> 8;
  out[7] = answers;
  out[8] = 0;
  out[9] = 0;
  out[10] = additional >> 8;
  out[11] = additional;
}

/** Copies a few bytes; for the short runs of the hot path a loop beats Buffer#copy's set-up. */
export function copyBytes(from: Buffer, start: number, end: number, to: Buffer, at: number): void {
  if (end - start > 64) {
    from.copy(to, at, start, end);
    return;
  }
  for (let i = start; i < end; i++) to[at++] = from[i]!;
}

/** Extended DNS Error (RFC 8914) attached to the responses we make up ourselves. */
export interface ExtendedError {
  code: number;
  text: string;
}
export const EDE = {
  other: 0,
  prohibited: 18,
  noReachableAuthority: 22,
} as const;

export function optLength(ede: ExtendedError | undefined): number {
  return ede === undefined ? OPT_BYTES : OPT_BYTES + 6 + Buffer.byteLength(ede.text);
}

/** Our OPT record: version 0, DO mirrored (RFC 3225 §3), optionally an Extended DNS Error. */
export function writeOpt(out: Buffer, pos: number, q: Query, rcode: number, ede?: ExtendedError): number {
  out[pos] = 0;
  out.writeUInt16BE(TYPE.OPT, pos + 1);
  out.writeUInt16BE(OUR_UDP_PAYLOAD, pos + 3);
  out[pos + 5] = rcode >> 4;
  out[pos + 6] = 0;
  out.writeUInt16BE(q.dnssecOk ? DO : 0, pos + 7);
  if (ede === undefined) {
    out.writeUInt16BE(0, pos + 9);
    return pos + OPT_BYTES;
  }
  const textLength = out.write(ede.text, pos + 17, 'utf8');
  out.writeUInt16BE(6 + textLength, pos + 9);
  out.writeUInt16BE(15, pos + 11);
  out.writeUInt16BE(2 + textLength, pos + 13);
  out.writeUInt16BE(ede.code, pos + 15);
  return pos + 17 + textLength;
}

/**
 * A response without answers (NXDOMAIN, NODATA, SERVFAIL, REFUSED, BADVERS...): header, the
 * asker's question as sent, and an OPT record when the query had one.
 */
export function emptyResponse(msg: Buffer, q: Query, rcode: number, ede?: ExtendedError): Buffer {
  const questionLength = q.questionEnd - HEADER_BYTES;
  const out = Buffer.allocUnsafe(HEADER_BYTES + questionLength + (q.edns ? optLength(ede) : 0));
  writeHeader(out, q, rcode, false, 0, q.edns ? 1 : 0);
  copyBytes(msg, HEADER_BYTES, q.questionEnd, out, HEADER_BYTES);
  if (q.edns) writeOpt(out, HEADER_BYTES + questionLength, q, rcode, ede);
  return out;
}

/**
 * A header-only error (FORMERR, NOTIMP) for a message whose question we could not or would not
 * read: the id, opcode and rd are copied, every count is zero.
 */
export function headerOnlyResponse(msg: Buffer, rcode: number): Buffer {
  const out = Buffer.alloc(HEADER_BYTES);
  out.writeUInt16BE(msg.readUInt16BE(0), 0);
  out.writeUInt16BE(QR | (msg.readUInt16BE(2) & (0x7800 | RD)) | RA | rcode, 2);
  return out;
}

/** RFC 1035 §4.1.1: the rcode (4 bits) of a message. */
export function rcodeOf(msg: Buffer): number {
  return msg[3]! & 0xf;
}

export function isTruncated(msg: Buffer): boolean {
  return (msg.readUInt16BE(2) & TC) !== 0;
}
