/**
 * cnm-dns's server: cnm's resolver engine (QueryEngine, compiled snapshots, Forwarder with its
 * cache, fail-over and SERVFAIL budget, Metrics) behind aardvark-dns's sockets: UDP and TCP on
 * every network gateway address, the asker's view chosen by its source address. `apply` takes a
 * new plan at once: the snapshot is swapped in one assignment, listeners of new gateways are
 * opened and those of gone ones closed.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { AnswerCache } from '../resolver/cache';
import { QueryEngine, type ForwardPath, type ReplySink } from '../resolver/engine';
import { Forwarder } from '../resolver/forwarder';
import { Metrics } from '../resolver/metrics';
import { nameKey } from '../resolver/names';
import { literalLookup, UdpSink } from '../resolver/listeners';
import { buildSnapshot } from '../resolver/records';
import { ResolvConfWatcher } from '../resolver/resolv-conf';
import { TcpConnections, type TcpObserver } from '../resolver/tcp';
import { parseUpstream, type UpstreamAddress } from '../resolver/upstream';
import { RCODE, emptyResponse, type Query } from '../resolver/wire';
import type { ListenAddress, Plan } from './plan';

export interface ServerOptions {
  port: number;
  /** The search domain (`dns.podman`): unknown names under it get NXDOMAIN, as single labels do. */
  domain: string;
  /** Followed for the host's nameservers (views without configured servers). */
  resolvConfPath: string;
  /** TTL of container answers; aardvark 1.4 uses 86400. */
  ttl: number;
  log: (message: string) => void;
}

/** As the embedded resolver (src/resolver/listeners.ts): room for ~2,500 queued queries. */
const UDP_RECEIVE_BUFFER_BYTES = 1 << 20;
const MAX_TCP_CONNECTIONS = 64;
const TCP_IDLE_MS = 10_000;
/** A TCP message must arrive whole within this of its first byte. */
const TCP_MESSAGE_MS = 3_000;
const TRY_TIMEOUT_MS = 800;
const MAX_INFLIGHT = 1024;
const CACHE_ENTRIES = 10_000;
/** An address the kernel does not have yet (an IPv6 gateway in DAD) is tried again this often. */
const RETRY_BIND_MS = 200;

/** One gateway address: a UDP and a TCP socket, and the sinks of the views that ask there. */
class GatewayListener {
  private readonly udp: dgram.Socket;
  private readonly tcp: net.Server;
  /** Each view's TCP connections (their slots, queued bytes and deadlines), made on first use. */
  private readonly tcpGroups = new Map<string, TcpConnections>();
  /** Source address → the sink of its view; replaced as a whole on every plan. */
  private sinks = new Map<string, UdpSink>();
  private fallback: UdpSink;
  private viewOf: ReadonlyMap<string, string> = new Map();
  private retry: NodeJS.Timeout | undefined;
  bound = false;
  closed = false;

  constructor(
    readonly at: ListenAddress,
    private readonly port: number,
    engine: QueryEngine,
    private readonly log: (message: string) => void,
    tcpObserver: TcpObserver,
  ) {
    this.udp = dgram.createSocket({ type: at.family === 6 ? 'udp6' : 'udp4', ipv6Only: at.family === 6, recvBufferSize: UDP_RECEIVE_BUFFER_BYTES, lookup: literalLookup });
    this.fallback = new UdpSink(at.fallbackView, this.udp);
    this.udp.on('message', (msg, rinfo) => engine.handle(msg, this.sinks.get(rinfo.address) ?? this.fallback, rinfo));
    const limits = { maxConnections: MAX_TCP_CONNECTIONS, idleTimeoutMs: TCP_IDLE_MS, messageTimeoutMs: TCP_MESSAGE_MS };
    // No server.maxConnections: when a view's slots are full, TcpConnections frees the slowest.
    this.tcp = net.createServer((socket) => {
      const view = this.viewOf.get(socket.remoteAddress ?? '') ?? this.at.fallbackView;
      let group = this.tcpGroups.get(view);
      if (group === undefined) this.tcpGroups.set(view, (group = new TcpConnections(view, engine, limits, tcpObserver)));
      group.accept(socket);
    });
  }

  /** Points every known source address at its view's sink (one sink per view, made here). */
  setViews(viewOf: ReadonlyMap<string, string>, fallbackView: string): void {
    const byView = new Map<string, UdpSink>();
    const sinks = new Map<string, UdpSink>();
    for (const [address, view] of viewOf) {
      let sink = byView.get(view);
      if (sink === undefined) byView.set(view, (sink = new UdpSink(view, this.udp)));
      sinks.set(address, sink);
    }
    this.sinks = sinks;
    this.viewOf = viewOf;
    if (fallbackView !== this.fallback.sandboxId) this.fallback = new UdpSink(fallbackView, this.udp);
  }

  get tcpConnections(): number {
    let n = 0;
    for (const group of this.tcpGroups.values()) n += group.size;
    return n;
  }

  get tcpQueuedBytes(): number {
    let n = 0;
    for (const group of this.tcpGroups.values()) n += group.queuedBytes;
    return n;
  }

  /** Binds both sockets; resolves false when the address is not (yet) on this host. */
  async open(): Promise<boolean> {
    try {
      await once(this.udp, (done) => this.udp.bind({ address: this.at.address, port: this.port, exclusive: true }, done));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL') return false;
      throw err;
    }
    try {
      await once(this.tcp, (done) => this.tcp.listen({ host: this.at.address, port: this.port, ipv6Only: this.at.family === 6 }, done));
    } catch (err) {
      this.udp.close();
      throw err;
    }
    this.udp.on('error', (err) => this.log(`udp ${this.at.address}: ${err.message}`));
    this.tcp.on('error', (err) => this.log(`tcp ${this.at.address}: ${err.message}`));
    this.bound = true;
    return true;
  }

  /** Keeps trying open() until it binds or the listener is closed. */
  retryLater(): void {
    this.retry = setTimeout(() => {
      this.open().then(
        (ok) => {
          if (this.closed) void this.close();
          else if (ok) this.log(`listening on ${this.at.address}:${this.port} now`);
          else this.retryLater();
        },
        (err: unknown) => this.log(`cannot listen on ${this.at.address}:${this.port}: ${(err as Error).message}`),
      );
    }, RETRY_BIND_MS);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    this.fallback.closed = true;
    for (const sink of this.sinks.values()) sink.closed = true;
    if (!this.bound) return;
    this.bound = false;
    await new Promise<void>((resolve) => this.udp.close(() => resolve()));
    for (const group of this.tcpGroups.values()) group.closeAll();
    await new Promise<void>((resolve) => this.tcp.close(() => resolve()));
  }
}

function once(emitter: dgram.Socket | net.Server, start: (done: () => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    emitter.once('error', reject);
    start(() => {
      emitter.off('error', reject);
      resolve();
    });
  });
}

/**
 * Where the engine's non-local names go: NXDOMAIN under the search domain and for single labels
 * (aardvark 1.4 never forwards those: an upstream cannot know a container name, and the query
 * would leak it), otherwise the forwarder of the asker's upstream set.
 */
class PodmanForwarding implements ForwardPath {
  /** View → its forwarder; views not listed use `host`. */
  byView = new Map<string, Forwarder>();

  constructor(
    readonly host: Forwarder,
    private readonly domainKey: string,
    private readonly metrics: Metrics,
  ) {}

  forward(msg: Buffer, q: Query, sink: ReplySink, peer: unknown, started: number): void {
    if (q.labels <= 1 || q.key.endsWith(this.domainKey)) {
      sink.reply(emptyResponse(msg, q, RCODE.NXDOMAIN), peer);
      this.metrics.answered(q.qtype, RCODE.NXDOMAIN, 'local', started);
      return;
    }
    (this.byView.get(sink.sandboxId) ?? this.host).forward(msg, q, sink, peer, started);
  }
}

export class PodmanDnsServer {
  private readonly metrics = new Metrics();
  private readonly engine: QueryEngine;
  private readonly forwarding: PodmanForwarding;
  private readonly watcher: ResolvConfWatcher;
  /** Forwarders of configured server sets (`podman run --dns`, network DNS servers), by set. */
  private configured = new Map<string, Forwarder>();
  private readonly listeners = new Map<string, GatewayListener>();
  private containers = 0;

  constructor(private readonly options: ServerOptions) {
    const domainKey = nameKey(options.domain) ?? '\0';
    // The key of `x.<domain>` ends with the domain's key, which starts at a label boundary.
    const host = this.newForwarder();
    this.forwarding = new PodmanForwarding(host, domainKey, this.metrics);
    this.engine = new QueryEngine(this.forwarding, this.metrics);
    this.watcher = new ResolvConfWatcher(options.resolvConfPath, (conf) => host.setUpstreams(parsed(conf.nameservers)), 1000);
    host.setUpstreams(parsed(this.watcher.current.nameservers));
  }

  private newForwarder(): Forwarder {
    return new Forwarder({
      tryTimeoutMs: TRY_TIMEOUT_MS,
      maxInflight: MAX_INFLIGHT,
      cache: new AnswerCache(CACHE_ENTRIES),
      observer: this.metrics,
      warn: (message) => this.options.log(message),
    });
  }

  /**
   * Makes plan live: queries see the new names at once; new gateways are listened on before this
   * resolves (an address the host does not have yet is retried in the background). Rejects when
   * no gateway address at all could be bound, or one failed for another reason than absence.
   */
  async apply(plan: Plan): Promise<void> {
    const { snapshot, problems } = buildSnapshot(this.engine.snapshot, plan.state, this.options.ttl);
    for (const problem of problems) this.options.log(problem);
    this.engine.snapshot = snapshot;
    this.containers = plan.containers;

    const sets = new Map<string, Forwarder>();
    const byView = new Map<string, Forwarder>();
    for (const [view, servers] of plan.serversOf) {
      const key = servers.join(',');
      let forwarder = sets.get(key) ?? this.configured.get(key);
      if (forwarder === undefined) {
        forwarder = this.newForwarder();
        forwarder.setUpstreams(parsed(servers));
      }
      sets.set(key, forwarder);
      byView.set(view, forwarder);
    }
    for (const [key, forwarder] of this.configured) if (!sets.has(key)) forwarder.close();
    this.configured = sets;
    this.forwarding.byView = byView;

    const wanted = new Map(plan.listen.map((l) => [l.address, l]));
    const gone = [...this.listeners.values()].filter((l) => wanted.get(l.at.address)?.fallbackView !== l.at.fallbackView);
    for (const l of gone) this.listeners.delete(l.at.address);
    await Promise.all(gone.map((l) => l.close()));
    const opened: Promise<void>[] = [];
    const errors: string[] = [];
    for (const at of plan.listen) {
      let listener = this.listeners.get(at.address);
      if (listener === undefined) {
        listener = new GatewayListener(at, this.options.port, this.engine, this.options.log, this.metrics);
        this.listeners.set(at.address, listener);
        const l = listener;
        opened.push(
          l.open().then(
            (ok) => {
              if (!ok) {
                this.options.log(`${at.address} is not on this host yet: listening as soon as it is`);
                l.retryLater();
              }
            },
            (err: unknown) => {
              this.listeners.delete(at.address);
              errors.push(`cannot listen on ${at.address}:${this.options.port}: ${(err as Error).message}`);
            },
          ),
        );
      }
      listener.setViews(plan.viewOf, at.fallbackView);
    }
    await Promise.all(opened);
    if (errors.length > 0) throw new Error(errors.join('; '));
  }

  /** Gateways actually listened on. */
  listening(): string[] {
    return [...this.listeners.values()].filter((l) => l.bound).map((l) => l.at.address);
  }

  /** Prometheus text: cnm's resolver metrics (sandboxes = containers served). */
  renderMetrics(): string {
    let inflight = this.forwarding.host.inflight;
    let cacheEntries = this.forwarding.host.options.cache?.size ?? 0;
    for (const f of this.configured.values()) {
      inflight += f.inflight;
      cacheEntries += f.options.cache?.size ?? 0;
    }
    let tcpConnections = 0;
    let tcpQueuedBytes = 0;
    for (const l of this.listeners.values()) {
      tcpConnections += l.tcpConnections;
      tcpQueuedBytes += l.tcpQueuedBytes;
    }
    return this.metrics.render({ inflight, sandboxes: this.containers, cacheEntries, tcpConnections, tcpQueuedBytes });
  }

  async close(): Promise<void> {
    this.watcher.close();
    this.forwarding.host.close();
    for (const f of this.configured.values()) f.close();
    const all = [...this.listeners.values()];
    this.listeners.clear();
    await Promise.all(all.map((l) => l.close()));
  }
}

function parsed(servers: readonly string[]): UpstreamAddress[] {
  return servers.map(parseUpstream).filter((a): a is UpstreamAddress => a !== null);
}
