/**
 * Talking to one upstream server from the daemon's own namespace (so loopback servers such as
 * 127.0.0.53 work). UDP goes through a few long-lived connected sockets rather than one socket per
 * query: each has a kernel-chosen random source port, ids are random and unique per socket, and a
 * reply is accepted only from the upstream (the socket is connected), with a pending id and the
 * same question; sockets are replaced after a while so the port does not stay guessable. A
 * connected socket also learns ICMP port-unreachable, so a dead upstream fails at once. TCP (for
 * truncated answers) uses one pipelined connection, closed when idle.
 */
import { randomFillSync } from 'node:crypto';
import dgram from 'node:dgram';
import { isIP } from 'node:net';
import net from 'node:net';
import { HEADER_BYTES } from './wire';

export interface UpstreamAddress {
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
  /** `host:port` or `[host]:port`, as shown in logs and metrics. */
  readonly text: string;
}

/** `IP`, `IP:port`, `IPv6` or `[IPv6]:port` (a zone such as `%eth0` is kept), else null. */
export function parseUpstream(text: string): UpstreamAddress | null {
  let host = text;
  let port = 53;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed !== null) {
    host = bracketed[1]!;
    if (bracketed[2] !== undefined) port = Number(bracketed[2]);
  } else if (text.split(':').length === 2) {
    const [h, p] = text.split(':') as [string, string];
    host = h;
    port = /^\d+$/.test(p) ? Number(p) : NaN;
  }
  const family = isIP(host.split('%')[0]!);
  if (family === 0 || !Number.isInteger(port) || port < 1 || port > 65535) return null;
  return { host, port, family: family as 4 | 6, text: family === 6 ? `[${host}]:${port}` : `${host}:${port}` };
}

export type ExchangeDone = (err: Error | null, answer: Buffer | null) => void;

/** Ids come from the kernel's CSPRNG, drawn in bulk. */
const idPool = new Uint16Array(2048);
let idNext = idPool.length;
function randomId(): number {
  if (idNext === idPool.length) {
    randomFillSync(idPool);
    idNext = 0;
  }
  return idPool[idNext++]!;
}

/** A query waiting for its answer; cancel() forgets it (a late answer is then ignored). */
export class Pending {
  constructor(
    readonly id: number,
    readonly query: Buffer,
    readonly done: ExchangeDone,
    private readonly owner: { forget(p: Pending): void },
  ) {}

  cancel(): void {
    this.owner.forget(this);
  }
}

/** Same question section: the name compared without ASCII case (RFC 4343), type and class exactly. */
function sameQuestion(query: Buffer, answer: Buffer): boolean {
  if (answer.length < HEADER_BYTES || answer.readUInt16BE(4) !== 1) return false;
  let pos = HEADER_BYTES;
  while (query[pos] !== 0) pos += query[pos]! + 1;
  const end = pos + 5;
  if (answer.length < end) return false;
  for (let i = HEADER_BYTES; i <= pos; i++) {
    const a = query[i]!;
    const b = answer[i]!;
    if (a !== b && !(a >= 0x41 && a <= 0x5a ? a + 32 === b : a >= 0x61 && a <= 0x7a && a - 32 === b)) return false;
  }
  return query.compare(answer, pos + 1, end, pos + 1, end) === 0;
}

function uniqueId(pending: Map<number, Pending>): number {
  let id = randomId();
  while (pending.has(id)) id = randomId();
  return id;
}

/** Queries per UDP socket before it is replaced by one on a fresh random port. */
const UDP_SOCKET_USES = 2000;
const UDP_SOCKETS = 4;

class UdpChannel {
  readonly pending = new Map<number, Pending>();
  uses = 0;
  broken: Error | null = null;
  private readonly socket: dgram.Socket;
  private connected = false;
  private queued: Buffer[] = [];
  private retiring = false;

  constructor(address: UpstreamAddress) {
    this.socket = dgram.createSocket(address.family === 6 ? 'udp6' : 'udp4');
    this.socket.unref();
    this.socket.on('message', (msg: Buffer) => this.receive(msg));
    // ICMP unreachable (ECONNREFUSED) or a failed send: everything waiting here went to a dead end.
    this.socket.on('error', (err: Error) => {
      if (!this.connected) this.broken = err;
      this.failAll(err);
    });
    // A connect that fails at once (no route: ENETUNREACH) comes to this callback, not to 'error';
    // sending on the unconnected socket would throw and take the daemon down.
    this.socket.connect(address.port, address.host, (err?: Error) => {
      const queued = this.queued;
      this.queued = [];
      if (err !== undefined) {
        this.broken = err;
        this.failAll(err);
        return;
      }
      this.connected = true;
      for (const q of queued) this.socket.send(q);
    });
  }

  exchange(query: Buffer, done: ExchangeDone): Pending {
    const pending = new Pending(uniqueId(this.pending), query, done, this);
    query.writeUInt16BE(pending.id, 0);
    this.pending.set(pending.id, pending);
    this.uses++;
    if (this.connected) this.socket.send(query);
    else this.queued.push(query);
    return pending;
  }

  forget(p: Pending): void {
    if (this.pending.get(p.id) === p) this.pending.delete(p.id);
    this.closeIfDrained();
  }

  /** No new queries; closes once the ones in flight are answered or given up. */
  retire(): void {
    this.retiring = true;
    this.closeIfDrained();
  }

  private closeIfDrained(): void {
    if (this.retiring && this.pending.size === 0) {
      this.retiring = false;
      this.socket.close();
    }
  }

  private receive(msg: Buffer): void {
    if (msg.length < HEADER_BYTES) return;
    const pending = this.pending.get(msg.readUInt16BE(0));
    if (pending === undefined || !sameQuestion(pending.query, msg)) return;
    this.pending.delete(pending.id);
    pending.done(null, msg);
    this.closeIfDrained();
  }

  private failAll(err: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.done(err, null);
    this.closeIfDrained();
  }
}

/** Idle upstream TCP connections are closed after this long. */
const TCP_IDLE_MS = 10_000;

class TcpChannel {
  readonly pending = new Map<number, Pending>();
  private socket: net.Socket | null = null;
  private partial: Buffer | null = null;

  constructor(private readonly address: UpstreamAddress) {}

  exchange(query: Buffer, done: ExchangeDone): Pending {
    const socket = this.socket ?? this.connect();
    const pending = new Pending(uniqueId(this.pending), query, done, this);
    query.writeUInt16BE(pending.id, 0);
    this.pending.set(pending.id, pending);
    const frame = Buffer.allocUnsafe(2 + query.length);
    frame.writeUInt16BE(query.length, 0);
    query.copy(frame, 2);
    socket.write(frame);
    return pending;
  }

  forget(p: Pending): void {
    if (this.pending.get(p.id) === p) this.pending.delete(p.id);
  }

  close(): void {
    this.socket?.destroy();
  }

  private connect(): net.Socket {
    const socket = net.connect({ host: this.address.host, port: this.address.port });
    this.socket = socket;
    this.partial = null;
    socket.unref();
    socket.setNoDelay(true);
    socket.setTimeout(TCP_IDLE_MS, () => {
      if (this.pending.size === 0) socket.end();
    });
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      if (this.socket === socket) this.socket = null;
      const all = [...this.pending.values()];
      this.pending.clear();
      for (const p of all) p.done(new Error(`connection to ${this.address.text} closed`), null);
    });
    return socket;
  }

  private receive(chunk: Buffer): void {
    let data = this.partial === null ? chunk : Buffer.concat([this.partial, chunk]);
    this.partial = null;
    while (data.length >= 2 && data.length >= 2 + data.readUInt16BE(0)) {
      const msg = data.subarray(2, 2 + data.readUInt16BE(0));
      data = data.subarray(2 + msg.length);
      const pending = msg.length >= HEADER_BYTES ? this.pending.get(msg.readUInt16BE(0)) : undefined;
      if (pending === undefined || !sameQuestion(pending.query, msg)) continue;
      this.pending.delete(pending.id);
      pending.done(null, Buffer.from(msg));
    }
    if (data.length > 0) this.partial = Buffer.from(data);
  }
}

export class Upstream {
  /** performance.now() of its last failure (timeout, unreachable, SERVFAIL); -Infinity if none. */
  failedAt = -Infinity;
  /** Its failure was reported (to the log): the next answer it gives is reported as a recovery. */
  reportedDown = false;
  private readonly udp: UdpChannel[] = [];
  private turn = 0;
  private readonly tcp: TcpChannel;

  constructor(readonly address: UpstreamAddress) {
    this.tcp = new TcpChannel(address);
  }

  /** Sends query (its id is overwritten) and calls done once with the answer or an error. */
  exchange(query: Buffer, tcp: boolean, done: ExchangeDone): Pending {
    if (tcp) return this.tcp.exchange(query, done);
    const slot = this.turn++ % UDP_SOCKETS;
    let channel = this.udp[slot];
    if (channel === undefined || channel.uses >= UDP_SOCKET_USES || channel.broken !== null) {
      channel?.retire();
      channel = new UdpChannel(this.address);
      this.udp[slot] = channel;
    }
    return channel.exchange(query, done);
  }

  close(): void {
    for (const channel of this.udp) channel.retire();
    this.tcp.close();
  }
}
