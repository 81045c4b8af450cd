/**
 * A sandbox's two sockets on 127.0.0.11:53, opened inside its network namespace by the native
 * addon. The UDP socket goes to the native responder's thread when it runs (native-responder.ts),
 * else to this process's event loop; TCP is always served here. The socket a query arrives on is
 * what identifies the sandbox, hence its view.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { closeFd, openSocketsInNetns } from '../os/native';
import type { QueryEngine, ReplySink } from './engine';
import type { NativeResponder, NativeUdpSink } from './native-responder';
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
  /** Serves the UDP sockets when set; null: Node's dgram does. */
  native: NativeResponder | null;
}

/**
 * Replies only ever go to the sender's address, an IP literal: skip dgram's default dns.lookup,
 * which validates the literal and defers every send by a tick (about a tenth of Node's per-datagram cost).
 */
export function literalLookup(address: string, _options: unknown, callback: (err: Error | null, address: string, family: number) => void): void {
  callback(null, address, address.includes(':') ? 6 : 4);
}

/** Replies of one sandbox (one view) on a dgram socket. */
export class UdpSink implements ReplySink {
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

/** Where a sandbox's UDP queries are served: Node's dgram, or the native responder's thread. */
type UdpListener = { kind: 'dgram'; sink: UdpSink; socket: dgram.Socket } | { kind: 'native'; sink: NativeUdpSink; responder: NativeResponder };

export class SandboxListeners {
  private constructor(
    readonly nsPath: string,
    private readonly udp: UdpListener,
    private readonly tcp: net.Server,
    readonly connections: TcpConnections,
  ) {}

  static async open(sandboxId: string, nsPath: string, engine: QueryEngine, options: ListenerOptions): Promise<SandboxListeners> {
    const [udpFd, tcpFd] = openSocketsInNetns(nsPath, [
      { kind: 'udp', address: LISTEN_ADDRESS, port: LISTEN_PORT, options: { receiveBufferBytes: UDP_RECEIVE_BUFFER_BYTES } },
      { kind: 'tcp', address: LISTEN_ADDRESS, port: LISTEN_PORT },
    ]) as [number, number];

    const connections = new TcpConnections(
      sandboxId,
      engine,
      { maxConnections: MAX_TCP_CONNECTIONS, idleTimeoutMs: options.tcpIdleTimeoutMs, messageTimeoutMs: options.tcpMessageTimeoutMs },
      options.tcpObserver,
    );
    // No server.maxConnections: when the slots are full, TcpConnections frees one from the slowest.
    const tcp = net.createServer((socket) => connections.accept(socket));
    // An fd handed to Node or to the responder belongs to it from then on: only the others are
    // closed by hand.
    let udp: UdpListener | null = null;
    let tcpAdopted = false;
    try {
      udp = await openUdp(sandboxId, udpFd, engine, options.native);
      await adopt(tcp, (done) => {
        tcpAdopted = true;
        tcp.listen({ fd: tcpFd }, done);
      });
    } catch (err) {
      if (udp === null) closeFd(udpFd);
      else void closeUdp(udp);
      if (tcpAdopted) tcp.close();
      else closeFd(tcpFd);
      throw err;
    }
    // Later errors (a send to a client that vanished) must not take the sockets down.
    if (udp.kind === 'dgram') udp.socket.on('error', (err) => options.onError(sandboxId, err));
    tcp.on('error', (err) => options.onError(sandboxId, err));
    return new SandboxListeners(nsPath, udp, tcp, connections);
  }

  /** Closes both sockets (which also lets the kernel free the namespace if nothing else holds it). */
  async close(): Promise<void> {
    await closeUdp(this.udp);
    this.connections.closeAll();
    await new Promise<void>((resolve) => this.tcp.close(() => resolve()));
  }
}

async function openUdp(sandboxId: string, fd: number, engine: QueryEngine, native: NativeResponder | null): Promise<UdpListener> {
  if (native !== null) return { kind: 'native', sink: native.watch(sandboxId, fd), responder: native };
  const socket = dgram.createSocket({ type: 'udp4', lookup: literalLookup });
  const sink = new UdpSink(sandboxId, socket);
  socket.on('message', (msg, rinfo) => engine.handle(msg, sink, rinfo));
  // As before the native responder: a failed bind leaves the fd to the caller.
  await adopt(socket, (done) => socket.bind({ fd }, done));
  return { kind: 'dgram', sink, socket };
}

function closeUdp(udp: UdpListener): Promise<void> {
  if (udp.kind === 'native') {
    udp.responder.unwatch(udp.sink);
    return Promise.resolve();
  }
  udp.sink.closed = true;
  return new Promise<void>((resolve) => udp.socket.close(() => resolve()));
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
