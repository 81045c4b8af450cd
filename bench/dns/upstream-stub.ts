/**
 * The upstream for forwarded names in the benchmarks and the long fuzzer: answers every A query
 * with 192.0.2.1 (TTL 300) and everything else with NODATA, over UDP and TCP, fast enough not to
 * be what is measured. Never the machine's resolver. Standalone:
 *   node dist/bench/dns/upstream-stub.js ADDRESS PORT
 */
import dgram from 'node:dgram';
import net from 'node:net';

const A_RECORD = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x01, 0x2c, 0, 4, 192, 0, 2, 1]);

/** The response to a query, or null for anything that is not a plain one-question query. */
export function stubAnswer(msg: Buffer): Buffer | null {
  if (msg.length < 17 || (msg[2]! & 0x80) !== 0 || msg.readUInt16BE(4) !== 1) return null;
  let pos = 12;
  while (pos < msg.length && msg[pos] !== 0) pos += msg[pos]! + 1;
  const end = pos + 5;
  if (end > msg.length) return null;
  const isA = msg.readUInt16BE(pos + 1) === 1;
  const out = Buffer.allocUnsafe(end + (isA ? A_RECORD.length : 0));
  msg.copy(out, 0, 0, end);
  out[2] = 0x80 | (msg[2]! & 0x01);
  out[3] = 0x80;
  out.writeUInt16BE(isA ? 1 : 0, 6);
  out.writeUInt32BE(0, 8);
  if (isA) A_RECORD.copy(out, end);
  return out;
}

export interface UpstreamStub {
  port: number;
  close(): Promise<void>;
}

export async function startUpstreamStub(address: string, port: number): Promise<UpstreamStub> {
  const udp = dgram.createSocket(net.isIPv6(address) ? 'udp6' : 'udp4');
  udp.on('message', (msg, rinfo) => {
    const answer = stubAnswer(msg);
    if (answer !== null) udp.send(answer, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(port, address, resolve);
  });
  const bound = udp.address().port;
  const tcp = net.createServer((socket) => {
    let buffered = Buffer.alloc(0);
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        const answer = stubAnswer(buffered.subarray(2, 2 + buffered.readUInt16BE(0)));
        buffered = buffered.subarray(2 + buffered.readUInt16BE(0));
        if (answer === null) continue;
        const frame = Buffer.allocUnsafe(2 + answer.length);
        frame.writeUInt16BE(answer.length, 0);
        answer.copy(frame, 2);
        socket.write(frame);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(bound, address, resolve);
  });
  return {
    port: bound,
    close: async () => {
      await new Promise<void>((r) => udp.close(() => r()));
      await new Promise<void>((r) => tcp.close(() => r()));
    },
  };
}

if (require.main === module) {
  const [address = '127.0.0.1', port = '53'] = process.argv.slice(2);
  startUpstreamStub(address, Number(port)).then(
    (stub) => console.log(JSON.stringify({ ready: true, port: stub.port })),
    (err: unknown) => {
      console.error(String(err));
      process.exit(1);
    },
  );
}
