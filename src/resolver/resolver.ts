/**
 * The embedded resolver: one per daemon, serving every sandbox on a user-defined network on
 * 127.0.0.11:53 inside that sandbox's namespace. The controller pushes the complete desired
 * state; `update` derives a new snapshot (reusing what did not change), makes it live in one
 * assignment, then opens the listeners of new sandboxes and closes those of removed ones.
 */
import { CnmError, messageOf } from '../errors';
import { QueryEngine, type ForwardPath, type ReplySink } from './engine';
import { SandboxListeners } from './listeners';
import { buildSnapshot } from './records';
import type { DnsState } from './state';
import { EDE, RCODE, emptyResponse, type Query } from './wire';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

export interface ResolverOptions {
  /** `cnmd --dns`: IP or IP:port ([IPv6]:port). When absent, the nameservers of resolvConfPath. */
  upstreams?: string[];
  /** Default /etc/resolv.conf; followed when it changes. */
  resolvConfPath?: string;
  /** TTL of local answers in seconds (`--dns-ttl`), default 600 as Docker. */
  ttl?: number;
  /** Forwarded queries in flight before new ones get SERVFAIL, default 1024. */
  maxInflight?: number;
  /** Per-upstream try before failing over, default 800 ms. */
  tryTimeoutMs?: number;
  /** Entries of the upstream-answer cache, default 10,000 (0 disables it). */
  cacheEntries?: number;
  /** Idle TCP connections are closed after this long, default 10 s. */
  tcpIdleTimeoutMs?: number;
  log?: Log;
}

/** Sandboxes whose listeners are opened at once before yielding to queries again. */
const OPEN_BATCH = 64;

const NOT_YET: Readonly<{ code: number; text: string }> = { code: EDE.other, text: 'forwarding is not implemented yet' };

export class Resolver {
  private readonly ttl: number;
  private readonly tcpIdleTimeoutMs: number;
  private readonly log: Log;
  private readonly engine: QueryEngine;
  private readonly listeners = new Map<string, SandboxListeners>();
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(options: ResolverOptions = {}) {
    this.ttl = options.ttl ?? 600;
    this.tcpIdleTimeoutMs = options.tcpIdleTimeoutMs ?? 10_000;
    this.log = options.log ?? (() => {});
    const forwarding: ForwardPath = {
      forward: (msg: Buffer, q: Query, sink: ReplySink, peer: unknown) =>
        sink.reply(emptyResponse(msg, q, RCODE.SERVFAIL, NOT_YET), peer),
    };
    this.engine = new QueryEngine(forwarding);
  }

  /**
   * Makes state live. Resolves once queries see it, new sandboxes' listeners are open and removed
   * ones' are closed. Rejects (after applying everything else) when some listener could not be
   * opened; the next update retries it.
   */
  update(state: DnsState): Promise<void> {
    const run = this.queue.then(() => this.apply(state));
    this.queue = run.catch(() => {});
    return run;
  }

  private async apply(state: DnsState): Promise<void> {
    if (this.closed) throw new CnmError('unavailable', 'the embedded DNS resolver is closed');
    const { snapshot, problems } = buildSnapshot(this.engine.snapshot, state, this.ttl);
    for (const problem of problems) this.log('warn', `[resolver] ${problem}`);
    this.engine.snapshot = snapshot;

    const stale = [...this.listeners].filter(([id, l]) => snapshot.sandboxes.get(id)?.nsPath !== l.nsPath);
    for (const [id] of stale) this.listeners.delete(id);
    await Promise.all(stale.map(([, l]) => l.close()));

    const missing = [...snapshot.sandboxes.values()].filter((s) => !this.listeners.has(s.id));
    const failures: string[] = [];
    for (let i = 0; i < missing.length; i += OPEN_BATCH) {
      await Promise.all(
        missing.slice(i, i + OPEN_BATCH).map(async (sandbox) => {
          try {
            const listeners = await SandboxListeners.open(sandbox.id, sandbox.nsPath, this.engine, {
              tcpIdleTimeoutMs: this.tcpIdleTimeoutMs,
              onError: (id, err) => this.log('debug', '[resolver] socket error', { sandbox: id, error: err.message }),
            });
            this.listeners.set(sandbox.id, listeners);
          } catch (err) {
            failures.push(`${sandbox.id} (${sandbox.nsPath}): ${messageOf(err)}`);
          }
        }),
      );
    }
    if (failures.length > 0) {
      for (const f of failures) this.log('error', `[resolver] cannot listen on 127.0.0.11:53 in sandbox ${f}`);
      throw new CnmError('internal', `embedded DNS cannot listen in sandbox ${failures.join('; ')}`);
    }
  }

  /** Closes every listener. The resolver cannot be used afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    await this.queue;
    const all = [...this.listeners.values()];
    this.listeners.clear();
    await Promise.all(all.map((l) => l.close()));
  }
}
