/** Docker-style ids: 64 hex, shown as 12; looked up by full id, exact name, or unique prefix. */
import crypto from 'node:crypto';
import { CnmError } from '../errors';

export const newId = (): string => crypto.randomBytes(32).toString('hex');
export const shortId = (id: string): string => id.slice(0, 12);

export interface Named {
  id: string;
  name: string;
}

export type LookupResult<T> = { found: T } | { missing: true } | { ambiguous: T[] };

/**
 * Docker's order: the full id, then the exact name, then a unique id prefix. Names are unique
 * in cnm, so only prefixes can be ambiguous.
 */
export function lookup<T extends Named>(items: Iterable<T>, ref: string): LookupResult<T> {
  const all = [...items];
  const byId = all.find((x) => x.id === ref);
  if (byId) return { found: byId };
  const byName = all.find((x) => x.name === ref);
  if (byName) return { found: byName };
  if (/^[0-9a-f]+$/.test(ref)) {
    const prefixed = all.filter((x) => x.id.startsWith(ref));
    if (prefixed.length === 1) return { found: prefixed[0]! };
    if (prefixed.length > 1) return { ambiguous: prefixed };
  }
  return { missing: true };
}

/** Throws Docker's messages for a missing or ambiguous reference. */
export function resolveRef<T extends Named>(items: Iterable<T>, ref: string, what: 'network' | 'container'): T {
  const r = lookup(items, ref);
  if ('found' in r) return r.found;
  if ('ambiguous' in r) {
    throw new CnmError('invalid', `${what} ${ref} is ambiguous (${r.ambiguous.length} matches found based on ID prefix)`);
  }
  throw what === 'network' ? new CnmError('notFound', `network ${ref} not found`) : new CnmError('notFound', `No such container: ${ref}`);
}

/** Docker's name rule for containers and networks. */
export const VALID_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Timestamps as Docker prints them: RFC 3339 with nanoseconds, UTC. */
export function nowRfc3339Nano(): string {
  const ns = process.hrtime.bigint() % 1_000_000n;
  const iso = new Date().toISOString(); // ...sss Z
  return `${iso.slice(0, 23)}${ns.toString().padStart(6, '0')}Z`;
}
