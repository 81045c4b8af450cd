/**
 * The NAT service the controller calls: give it the whole desired NatState after every change,
 * it renders the ruleset (./ruleset.ts) and applies it as one atomic batch; it keeps the last
 * state and puts the table back when someone else damages it (./watch.ts).
 */
import { Nft } from './nft';
import { DEFAULT_TABLE, renderRuleset, renderTeardown } from './ruleset';
import type { NatState } from './state';
import { TableWatch } from './watch';

export interface FirewallOptions {
  /** The namespace the daemon's bridges live in (default: the daemon's own). */
  netnsPath?: string;
  /** The inet table cnm owns (default `cnm`). */
  table?: string;
  /** Wait this long after damage before restoring, to let a burst of changes settle (ms, default 100). */
  restoreDelayMs?: number;
  /** Told about every self-healing attempt: how long the re-apply took, and its error if it failed. */
  onRestore?: (result: { durationMs: number; error?: Error }) => void;
}

export class Firewall {
  /** The last ruleset applied successfully: what a restore puts back. */
  private desired: string | undefined;
  /** The state `desired` was rendered from (JSON): an unchanged state needs no kernel round trip. */
  private desiredState: string | undefined;
  /**
   * Applies, restores and teardown run one after the other, each reading `desired` when its turn
   * comes: a restore queued behind an apply must put back the new state, not the one it saw.
   */
  private turn: Promise<unknown> = Promise.resolve();
  private restoreTimer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private readonly nft: Nft,
    private readonly watch: TableWatch,
    private readonly table: string,
    private readonly options: FirewallOptions,
  ) {}

  /** Opens the nftables context and starts watching for damage (nothing is applied yet). */
  static open(options: FirewallOptions = {}): Firewall {
    const table = options.table ?? DEFAULT_TABLE;
    renderTeardown(table); // validates the name before anything is opened
    const nft = Nft.open(options.netnsPath);
    let firewall: Firewall | undefined;
    try {
      const watch = TableWatch.open({
        ...(options.netnsPath ? { netnsPath: options.netnsPath } : {}),
        table,
        onDamage: () => firewall?.scheduleRestore(),
      });
      firewall = new Firewall(nft, watch, table, options);
      return firewall;
    } catch (err) {
      nft.close();
      throw err;
    }
  }

  /**
   * Makes the kernel's ruleset match state, atomically: on error (CnmError 'invalid' for a bad
   * state, NftError when nft refuses) nothing changed and the previous state stays in force.
   * Resolves to whether anything was applied (false: that state was already in force).
   */
  async apply(state: NatState): Promise<boolean> {
    this.checkOpen();
    const key = JSON.stringify(state);
    // Compared in turn: an apply still queued may change what is in force. Most controller
    // changes touch nothing NAT renders, and the table is replaced whole, so skipping matters.
    return this.inTurn(async () => {
      if (key === this.desiredState) return false;
      const text = renderRuleset(state, this.table);
      await this.nft.run(text);
      this.desired = text;
      this.desiredState = key;
      return true;
    });
  }

  /** Removes cnm's table (nothing else) and closes the service. */
  async teardown(): Promise<void> {
    this.checkOpen();
    this.stopWatching();
    try {
      await this.inTurn(async () => {
        this.desired = undefined;
        this.desiredState = undefined;
        await this.nft.run(renderTeardown(this.table));
      });
    } finally {
      this.close();
    }
  }

  /** Stops watching and frees the context, leaving the rules in place (e.g. across a restart). */
  close(): void {
    if (this.closed) return;
    this.stopWatching();
    this.closed = true;
    this.nft.close();
  }

  private stopWatching(): void {
    clearTimeout(this.restoreTimer);
    this.restoreTimer = undefined;
    this.watch.close();
  }

  private scheduleRestore(): void {
    if (this.closed || this.desired === undefined || this.restoreTimer) return;
    this.restoreTimer = setTimeout(() => void this.restore(), this.options.restoreDelayMs ?? 100);
    this.restoreTimer.unref();
  }

  private async restore(): Promise<void> {
    this.restoreTimer = undefined;
    await this.inTurn(async () => {
      const text = this.desired;
      if (this.closed || text === undefined) return;
      const started = performance.now();
      try {
        await this.nft.run(text);
        this.options.onRestore?.({ durationMs: performance.now() - started });
      } catch (err) {
        this.options.onRestore?.({ durationMs: performance.now() - started, error: err as Error });
      }
    });
  }

  private inTurn<T>(job: () => Promise<T>): Promise<T> {
    const result = this.turn.then(job);
    this.turn = result.catch(() => undefined);
    return result;
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('Firewall is closed');
  }
}
