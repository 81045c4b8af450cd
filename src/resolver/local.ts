/**
 * Answers from the record tables. A name cnm owns is never forwarded: a type it has no data for
 * gets NOERROR without answers (NODATA). Docker forwards ANY, SRV, TXT, CNAME and NS even for its
 * own names (docker-behaviour.md §4.3); we do not, because the upstream cannot know a container
 * name (at best it answers NXDOMAIN, contradicting our A record; at worst a search domain or a
 * public zone supplies a wrong record) and the query leaks an internal name (anchors §7, pain 10).
 * ANY gets the address records we have, as RFC 8482 allows.
 */
import { AAAA_RECORD_BYTES, A_RECORD_BYTES, localAnswer } from './answers';
import type { View } from './records';
import { CLASS_IN, Query, RCODE, TYPE, emptyResponse, responseLimit } from './wire';

/** The response for a name cnm owns, or null when the name is not ours. */
export function resolveLocal(msg: Buffer, q: Query, view: View, tcp: boolean): Buffer | null {
  if (q.qclass !== CLASS_IN) return null;
  const tables = view.tables;
  const key = q.key;
  switch (q.qtype) {
    case TYPE.A:
      for (let i = 0; i < tables.length; i++) {
        const records = tables[i]!.names.get(key);
        if (records !== undefined && records.a !== null) return localAnswer(msg, q, responseLimit(q, tcp), records.a, A_RECORD_BYTES);
      }
      break;
    case TYPE.AAAA:
      for (let i = 0; i < tables.length; i++) {
        const records = tables[i]!.names.get(key);
        if (records !== undefined && records.aaaa !== null) {
          return localAnswer(msg, q, responseLimit(q, tcp), records.aaaa, AAAA_RECORD_BYTES);
        }
      }
      break;
    case TYPE.PTR:
      for (let i = 0; i < tables.length; i++) {
        const ptr = tables[i]!.reverse.get(key)?.ptr;
        if (ptr != null) return localAnswer(msg, q, responseLimit(q, tcp), ptr, ptr.length);
      }
      break;
    case TYPE.ANY:
      return anyAnswer(msg, q, view, tcp);
  }
  if (owns(view, key) || (view.ndotsSet && q.labels === 1 && (q.qtype === TYPE.A || q.qtype === TYPE.AAAA))) {
    return emptyResponse(msg, q, RCODE.NOERROR);
  }
  return null;
}

function owns(view: View, key: string): boolean {
  return view.tables.some((t) => t.names.has(key) || t.reverse.has(key));
}

/** Each family from the first network that has it; a reverse name gets its PTR. */
function anyAnswer(msg: Buffer, q: Query, view: View, tcp: boolean): Buffer | null {
  const limit = responseLimit(q, tcp);
  let a: Buffer | null = null;
  let aaaa: Buffer | null = null;
  for (const table of view.tables) {
    const records = table.names.get(q.key);
    a ??= records?.a ?? null;
    aaaa ??= records?.aaaa ?? null;
  }
  if (a !== null) return localAnswer(msg, q, limit, a, A_RECORD_BYTES, aaaa, AAAA_RECORD_BYTES);
  if (aaaa !== null) return localAnswer(msg, q, limit, aaaa, AAAA_RECORD_BYTES);
  for (const table of view.tables) {
    const ptr = table.reverse.get(q.key)?.ptr;
    if (ptr != null) return localAnswer(msg, q, limit, ptr, ptr.length);
  }
  return owns(view, q.key) ? emptyResponse(msg, q, RCODE.NOERROR) : null;
}
