/**
 * What an unfinished operation may have left in the kernel. An entry is written before the
 * kernel work and removed in the transaction that commits the operation; start-up replays what
 * remains: creations are undone, removals are finished.
 */
import type { DriverEndpoint, DriverNetwork, DriverSandbox } from '../drivers/api';

export type JournalEntry =
  | { op: 'createNetwork'; driver: string; network: DriverNetwork }
  | { op: 'removeNetwork'; driver: string; network: DriverNetwork }
  | { op: 'join'; driver: string; network: DriverNetwork; endpoint: DriverEndpoint; sandbox: DriverSandbox }
  | { op: 'leave'; driver: string; network: DriverNetwork; endpoint: DriverEndpoint; sandbox: DriverSandbox }
  | { op: 'createSandbox'; sandboxId: string; nsPath: string | null; filesDir: string }
  | { op: 'removeSandbox'; sandboxId: string; nsPath: string | null; filesDir: string };
