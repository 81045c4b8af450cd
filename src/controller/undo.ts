/**
 * The one way a controller operation takes back what it did when a later step fails: after
 * each step that changed something (an address taken, a journal entry written, an interface
 * made, a record committed), the operation pushes the step that takes it back; on failure they
 * run newest first. An undo that fails does not stop the others: it is logged with what it left
 * behind, for an operator to find, and the caller still gets the operation's own error.
 */
import type { Logger } from '../log';

interface UndoStep {
  /** what stays behind if this undo fails: "interface eth1 of web on net1" */
  leaves: string;
  run: () => unknown;
}

export class UndoStack {
  private readonly steps: UndoStep[] = [];
  private failures = 0;

  constructor(
    private readonly log: Logger,
    /** the operation, as the log names it: "connect web to net1" */
    readonly operation: string,
  ) {}

  push(leaves: string, run: () => unknown): void {
    this.steps.push({ leaves, run });
  }

  /** Whether an undo already run failed (a journal entry then stays for the next start to finish). */
  get failed(): boolean {
    return this.failures > 0;
  }

  /** Runs the undo steps newest first; each failure is logged with what it left. */
  async unwind(cause: unknown): Promise<void> {
    for (let step = this.steps.pop(); step; step = this.steps.pop()) {
      try {
        await step.run();
      } catch (err) {
        this.failures++;
        this.log.log('error', 'could not undo a step of a failed operation: something is left behind', {
          operation: this.operation,
          left: step.leaves,
          error: errorText(err),
          cause: errorText(cause),
        });
      }
    }
  }
}

/** Runs `fn` with an undo stack that is unwound, newest first, if `fn` throws. */
export async function withUndo<T>(log: Logger, operation: string, fn: (undo: UndoStack) => Promise<T>): Promise<T> {
  const undo = new UndoStack(log, operation);
  try {
    return await fn(undo);
  } catch (err) {
    await undo.unwind(err);
    throw err;
  }
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
