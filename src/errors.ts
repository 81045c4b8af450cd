/**
 * Errors that reach a user. Every layer throws CnmError with a kind; the API maps the kind to an
 * HTTP status and the CLI prints the message. Messages follow Docker's wording where Docker has
 * one (docs/docker-behaviour.md §3), and otherwise say what was wrong and how to fix it.
 */
export type ErrorKind =
  | 'invalid' // 400: the request itself is wrong (bad CIDR, bad name, bad option)
  | 'forbidden' // 403: valid, but not allowed in this state (address in use, overlap, active endpoints)
  | 'notFound' // 404: no such network / sandbox / endpoint
  | 'conflict' // 409: a name that already exists
  | 'unavailable' // 503: a dependency (cluster store, kernel feature) is not there
  | 'internal'; // 500: our bug or the kernel refused something unexpected

const STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  forbidden: 403,
  notFound: 404,
  conflict: 409,
  unavailable: 503,
  internal: 500,
};

export class CnmError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CnmError';
  }

  get status(): number {
    return STATUS[this.kind];
  }
}

export const invalid = (message: string): CnmError => new CnmError('invalid', message);
export const forbidden = (message: string): CnmError => new CnmError('forbidden', message);
export const notFound = (message: string): CnmError => new CnmError('notFound', message);
export const conflict = (message: string): CnmError => new CnmError('conflict', message);

export function statusOf(err: unknown): number {
  return err instanceof CnmError ? err.status : 500;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
