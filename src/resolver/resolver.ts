/**
 * The embedded resolver: one per daemon, serving every sandbox on a user-defined network on
 * 127.0.0.11:53 inside that sandbox's namespace. The controller pushes the complete desired
 * state; `update` derives a new snapshot (reusing what did not change), makes it live in one
 * assignment, then opens the listeners of new sandboxes and closes those of removed ones.
 */
import { CnmError, invalid, messageOf } from '../errors';
import type { ResolvConf } from '../os/resolvconf';
import { AnswerCache } from './cache';
import { QueryEngine } from './engine';
import { Forwarder } from './forwarder';
import { LISTEN_ADDRESS, SandboxListeners, type ListenerOptions } from './listeners';
import { Metrics } from './metrics';
import { NativeResponder, nativeUnavailable } from './native-responder';
import { buildSnapshot } from './records';
import { ResolvConfWatcher } from './resolv-conf';
import type { DnsSandbox, DnsState } from './state';
import { parseUpstream, type UpstreamAddress } from './upstream';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

export interface ResolverOptions {
  /** `cnmd --dns`: IP or IP:port ([IPv6]:port). When absent, the nameservers of resolvConfPath. */
  upstreams?: string[];
  /**
   * The host's resolv.conf, default /etc/resolv.conf, followed while the resolver runs: its
   * search domains and options always, its nameservers unless `upstreams` replaces them.
   */
  resolvConfPath?: string;
  /** Told after the followed resolv.conf changed and forwarding uses it (sandbox files are then rewritten). */
  onHostResolvConfChange?: () => void;
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
  /** A TCP message must arrive whole within this of its first byte, default 3 s. */
  tcpMessageTimeoutMs?: number;
  /**
   * Local answers over UDP from the native responder's thread (native-responder.ts), default true
   * unless the environment has CNM_DNS_NATIVE=0. Where it cannot start, Node serves everything.
   */
  nativeResponder?: boolean;
  /** How often resolvConfPath is checked for changes, default 1 s. */
  resolvConfPollMs?: number;
  log?: Log;
}

/** Sandboxes whose listeners are opened at once before yielding to queries again. */
const OPEN_BATCH = 64;

export class Resolver {
  private readonly ttl: number;
  /**
   * Made once, here: a closure made inside apply() would share apply's scope, snapshot included,
   * and every listener would keep the snapshot of the update that opened it alive (memory
   * growing with the square of the sandboxes added one at a time).
   */
  private readonly listenerOptions: ListenerOptions;
  private readonly log: Log;
  private readonly engine: QueryEngine;
  private readonly forwarder: Forwarder;
  private readonly cache: AnswerCache | null;
  private readonly counters = new Metrics();
  private readonly watcher: ResolvConfWatcher;
  private readonly listeners = new Map<string, SandboxListeners>();
  private readonly native: NativeResponder | null;
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(options: ResolverOptions = {}) {
    this.ttl = options.ttl ?? 600;
    this.log = options.log ?? (() => {});
    const cacheEntries = options.cacheEntries ?? 10_000;
    this.cache = cacheEntries > 0 ? new AnswerCache(cacheEntries) : null;
    this.forwarder = new Forwarder({
      tryTimeoutMs: options.tryTimeoutMs ?? 800,
      maxInflight: options.maxInflight ?? 1024,
      cache: this.cache,
      observer: this.counters,
      warn: (message) => this.log('warn', message),
      info: (message) => this.log('info', message),
    });
    this.engine = new QueryEngine(this.forwarder, this.counters);
    this.native = this.startNative(options.nativeResponder ?? process.env.CNM_DNS_NATIVE !== '0');
    this.listenerOptions = {
      tcpIdleTimeoutMs: options.tcpIdleTimeoutMs ?? 10_000,
      tcpMessageTimeoutMs: options.tcpMessageTimeoutMs ?? 3000,
      tcpObserver: this.counters,
      onError: (id, err) => this.log('debug', '[resolver] socket error', { sandbox: id, error: err.message }),
      native: this.native,
    };

    const fixed = options.upstreams?.map((text) => parseUpstream(text) ?? throwInvalid(text));
    const path = options.resolvConfPath ?? '/etc/resolv.conf';
    const changed = (conf: ResolvConf): void => {
      if (fixed === undefined) this.useResolvConf(path, conf);
      options.onHostResolvConfChange?.();
    };
    this.watcher = new ResolvConfWatcher(path, changed, options.resolvConfPollMs ?? 1000);
    if (fixed !== undefined) {
      this.forwarder.setUpstreams(fixed);
      this.log('info', '[resolver] upstreams from --dns', { upstreams: fixed.map((a) => a.text) });
    }
    else this.useResolvConf(path, this.watcher.current);
  }

  private startNative(enabled: boolean): NativeResponder | null {
    const why = nativeUnavailable(enabled);
    if (why === null) {
      try {
        const native = NativeResponder.start(this.engine);
        this.log('info', '[resolver] native responder started: local UDP answers are served by its thread');
        return native;
      } catch (err) {
        this.log('error', `[resolver] native responder cannot start (${messageOf(err)}): Node serves every DNS query`);
        return null;
      }
    }
    this.log(enabled ? 'error' : 'info', `[resolver] native responder ${why}: Node serves every DNS query`);
    return null;
  }

  /** True when the native responder's thread serves the UDP sockets. */
  get nativeActive(): boolean {
    return this.native !== null;
  }

  private useResolvConf(path: string, conf: ResolvConf): void {
    const addresses = conf.nameservers.map(parseUpstream).filter((a): a is UpstreamAddress => a !== null);
    this.forwarder.setUpstreams(addresses);
    if (addresses.length === 0) this.log('warn', `[resolver] no nameserver in ${path}: names that are not local get SERVFAIL`);
    else this.log('info', `[resolver] upstreams from ${path}`, { upstreams: addresses.map((a) => a.text) });
  }

  /** Prometheus text exposition of the resolver's counters. */
  metrics(): string {
    let tcpConnections = 0;
    let tcpQueuedBytes = 0;
    for (const l of this.listeners.values()) {
      tcpConnections += l.connections.size;
      tcpQueuedBytes += l.connections.queuedBytes;
    }
    const gauges = { inflight: this.forwarder.inflight, sandboxes: this.listeners.size, cacheEntries: this.cache?.size ?? 0, tcpConnections, tcpQueuedBytes };
    return this.counters.render(gauges, this.native?.counts());
  }

  /**
   * The host's DNS settings, the one source sandbox resolv.conf files are rendered from: the
   * upstreams forwarding uses that a resolv.conf can name (port 53; which of them a sandbox can
   * reach is the sandbox's business), and the followed file's search domains and options.
   */
  hostResolvConf(): ResolvConf {
    const { search, options } = this.watcher.current;
    const nameservers = this.forwarder
      .addresses()
      .filter((a) => a.port === 53)
      .map((a) => a.host);
    return { nameservers, search: [...search], options: [...options] };
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
    this.counters.forgetSandboxes(snapshot.sandboxes);

    // Plain loops: these run over every sandbox on every update, and most updates find nothing.
    const stale: SandboxListeners[] = [];
    for (const [id, l] of this.listeners) {
      if (snapshot.sandboxes.get(id)?.nsPath === l.nsPath) continue;
      stale.push(l);
      this.listeners.delete(id);
    }
    const missing: DnsSandbox[] = [];
    for (const s of snapshot.sandboxes.values()) if (!this.listeners.has(s.id)) missing.push(s);
    // The native table goes live with the records, and with the slots of listeners about to open.
    this.native?.reserve(missing.map((s) => s.id));
    this.native?.install(snapshot);
    await Promise.all(stale.map((l) => l.close()));

    const failures: string[] = [];
    for (let i = 0; i < missing.length; i += OPEN_BATCH) {
      await Promise.all(
        missing.slice(i, i + OPEN_BATCH).map(async (sandbox) => {
          try {
            const listeners = await SandboxListeners.open(sandbox.id, sandbox.nsPath, this.engine, this.listenerOptions);
            this.listeners.set(sandbox.id, listeners);
          } catch (err) {
            this.native?.release(sandbox.id);
            failures.push(`${sandbox.id} (${sandbox.nsPath}): ${messageOf(err)}`);
          }
        }),
      );
    }
    if (failures.length > 0) {
      for (const f of failures) this.log('error', `[resolver] cannot listen on ${LISTEN_ADDRESS}:53 in sandbox ${f}`);
      throw new CnmError('internal', `embedded DNS cannot listen in sandbox ${failures.join('; ')}`);
    }
  }

  /** Closes every listener. The resolver cannot be used afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    this.watcher.close();
    this.forwarder.close();
    await this.queue;
    const all = [...this.listeners.values()];
    this.listeners.clear();
    await Promise.all(all.map((l) => l.close()));
    this.native?.close();
  }
}

function throwInvalid(text: string): never {
  throw invalid(`invalid DNS server address ${JSON.stringify(text)}: expected IP, IP:port or [IPv6]:port`);
}
