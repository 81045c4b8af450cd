/**
 * A scriptable upstream DNS server on a loopback address of the test's own namespace (never the
 * machine's resolver): UDP and TCP on one port, answers from a table, with knobs for failure
 * modes (silence, SERVFAIL, truncation over UDP, a spoofed reply first).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import * as packet from 'dns-packet';

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
  close(): Promise<void>;
}

export async function startStub(behaviour: StubBehaviour, address = '127.0.0.1', port = 0): Promise<Stub> {
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(port, address, resolve);
  });
  const actualPort = udp.address().port;
  const tcp = net.createServer();
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(actualPort, address, resolve);
  });
  const stub: Stub = {
    address,
    port: actualPort,
    spec: `${address}:${actualPort}`,
    queries: [],
    behaviour,
    close: async () => {
      await new Promise<void>((r) => udp.close(() => r()));
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
      } as never);
    const go = (): void => {
      if (b.spoofFirst) send(packet.encode({ type: 'response', id: query.id, questions: [{ ...question, name: 'spoofed.invalid' }], answers: [{ name: 'spoofed.invalid', type: 'A', data: '6.6.6.6' }] } as never));
      send(reply());
    };
    if (b.delayMs) setTimeout(go, b.delayMs);
    else go();
  };

  udp.on('message', (msg, rinfo) => respond(msg, 'udp', (b) => udp.send(b, rinfo.port, rinfo.address)));
  tcp.on('connection', (socket) => {
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
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return `127.0.0.1:${port}`;
}
