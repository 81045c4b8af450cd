/**
 * Counters of the resolver in the Prometheus text exposition format (version 0.0.4). Recording
 * is on the hot path, so it only bumps numbers in preallocated arrays; labels are spelled out
 * when the text is rendered.
 */
import type { ForwardObserver } from './forwarder';
import type { TcpCloseReason, TcpObserver } from './tcp';
import { TYPE } from './wire';

export type Source = 'local' | 'cache' | 'upstream';
const SOURCES: readonly Source[] = ['local', 'cache', 'upstream'];
const SOURCE_INDEX: Record<Source, number> = { local: 0, cache: 1, upstream: 2 };

/** Query types with a label of their own; everything else counts as "other". */
const TYPE_NAMES: readonly string[] = ['other', 'none', 'A', 'AAAA', 'PTR', 'ANY', 'MX', 'TXT', 'SRV', 'CNAME', 'NS', 'SOA', 'HTTPS', 'SVCB', 'CAA', 'NAPTR', 'DS', 'DNSKEY'];
const TYPE_CODES: Record<string, number> = { ...TYPE, HTTPS: 65, SVCB: 64, CAA: 257, NAPTR: 35, DS: 43, DNSKEY: 48 };
const typeIndex = new Uint8Array(65536);
TYPE_NAMES.forEach((name, i) => {
  if (TYPE_CODES[name] !== undefined) typeIndex[TYPE_CODES[name]!] = i;
});
/** The type labels by query type, for the native responder's counters (src/native/responder.c). */
export const METRIC_TYPE_INDEX: Uint8Array = typeIndex;
export const METRIC_TYPE_LABELS = TYPE_NAMES.length;
/** For responses to messages whose question could not be read. */
export const NO_QTYPE = -1;

const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];
const RCODES = 17;
const RCODE_NOERROR = 0; // 0..15 from the header, 16 = BADVERS
const rcodeName = (i: number): string => (i === 16 ? 'BADVERS' : (RCODE_NAMES[i] ?? `RCODE${i}`));

/** Upper bounds in seconds: local answers take microseconds, forwarded ones milliseconds. */
const BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export const LATENCY_BUCKETS: readonly number[] = BUCKETS;

/**
 * What the native responder answered (all NOERROR, source local), read from its counters at
 * scrape time: by type label, by latency bucket (BUCKETS, then +Inf), and the seconds summed.
 */
export interface NativeCounts {
  byType: Float64Array;
  buckets: Float64Array;
  seconds: number;
  /** Messages it handed to JavaScript (counted there when answered). */
  handedToJs: number;
  /** Messages it could not hand over (JavaScript's queue full): no reply. */
  dropped: number;
}

export interface Gauges {
  inflight: number;
  sandboxes: number;
  cacheEntries: number;
  tcpConnections: number;
  tcpQueuedBytes: number;
}

const TCP_CLOSE_REASONS: readonly TcpCloseReason[] = ['idle', 'message_timeout', 'evicted', 'refused', 'queue_full'];

export class Metrics implements ForwardObserver, TcpObserver {
  private readonly queries = new Float64Array(TYPE_NAMES.length * RCODES * SOURCES.length);
  private readonly buckets = new Float64Array(SOURCES.length * (BUCKETS.length + 1));
  private readonly sums = new Float64Array(SOURCES.length);
  private cacheHits = 0;
  private cacheMisses = 0;
  private dropped = 0;
  private readonly upstreamErrors = new Map<string, number>();
  private readonly tcpClosures = new Float64Array(TCP_CLOSE_REASONS.length);
  /** Refused forwards per sandbox; a removed sandbox's count goes with it (forgetSandboxes). */
  private readonly forwardRefusals = new Map<string, number>();

  /** One answered query; started is performance.now() when its message arrived. */
  answered(qtype: number, rcode: number, source: Source, started: number): void {
    const s = SOURCE_INDEX[source];
    const t = qtype === NO_QTYPE ? 1 : typeIndex[qtype]!;
    this.queries[(t * RCODES + Math.min(rcode, 16)) * SOURCES.length + s]!++;
    const seconds = (performance.now() - started) / 1000;
    let b = 0;
    while (b < BUCKETS.length && seconds > BUCKETS[b]!) b++;
    this.buckets[s * (BUCKETS.length + 1) + b]!++;
    this.sums[s] += seconds;
  }

  /** A message that got no reply at all (too short, or a response). */
  droppedMessage(): void {
    this.dropped++;
  }

  forwardRefused(sandboxId: string): void {
    this.forwardRefusals.set(sandboxId, (this.forwardRefusals.get(sandboxId) ?? 0) + 1);
  }

  /** Drops the counters of sandboxes that are gone, so churn does not grow them. */
  forgetSandboxes(live: ReadonlyMap<string, unknown>): void {
    for (const id of this.forwardRefusals.keys()) if (!live.has(id)) this.forwardRefusals.delete(id);
  }

  tcpClosed(reason: TcpCloseReason): void {
    this.tcpClosures[TCP_CLOSE_REASONS.indexOf(reason)]!++;
  }

  cacheLookup(hit: boolean): void {
    if (hit) this.cacheHits++;
    else this.cacheMisses++;
  }

  upstreamError(upstream: string, reason: string): void {
    const key = `upstream="${upstream}",reason="${reason}"`;
    this.upstreamErrors.set(key, (this.upstreamErrors.get(key) ?? 0) + 1);
  }

  render(gauges: Gauges, native?: NativeCounts): string {
    const out: string[] = [];
    const family = (name: string, type: string, help: string): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    };

    family('cnm_dns_queries_total', 'counter', 'DNS queries answered, by query type, response code and source of the answer.');
    for (let t = 0; t < TYPE_NAMES.length; t++) {
      for (let r = 0; r < RCODES; r++) {
        for (let s = 0; s < SOURCES.length; s++) {
          let n = this.queries[(t * RCODES + r) * SOURCES.length + s]!;
          if (native !== undefined && r === RCODE_NOERROR && s === SOURCE_INDEX.local) n += native.byType[t]!;
          if (n > 0) out.push(`cnm_dns_queries_total{type="${TYPE_NAMES[t]}",rcode="${rcodeName(r)}",source="${SOURCES[s]}"} ${n}`);
        }
      }
    }

    family('cnm_dns_query_duration_seconds', 'histogram', 'Time from a query reaching the resolver to its answer being sent, by source.');
    for (let s = 0; s < SOURCES.length; s++) {
      let cumulative = 0;
      for (let b = 0; b <= BUCKETS.length; b++) {
        cumulative += this.buckets[s * (BUCKETS.length + 1) + b]!;
        if (native !== undefined && s === SOURCE_INDEX.local) cumulative += native.buckets[b]!;
        const le = b < BUCKETS.length ? String(BUCKETS[b]) : '+Inf';
        out.push(`cnm_dns_query_duration_seconds_bucket{source="${SOURCES[s]}",le="${le}"} ${cumulative}`);
      }
      const sum = this.sums[s]! + (native !== undefined && s === SOURCE_INDEX.local ? native.seconds : 0);
      out.push(`cnm_dns_query_duration_seconds_sum{source="${SOURCES[s]}"} ${sum}`);
      out.push(`cnm_dns_query_duration_seconds_count{source="${SOURCES[s]}"} ${cumulative}`);
    }

    family('cnm_dns_cache_hits_total', 'counter', 'Forwarded names answered from the cache.');
    out.push(`cnm_dns_cache_hits_total ${this.cacheHits}`);
    family('cnm_dns_cache_misses_total', 'counter', 'Forwarded names not in the cache.');
    out.push(`cnm_dns_cache_misses_total ${this.cacheMisses}`);
    family('cnm_dns_cache_entries', 'gauge', 'Answers held in the cache.');
    out.push(`cnm_dns_cache_entries ${gauges.cacheEntries}`);
    family('cnm_dns_inflight', 'gauge', 'Queries waiting for an upstream.');
    out.push(`cnm_dns_inflight ${gauges.inflight}`);
    family('cnm_dns_forward_refused_total', 'counter', 'Queries refused (SERVFAIL) because their sandbox was past its share of the in-flight cap, by sandbox.');
    for (const [sandbox, n] of this.forwardRefusals) out.push(`cnm_dns_forward_refused_total{sandbox="${sandbox}"} ${n}`);
    family('cnm_dns_upstream_errors_total', 'counter', 'Failed upstream tries, by upstream and reason.');
    for (const [labels, n] of this.upstreamErrors) out.push(`cnm_dns_upstream_errors_total{${labels}} ${n}`);
    family('cnm_dns_dropped_total', 'counter', 'Messages that got no reply (shorter than a header, or responses).');
    out.push(`cnm_dns_dropped_total ${this.dropped + (native?.dropped ?? 0)}`);
    family('cnm_dns_native_responder', 'gauge', '1 when local answers come from the native responder thread, 0 when Node serves every query.');
    out.push(`cnm_dns_native_responder ${native === undefined ? 0 : 1}`);
    if (native !== undefined) {
      family('cnm_dns_native_handed_to_js_total', 'counter', 'Messages the native responder left to the TypeScript path (forwarded names, malformed, unusual).');
      out.push(`cnm_dns_native_handed_to_js_total ${native.handedToJs}`);
    }
    family('cnm_dns_sandboxes', 'gauge', 'Sandboxes with a resolver listening on 127.0.0.11:53.');
    out.push(`cnm_dns_sandboxes ${gauges.sandboxes}`);
    family('cnm_dns_tcp_connections', 'gauge', 'Open DNS-over-TCP connections.');
    out.push(`cnm_dns_tcp_connections ${gauges.tcpConnections}`);
    family('cnm_dns_tcp_queued_bytes', 'gauge', 'TCP replies queued in the daemon because clients do not read them.');
    out.push(`cnm_dns_tcp_queued_bytes ${gauges.tcpQueuedBytes}`);
    family('cnm_dns_tcp_closed_total', 'counter', 'TCP connections closed by the resolver, by reason.');
    TCP_CLOSE_REASONS.forEach((reason, i) => out.push(`cnm_dns_tcp_closed_total{reason="${reason}"} ${this.tcpClosures[i]}`));
    return out.join('\n') + '\n';
  }
}
