/** Shared helpers of the IPAM unit tests. */
import { CnmError, type ErrorKind } from '../../src/errors';

/** A small seeded PRNG (mulberry32) so that property tests are reproducible from their seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** What `fn` threw, as `kind: message`, so a test compares the exact text and kind at once. */
export function cnmErrorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof CnmError) return `${err.kind}: ${err.message}`;
    throw err;
  }
  return 'no error';
}

export const expected = (kind: ErrorKind, message: string): string => `${kind}: ${message}`;
