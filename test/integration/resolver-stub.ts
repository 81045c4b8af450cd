/**
 * A scriptable upstream DNS server on a loopback address of a private namespace (never the
 * machine's resolver, never the machine's loopback): UDP and TCP on one port, answers from a
 * table, with knobs for failure modes (silence, SERVFAIL, truncation over UDP, a spoofed reply
 * first). It listens in the test process's own namespace, which must be a private one
 * (test/helpers/private-netns), or in a namespace the test made (a lab's host namespace).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import * as packet from 'dns-packet';
import { openSocketInNetns } from '../../src/os/native';

export interface StubRecord {
  type: string;
  data: unknown;
  ttl?: number;
}

export interface StubBehaviour {
  /** name (lower case, no trailing dot) → records; a name not listed gets NXDOMAIN. */
  records: Record<string, StubRecord[]>;
  /** SOA added to negative answers (NXDOMAIN, NODATA) when set: its minimum is the negative TTL. */
  negativeTtl?: number;
  mode?: 'answer' | 'silent' | 'servfail';
  /** UDP answers carry TC and no records (TCP gets everything). */
  truncateUdp?: boolean;
  /** Before the real answer, send one with the same id and another question. */
  spoofFirst?: boolean;
  delayMs?: number;
}

export interface Stub {
  address: string;
  port: number;
  /** Upstream spec for the resolver: `host:port`. */
  spec: string;
  queries: { name: string; type: string; transport: 'udp' | 'tcp' }[];
  behaviour: StubBehaviour;
  /** Stops listening (again: nothing). */
  close(): Promise<void>;
}

export interface StubPlace {
  address?: string;
  /** 0 (default): a free port. */
  port?: number;
  /** Listen inside this namespace; default: the test process's own, which must be private. */
  netns?: string;
}

/**
 * Refuses to go on unless this process is the copy test/helpers/private-netns re-ran under
 * `unshare --net` (it marks that copy with its parent's pid), so nothing binds the machine's loopback.
 */
export function assertPrivateNamespace(): void {
  if (process.env.CNM_TEST_PRIVATE_NETNS !== String(process.ppid)) {
    throw new Error("refusing to bind in the machine's network namespace: import '../helpers/private-netns' first, or pass a namespace");
  }
}

export async function startStub(behaviour: StubBehaviour, { address = '127.0.0.1', port = 0, netns }: StubPlace = {}): Promise<Stub> {
  if (netns === undefined) assertPrivateNamespace();
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    if (netns === undefined) udp.bind(port, address, resolve);
    else udp.bind({ fd: openSocketInNetns(netns, 'udp', address, port) }, resolve);
  });
  const actualPort = udp.address().port;
  const tcp = net.createServer();
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    if (netns === undefined) tcp.listen(actualPort, address, resolve);
    else tcp.listen({ fd: openSocketInNetns(netns, 'tcp', address, actualPort) }, resolve);
  });
  let closed = false;
  const connections = new Set<net.Socket>();
  const stub: Stub = {
    address,
    port: actualPort,
    spec: `${address}:${actualPort}`,
    queries: [],
    behaviour,
    close: async () => {
      if (closed) return;
      closed = true;
      await new Promise<void>((r) => udp.close(() => r()));
      // A resolver keeps its upstream connections open while idle; a dead server drops them.
      for (const socket of connections) socket.destroy();
      await new Promise<void>((r) => tcp.close(() => r()));
    },
  };

  const respond = (msg: Buffer, transport: 'udp' | 'tcp', send: (b: Buffer) => void): void => {
    let query: packet.Packet;
    try {
      query = packet.decode(msg);
    } catch {
      return;
    }
    const question = query.questions![0]!;
    const opt = query.additionals?.find((r) => r.type === 'OPT');
    stub.queries.push({ name: question.name, type: question.type, transport });
    const b = stub.behaviour;
    if (b.mode === 'silent') return;
    const records = b.records[question.name.toLowerCase()];
    const answers = (records ?? []).filter((r) => r.type === question.type).map((r) => ({ name: question.name, type: r.type, ttl: r.ttl ?? 300, class: 'IN', data: r.data }));
    const truncated = transport === 'udp' && b.truncateUdp === true;
    // dns-packet takes the rcode in the low bits of flags.
    const rcode = b.mode === 'servfail' ? 2 : records === undefined ? 3 : 0;
    const soa =
      answers.length === 0 && b.negativeTtl !== undefined && rcode !== 2
        ? [{ name: 'test', type: 'SOA', ttl: 3600, class: 'IN', data: { mname: 'ns.test', rname: 'root.test', serial: 1, refresh: 60, retry: 60, expire: 60, minimum: b.negativeTtl } }]
        : [];
    const reply = (): Buffer =>
      packet.encode({
        type: 'response',
        id: query.id,
        flags:
          packet.AUTHORITATIVE_ANSWER | (query.flags! & packet.RECURSION_DESIRED) | packet.RECURSION_AVAILABLE | (truncated ? packet.TRUNCATED_RESPONSE : 0) | rcode,
        questions: [question],
        answers: truncated ? [] : answers,
        authorities: soa,
        // EDNS answered with EDNS (RFC 6891 §7), the DO bit mirrored.
        additionals: opt === undefined ? [] : [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: (opt as { flags?: number }).flags ?? 0 }],
      } as never);
    const go = (): void => {
      if (closed) return; // a delayed answer after close()
      if (b.spoofFirst) send(packet.encode({ type: 'response', id: query.id, questions: [{ ...question, name: 'spoofed.invalid' }], answers: [{ name: 'spoofed.invalid', type: 'A', data: '6.6.6.6' }] } as never));
      send(reply());
    };
    if (b.delayMs) setTimeout(go, b.delayMs);
    else go();
  };

  udp.on('message', (msg, rinfo) => respond(msg, 'udp', (b) => udp.send(b, rinfo.port, rinfo.address)));
  tcp.on('connection', (socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    let buf = Buffer.alloc(0);
    socket.on('error', () => socket.destroy());
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        respond(msg, 'tcp', (b) => {
          if (socket.destroyed) return;
          const len = Buffer.alloc(2);
          len.writeUInt16BE(b.length);
          socket.write(Buffer.concat([len, b]));
        });
      }
    });
  });
  return stub;
}

/** A loopback port on which nothing listens (queries to it get ICMP port unreachable). */
export async function closedPort(): Promise<string> {
  assertPrivateNamespace();
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return `127.0.0.1:${port}`;
}
