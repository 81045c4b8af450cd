/**
 * A sandbox's two sockets on 127.0.0.11:53, opened inside its network namespace by the native
 * addon and then served by this process's event loop. The socket a query arrives on is what
 * identifies the sandbox, hence its view.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { closeFd, openSocketsInNetns } from '../os/native';
import type { QueryEngine, ReplySink } from './engine';
import { TcpConnections, type TcpObserver } from './tcp';

/** Where every sandbox on a user-defined network finds its resolver, as in Docker. */
export const LISTEN_ADDRESS = '127.0.0.11';
const LISTEN_PORT = 53;
/**
 * The UDP socket's receive buffer. The default (rmem_default, ~208 KB) queues 256 small queries,
 * 50 ms at 5,000 queries/s: more than that would be lost while the daemon is descheduled on a
 * loaded host or busy with a large update. The kernel doubles the value for its bookkeeping:
 * room for ~2,500 queries. Memory is only used while queries wait.
 */
const UDP_RECEIVE_BUFFER_BYTES = 1 << 20;
/** Concurrent TCP connections per sandbox; a DNS client rarely keeps more than one or two. */
const MAX_TCP_CONNECTIONS = 64;

export interface ListenerOptions {
  tcpIdleTimeoutMs: number;
  /** A TCP message must arrive whole within this of its first byte. */
  tcpMessageTimeoutMs: number;
  tcpObserver: TcpObserver;
  onError: (sandboxId: string, err: Error) => void;
}

/**
 * Replies only ever go to the sender's address, an IP literal: skip dgram's default dns.lookup,
 * which validates the literal and defers every send by a tick (about a tenth of Node's per-datagram cost).
 */
function literalLookup(address: string, _options: unknown, callback: (err: Error | null, address: string, family: number) => void): void {
  callback(null, address, 4);
}

class UdpSink implements ReplySink {
  readonly tcp = false;
  /** Set when the sandbox goes: an upstream answer may still arrive for it, and send() would throw. */
  closed = false;

  constructor(
    readonly sandboxId: string,
    private readonly socket: dgram.Socket,
  ) {}

  reply(response: Buffer, peer: unknown): void {
    if (this.closed) return;
    const to = peer as dgram.RemoteInfo;
    this.socket.send(response, to.port, to.address);
  }
}

export class SandboxListeners {
  private constructor(
    readonly nsPath: string,
    private readonly sink: UdpSink,
    private readonly udp: dgram.Socket,
    private readonly tcp: net.Server,
    readonly connections: TcpConnections,
  ) {}

  static async open(sandboxId: string, nsPath: string, engine: QueryEngine, options: ListenerOptions): Promise<SandboxListeners> {
    const [udpFd, tcpFd] = openSocketsInNetns(nsPath, [
      { kind: 'udp', address: LISTEN_ADDRESS, port: LISTEN_PORT, options: { receiveBufferBytes: UDP_RECEIVE_BUFFER_BYTES } },
      { kind: 'tcp', address: LISTEN_ADDRESS, port: LISTEN_PORT },
    ]) as [number, number];

    const udp = dgram.createSocket({ type: 'udp4', lookup: literalLookup });
    const sink = new UdpSink(sandboxId, udp);
    udp.on('message', (msg, rinfo) => engine.handle(msg, sink, rinfo));
    const connections = new TcpConnections(
      sandboxId,
      engine,
      { maxConnections: MAX_TCP_CONNECTIONS, idleTimeoutMs: options.tcpIdleTimeoutMs, messageTimeoutMs: options.tcpMessageTimeoutMs },
      options.tcpObserver,
    );
    // No server.maxConnections: when the slots are full, TcpConnections frees one from the slowest.
    const tcp = net.createServer((socket) => connections.accept(socket));
    // An fd handed to Node belongs to Node from then on: only the others are closed by hand.
    let stage = 'none' as 'none' | 'udp' | 'tcp';
    try {
      await adopt(udp, (done) => udp.bind({ fd: udpFd }, done));
      stage = 'udp';
      await adopt(tcp, (done) => {
        stage = 'tcp';
        tcp.listen({ fd: tcpFd }, done);
      });
    } catch (err) {
      if (stage === 'none') closeFd(udpFd);
      else udp.close();
      if (stage === 'tcp') tcp.close();
      else closeFd(tcpFd);
      throw err;
    }
    // Later errors (a send to a client that vanished) must not take the sockets down.
    udp.on('error', (err) => options.onError(sandboxId, err));
    tcp.on('error', (err) => options.onError(sandboxId, err));
    return new SandboxListeners(nsPath, sink, udp, tcp, connections);
  }

  /** Closes both sockets (which also lets the kernel free the namespace if nothing else holds it). */
  async close(): Promise<void> {
    this.sink.closed = true;
    await new Promise<void>((resolve) => this.udp.close(() => resolve()));
    this.connections.closeAll();
    await new Promise<void>((resolve) => this.tcp.close(() => resolve()));
  }
}

/** Runs start (bind/listen on an fd) and waits for its callback or its first error. */
function adopt(emitter: dgram.Socket | net.Server, start: (done: () => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    emitter.once('error', reject);
    start(() => {
      emitter.off('error', reject);
      resolve();
    });
  });
}
