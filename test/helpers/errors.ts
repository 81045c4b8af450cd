import { CnmError } from '../../src/errors';

/** The CnmError a promise rejects with; anything else it throws, or resolving, fails the test. */
export async function rejection(p: Promise<unknown>): Promise<CnmError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CnmError) return err;
    throw err;
  }
  throw new Error('expected a rejection with a CnmError');
}
