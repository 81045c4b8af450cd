/** Shared helpers of the IPAM unit tests. */
import { CnmError, type ErrorKind } from '../../src/errors';

export { mulberry32 } from '../helpers/prng';

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
