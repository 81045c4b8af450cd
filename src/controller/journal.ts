/**
 * What an unfinished operation may have left in the kernel. An entry is written before the
 * kernel work and removed in the transaction that commits the operation; start-up replays what
 * remains: creations are undone, removals are finished.
 */
import type { DriverEndpoint, DriverNetwork, DriverSandbox } from '../drivers/api';
import type { ControllerContext } from './context';
import type { UndoStack } from './undo';

export type JournalEntry =
  | { op: 'createNetwork'; driver: string; network: DriverNetwork }
  | { op: 'removeNetwork'; driver: string; network: DriverNetwork }
  | ({ op: 'join' } & EndpointKernel)
  | ({ op: 'leave' } & EndpointKernel)
  | { op: 'createSandbox'; sandboxId: string; nsPath: string | null; filesDir: string }
  | { op: 'removeSandbox'; sandboxId: string; nsPath: string | null; filesDir: string }
  | ProcessStartEntry;

/** What an endpoint's kernel side is made of, as its teardown needs it (teardown.ts). */
export interface EndpointKernel {
  driver: string;
  network: DriverNetwork;
  endpoint: DriverEndpoint;
  sandbox: DriverSandbox;
  /**
   * Whether the interface is cnm's to delete by name once the driver has left: in a sandbox's
   * own namespace, or the daemon's for a handoff; not in a runtime's (CNI). Absent in entries
   * written before it.
   */
  deleteInterface?: boolean;
}

/**
 * A sandbox program being started. Written before the spawn with the time (ticks since boot),
 * updated with the pid right after it; ended in the transaction that records the program as
 * running. Replayed, the program is killed: by pid, and (for a sandbox with its own namespace)
 * every process in that namespace started since, which covers a crash before the pid was noted.
 */
export interface ProcessStartEntry {
  op: 'startProcess';
  sandboxId: string;
  /** The sandbox's own namespace, or null when it shares one (host, container:) */
  ownNsPath: string | null;
  notBeforeTicks: number;
  pid?: number;
  startTicks?: number;
}

/**
 * A journal entry for the operation, ended by its commit or by its undo. When an undo of the
 * operation failed, the entry stays: the next start finishes what the undo could not.
 */
export function beginJournal(ctx: ControllerContext, undo: UndoStack, entry: JournalEntry): number {
  const id = ctx.store.beginJournal(entry);
  undo.push(`journal entry ${id} (${entry.op})`, () => {
    if (!undo.failed) return ctx.store.endJournal(id);
    ctx.log.log('warn', 'the journal entry of a failed operation stays for the next start to finish its undo', { operation: undo.operation, op: entry.op });
  });
  return id;
}

