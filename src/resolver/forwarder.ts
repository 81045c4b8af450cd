/**
 * Names that are not ours go to the upstreams. The asker always gets an answer well before its
 * own 5 s timeout (Docker and aardvark-dns let it time out, docker-behaviour.md §7.6):
 *  - each try waits tryTimeoutMs, then the next upstream is tried too (earlier tries may still
 *    answer); an unreachable upstream (ICMP) or a SERVFAIL/REFUSED fails over at once;
 *  - after a total budget, or once every upstream has failed, the asker gets SERVFAIL with an
 *    Extended DNS Error saying why;
 *  - a TCP asker whose answer came back truncated over UDP gets it fetched again over TCP; a UDP
 *    asker gets the truncated answer as is and retries over TCP itself (RFC 7766 §5);
 *  - the maxInflight slots are shared fairly: a sandbox may hold at most maxInflight divided by
 *    the number of sandboxes with queries in flight (itself included); past its share its new
 *    queries get SERVFAIL at once, while a quiet sandbox still gets a slot. A flood from one
 *    sandbox therefore never fails another's lookups. (Shares shrink as sandboxes join, so the
 *    total may pass maxInflight for a moment, until the busy ones drain; it never passes twice
 *    maxInflight.) SERVFAIL rather than Docker's REFUSED:
 *    overload is temporary, and stub resolvers treat SERVFAIL as "try again" (glibc: TRY_AGAIN,
 *    EAI_AGAIN) but REFUSED as a permanent failure that even stops the search list.
 * Answers pass unchanged except for the id, and are cached by their TTLs.
 */
import type { AnswerCache } from './cache';
import { cacheKey } from './cache';
import type { ForwardPath, ReplySink } from './engine';
import { Upstream, type Pending, type UpstreamAddress } from './upstream';
import { EDE, Query, RCODE, emptyResponse, isTruncated, parseQuery, rcodeOf, responseLimit, type ExtendedError } from './wire';

export interface ForwarderOptions {
  tryTimeoutMs: number;
  maxInflight: number;
  cache: AnswerCache | null;
  observer: ForwardObserver;
  /**
   * Told when forwarding fails (at most once per WARN_EVERY_MS: an outage must not flood the log)
   * and when an upstream stops answering and is asked after the others.
   */
  warn: (message: string) => void;
  /** Told when an upstream reported down answers again. */
  info?: (message: string) => void;
}

/** What the forwarder reports (metrics, logs). */
export interface ForwardObserver {
  answered(qtype: number, rcode: number, source: 'cache' | 'upstream', started: number): void;
  cacheLookup(hit: boolean): void;
  /** A sandbox past its share of the in-flight slots got SERVFAIL. */
  forwardRefused(sandboxId: string): void;
  upstreamError(upstream: string, reason: 'timeout' | 'unreachable' | 'servfail' | 'refused'): void;
}

/** A failed upstream is tried last for this long. */
const DEMOTION_MS = 30_000;
/** The whole forwarding of one query stays under this, far from a stub's 5 s. */
const MAX_BUDGET_MS = 4000;
const WARN_EVERY_MS = 10_000;

const OVERLOADED: ExtendedError = { code: EDE.other, text: 'too many queries in flight' };
const NO_UPSTREAMS: ExtendedError = { code: EDE.noReachableAuthority, text: 'no upstream DNS servers configured' };

export class Forwarder implements ForwardPath {
  inflight = 0;
  /** Queries in flight per sandbox; only sandboxes with some are present. */
  private readonly inflightBySandbox = new Map<string, number>();
  readonly budgetMs: number;
  private upstreams: Upstream[] = [];
  private readonly scratch = new Query();
  private warnedAt = -Infinity;
  private unreported = 0;

  constructor(readonly options: ForwarderOptions) {
    this.budgetMs = Math.min(MAX_BUDGET_MS, Math.max(options.tryTimeoutMs, 3 * options.tryTimeoutMs));
  }

  /** Replaces the upstream list; servers still listed keep their sockets and health. */
  setUpstreams(addresses: readonly UpstreamAddress[]): void {
    const before = new Map(this.upstreams.map((u) => [u.address.text, u]));
    this.upstreams = addresses.map((a) => before.get(a.text) ?? new Upstream(a));
    const kept = new Set(this.upstreams);
    for (const u of before.values()) if (!kept.has(u)) u.close();
    if (before.size !== this.upstreams.length || this.upstreams.some((u) => !before.has(u.address.text))) this.options.cache?.clear();
  }

  addresses(): UpstreamAddress[] {
    return this.upstreams.map((u) => u.address);
  }

  forward(msg: Buffer, q: Query, sink: ReplySink, peer: unknown, started: number): void {
    const key = cacheKey(q);
    const cache = this.options.cache;
    if (cache !== null) {
      const hit = cache.serve(key, msg, q, responseLimit(q, sink.tcp), started);
      this.options.observer.cacheLookup(hit !== null);
      if (hit !== null) {
        sink.reply(hit, peer);
        this.options.observer.answered(q.qtype, rcodeOf(hit), 'cache', started);
        return;
      }
    }
    if (this.upstreams.length === 0) return this.fail(msg, q, sink, peer, NO_UPSTREAMS, started);
    if (!this.admit(sink.sandboxId)) {
      this.options.observer.forwardRefused(sink.sandboxId);
      return this.fail(msg, q, sink, peer, OVERLOADED, started);
    }
    new ForwardJob(this, msg, q.qtype, key, sink, peer, this.ordered(started), started).next();
  }

  /**
   * An upstream failed: asked after the others for DEMOTION_MS. Said once when a healthy one
   * goes down (not per query), and again only after it answered in between.
   */
  upstreamFailed(upstream: Upstream, why: string): void {
    upstream.failedAt = performance.now();
    if (upstream.reportedDown) return;
    upstream.reportedDown = true;
    this.options.warn(`[resolver] upstream ${why}: it is asked after the others for ${DEMOTION_MS / 1000} s`);
  }

  upstreamRecovered(upstream: Upstream): void {
    upstream.reportedDown = false;
    this.options.info?.(`[resolver] upstream ${upstream.address.text} answers again`);
  }

  /** Takes one in-flight slot for the sandbox if it is within its fair share. */
  private admit(sandboxId: string): boolean {
    const max = this.options.maxInflight;
    if (this.inflight >= 2 * max) return false;
    const mine = this.inflightBySandbox.get(sandboxId) ?? 0;
    const active = this.inflightBySandbox.size + (mine === 0 ? 1 : 0);
    if (mine >= Math.max(1, Math.floor(max / active))) return false;
    this.inflightBySandbox.set(sandboxId, mine + 1);
    this.inflight++;
    return true;
  }

  /** Gives back a slot taken by admit. */
  release(sandboxId: string): void {
    this.inflight--;
    const mine = this.inflightBySandbox.get(sandboxId) ?? 1;
    if (mine <= 1) this.inflightBySandbox.delete(sandboxId);
    else this.inflightBySandbox.set(sandboxId, mine - 1);
  }

  /** Healthy upstreams first (in configured order), then recently failed ones, oldest failure first. */
  private ordered(now: number): Upstream[] {
    // The common case builds nothing: every upstream healthy, the configured order as is.
    let anyDemoted = false;
    for (let i = 0; i < this.upstreams.length && !anyDemoted; i++) anyDemoted = now - this.upstreams[i]!.failedAt <= DEMOTION_MS;
    if (!anyDemoted) return this.upstreams;
    const healthy = this.upstreams.filter((u) => now - u.failedAt > DEMOTION_MS);
    const demoted = this.upstreams.filter((u) => now - u.failedAt <= DEMOTION_MS).sort((a, b) => a.failedAt - b.failedAt);
    return healthy.concat(demoted);
  }

  /** SERVFAIL with a reason; msg is the asker's query, parsed again because the engine's Query is reused. */
  fail(msg: Buffer, q: Query | null, sink: ReplySink, peer: unknown, why: ExtendedError, started: number): void {
    const query = q ?? this.scratch;
    if (q === null) parseQuery(msg, query);
    sink.reply(emptyResponse(msg, query, RCODE.SERVFAIL, why), peer);
    this.options.observer.answered(query.qtype, RCODE.SERVFAIL, 'upstream', started);
    this.unreported++;
    if (started - this.warnedAt >= WARN_EVERY_MS) {
      this.options.warn(`[resolver] answered SERVFAIL: ${why.text}${this.unreported > 1 ? ` (${this.unreported} such answers since the last report)` : ''}`);
      this.warnedAt = started;
      this.unreported = 0;
    }
  }

  close(): void {
    for (const u of this.upstreams) u.close();
    this.upstreams = [];
  }
}

class ForwardJob {
  private readonly attempts: Pending[] = [];
  private tries = 0;
  private outstanding = 0;
  private overTcp = false;
  private timer: NodeJS.Timeout | null = null;
  private last: Buffer | null = null;
  private lastError = '';
  private finished = false;

  constructor(
    private readonly forwarder: Forwarder,
    private readonly msg: Buffer,
    private readonly qtype: number,
    private readonly key: string,
    private readonly sink: ReplySink,
    private readonly peer: unknown,
    private readonly order: readonly Upstream[],
    private readonly started: number,
  ) {}

  /** Tries the next upstream (cycling), and arms the timer that tries the one after. */
  next(upstream = this.order[this.tries % this.order.length]!): void {
    this.tries++;
    this.outstanding++;
    const viaTcp = this.overTcp;
    const query = Buffer.from(this.msg);
    this.attempts.push(upstream.exchange(query, viaTcp, (err, answer) => this.result(upstream, viaTcp, err, answer)));
    if (this.timer !== null) clearTimeout(this.timer);
    const left = this.started + this.forwarder.budgetMs - performance.now();
    this.timer = setTimeout(() => this.timeout(upstream), Math.max(1, Math.min(this.forwarder.options.tryTimeoutMs, left)));
    // The listeners keep the daemon alive; a query waiting for an upstream must not hold up its exit.
    this.timer.unref();
  }

  private timeout(upstream: Upstream): void {
    this.timer = null;
    this.lastError = `${upstream.address.text} timed out`;
    this.forwarder.upstreamFailed(upstream, this.lastError);
    this.forwarder.options.observer.upstreamError(upstream.address.text, 'timeout');
    if (performance.now() - this.started < this.forwarder.budgetMs - 1) this.next();
    else this.finish(this.last);
  }

  private result(upstream: Upstream, viaTcp: boolean, err: Error | null, answer: Buffer | null): void {
    if (this.finished) return;
    this.outstanding--;
    const observer = this.forwarder.options.observer;
    if (answer !== null) {
      const rcode = rcodeOf(answer);
      if (isTruncated(answer) && !viaTcp && this.sink.tcp) {
        this.overTcp = true;
        return this.next(upstream);
      }
      if (rcode !== RCODE.SERVFAIL && rcode !== RCODE.REFUSED) {
        if (upstream.reportedDown) this.forwarder.upstreamRecovered(upstream);
        return this.finish(answer);
      }
      this.last = answer;
      this.lastError = `${upstream.address.text} answered ${rcode === RCODE.SERVFAIL ? 'SERVFAIL' : 'REFUSED'}`;
      observer.upstreamError(upstream.address.text, rcode === RCODE.SERVFAIL ? 'servfail' : 'refused');
    } else {
      this.lastError = `${upstream.address.text}: ${err?.message ?? 'failed'}`;
      observer.upstreamError(upstream.address.text, 'unreachable');
    }
    this.forwarder.upstreamFailed(upstream, this.lastError);
    // Fail over at once while some upstream is untried; when all have failed, stop waiting.
    if (this.tries < this.order.length) this.next();
    else if (this.outstanding === 0) this.finish(this.last);
  }

  private finish(answer: Buffer | null): void {
    if (this.finished) return;
    this.finished = true;
    this.forwarder.release(this.sink.sandboxId);
    if (this.timer !== null) clearTimeout(this.timer);
    for (const attempt of this.attempts) attempt.cancel();
    if (answer === null) {
      const why = { code: EDE.noReachableAuthority, text: `upstream ${this.lastError}` };
      return this.forwarder.fail(this.msg, null, this.sink, this.peer, why, this.started);
    }
    answer.writeUInt16BE(this.msg.readUInt16BE(0), 0);
    this.forwarder.options.cache?.store(this.key, answer, performance.now());
    this.sink.reply(answer, this.peer);
    this.forwarder.options.observer.answered(this.qtype, rcodeOf(answer), 'upstream', this.started);
  }
}
