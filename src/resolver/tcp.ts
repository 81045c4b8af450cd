/**
 * DNS over TCP (RFC 7766): 2-byte length-prefixed messages, several per connection, pipelined
 * (answers may leave out of order), reassembled across partial reads.
 *
 * One sandbox's client cannot make the daemon hold more than a bounded amount for it:
 *  - a message longer than MAX_QUERY_BYTES closes the connection before anything is buffered;
 *  - reading stops while MAX_PENDING queries wait for an upstream, or while replies are not
 *    drained (more than WRITE_HIGH_WATER bytes queued): a client that pipelines and never reads
 *    gets nothing more parsed, and its unparsed bytes stay in the kernel;
 *  - replies queued above MAX_CONNECTION_QUEUE close that connection, and above
 *    MAX_SANDBOX_QUEUE for the whole sandbox the connection holding most is closed;
 *  - a message must arrive whole within messageTimeoutMs of its first byte (a byte every few
 *    seconds does not keep it alive), and a connection with nothing owed to it is closed after
 *    idleTimeoutMs without a complete message;
 *  - when the sandbox's connection slots are full, a new connection takes the slot of the one
 *    that made progress longest ago among those owed nothing (slow senders first, since they
 *    never complete a message); when every slot waits on an upstream, the new one is refused.
 * Deadlines are checked by one sweep per sandbox (only while it has connections), against a
 * coarse clock the sweep keeps: the per-message path reads no clock and allocates no timer.
 */
import type { Socket } from 'node:net';
import type { QueryEngine, ReplySink } from './engine';
import { MAX_QUERY_BYTES } from './wire';

/** Queries of one connection waiting for an upstream before we stop reading more. */
const MAX_PENDING = 32;
/** Replies queued in the daemon (the kernel's send buffer being full) before we stop reading. */
const WRITE_HIGH_WATER = 16 * 1024;
/** Replies queued for one connection before it is closed: its client is not reading. */
export const MAX_CONNECTION_QUEUE = 256 * 1024;
/** Replies queued for all of one sandbox's connections before the largest holder is closed. */
export const MAX_SANDBOX_QUEUE = 1024 * 1024;
/** How often deadlines are checked; they are honoured to within this. */
const SWEEP_MS = 250;

export interface TcpLimits {
  /** Connections per sandbox. */
  maxConnections: number;
  /** A connection owed nothing and sending no complete message for this long is closed. */
  idleTimeoutMs: number;
  /** A message must arrive whole within this of its first byte. */
  messageTimeoutMs: number;
}

export type TcpCloseReason = 'idle' | 'message_timeout' | 'evicted' | 'refused' | 'queue_full';

/** What the connections report (metrics). */
export interface TcpObserver {
  tcpClosed(reason: TcpCloseReason): void;
}

/** One sandbox's TCP connections: their slots, the reply bytes they queue, their deadlines. */
export class TcpConnections {
  private readonly open = new Set<TcpConnection>();
  /** Reply bytes queued in the daemon for this sandbox (kernel send buffers full). */
  queuedBytes = 0;
  /** performance.now() at the last sweep (or accept): the connections' coarse clock. */
  clock = performance.now();
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    readonly sandboxId: string,
    private readonly engine: QueryEngine,
    private readonly limits: TcpLimits,
    private readonly observer: TcpObserver,
  ) {}

  get size(): number {
    return this.open.size;
  }

  accept(socket: Socket): void {
    this.clock = performance.now();
    if (this.open.size >= this.limits.maxConnections && !this.evictOne()) {
      this.observer.tcpClosed('refused');
      socket.destroy();
      return;
    }
    const connection = new TcpConnection(this, socket, this.engine);
    this.open.add(connection);
    socket.once('close', () => this.forget(connection));
    if (this.sweeper === null) {
      this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
      this.sweeper.unref();
    }
  }

  /** Replies now queued for the sandbox went over its cap: close the connection holding most. */
  overQueued(): void {
    let largest: TcpConnection | null = null;
    for (const c of this.open) if (largest === null || c.accounted > largest.accounted) largest = c;
    largest?.close('queue_full');
  }

  closed(reason: TcpCloseReason): void {
    this.observer.tcpClosed(reason);
  }

  closeAll(): void {
    for (const c of this.open) c.socket.destroy();
    this.stopSweeping();
  }

  private forget(connection: TcpConnection): void {
    this.open.delete(connection);
    connection.release();
    if (this.open.size === 0) this.stopSweeping();
  }

  private stopSweeping(): void {
    if (this.sweeper !== null) clearInterval(this.sweeper);
    this.sweeper = null;
  }

  /** The slot of the connection owed nothing that progressed longest ago; false if there is none. */
  private evictOne(): boolean {
    let victim: TcpConnection | null = null;
    for (const c of this.open) {
      if (c.pending > 0) continue;
      if (victim === null || c.lastProgress < victim.lastProgress) victim = c;
    }
    victim?.close('evicted');
    return victim !== null;
  }

  private sweep(): void {
    const now = (this.clock = performance.now());
    for (const c of this.open) {
      if (c.messageStarted > 0 && now - c.messageStarted > this.limits.messageTimeoutMs) c.close('message_timeout');
      else if (c.pending === 0 && now - c.lastProgress > this.limits.idleTimeoutMs) c.close('idle');
    }
  }
}

export class TcpConnection implements ReplySink {
  readonly tcp = true;
  readonly sandboxId: string;
  /** Queries handed to the engine whose replies have not come back yet. */
  pending = 0;
  /** Coarse time of the last complete message, reply or drain (the accept at first). */
  lastProgress: number;
  /** Coarse time the first byte of the incomplete message arrived; 0 when none is incomplete. */
  messageStarted = 0;
  /** This connection's share of the sandbox's queuedBytes. */
  accounted = 0;
  /** Received bytes not parsed yet: an incomplete message, or messages held back while blocked. */
  private buffered: Buffer | null = null;
  private paused = false;

  constructor(
    private readonly group: TcpConnections,
    readonly socket: Socket,
    private readonly engine: QueryEngine,
  ) {
    this.sandboxId = group.sandboxId;
    this.lastProgress = group.clock;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('drain', () => this.drained());
    // Resets and aborted connections are normal client behaviour: nothing to report.
    socket.on('error', () => socket.destroy());
  }

  reply(response: Buffer): void {
    this.pending--;
    if (this.socket.destroyed) return;
    if (this.socket.writableLength + response.length > MAX_CONNECTION_QUEUE) return this.close('queue_full');
    const frame = Buffer.allocUnsafe(2 + response.length);
    frame.writeUInt16BE(response.length, 0);
    response.copy(frame, 2);
    this.socket.write(frame, this.flushed);
    this.lastProgress = this.group.clock;
    this.account();
    if (this.group.queuedBytes > MAX_SANDBOX_QUEUE) return this.group.overQueued();
    if (this.paused && this.pending < MAX_PENDING && this.accounted < WRITE_HIGH_WATER) this.parse();
  }

  /** Called when a reply has gone to the kernel ('drain' only follows a write that filled the buffer). */
  private readonly flushed = (): void => this.account();

  /** Brings this connection's share of the sandbox's queued bytes up to date. */
  private account(): void {
    const queued = this.socket.writableLength;
    if (queued !== this.accounted) {
      this.group.queuedBytes += queued - this.accounted;
      this.accounted = queued;
    }
  }

  close(reason: TcpCloseReason): void {
    if (this.socket.destroyed) return;
    this.group.closed(reason);
    this.socket.destroy();
  }

  /** The connection is gone: its queued bytes no longer count against the sandbox. */
  release(): void {
    this.group.queuedBytes -= this.accounted;
    this.accounted = 0;
    this.buffered = null;
  }

  private drained(): void {
    this.account();
    this.lastProgress = this.group.clock;
    if (this.paused) this.parse();
  }

  private receive(chunk: Buffer): void {
    this.buffered = this.buffered === null ? chunk : Buffer.concat([this.buffered, chunk]);
    this.parse();
  }

  /** Hands complete messages to the engine until there are none or the connection must wait. */
  private parse(): void {
    let data = this.buffered;
    this.buffered = null;
    let blocked = false;
    while (data !== null && data.length >= 2) {
      if (this.pending >= MAX_PENDING || this.socket.writableLength >= WRITE_HIGH_WATER) {
        blocked = true;
        break;
      }
      const length = data.readUInt16BE(0);
      if (length === 0 || length > MAX_QUERY_BYTES) return void this.socket.destroy();
      if (data.length < 2 + length) break;
      const msg = data.subarray(2, 2 + length);
      data = data.length === 2 + length ? null : data.subarray(2 + length);
      this.pending++;
      this.messageStarted = 0;
      this.lastProgress = this.group.clock;
      if (!this.engine.handle(msg, this, null)) return void this.socket.destroy();
      if (this.socket.destroyed) return;
    }
    // What is left is at most one chunk plus one incomplete message: reading stops while blocked.
    this.buffered = data !== null && data.length > 0 ? data : null;
    // A message held back by our own back-pressure is not the client's slowness (idle covers it).
    if (blocked) this.messageStarted = 0;
    else if (this.buffered !== null && this.messageStarted === 0) this.messageStarted = this.group.clock;
    if (blocked !== this.paused) {
      this.paused = blocked;
      if (blocked) this.socket.pause();
      else this.socket.resume();
    }
  }
}
