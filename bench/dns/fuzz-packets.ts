/**
 * Hostile DNS messages for the resolver's fuzz test (resolver-fuzz.test.ts in test/unit and test/integration) and the
 * long-running fuzzer (bench/dns/fuzz.ts): random bytes, and valid queries mutated in the ways
 * that break parsers (bit flips, truncation, lying counts, bad label lengths, compression
 * pointers forward, backward and into loops, oversized messages). Seeded, so a failure replays.
 */
import path from 'node:path';
import * as packet from 'dns-packet';
import { mulberry32 } from '../../test/helpers/prng';

const NAMES = ['d1', 'D2.dnet', 'web', 'many', 'example.test', '2.0.50.10.in-addr.arpa', 'a.b.c.d.e.f.g', 'x'.repeat(63) + '.y'];
// 'ANY' is missing from dns-packet's typings but encodes fine.
const TYPES = ['A', 'AAAA', 'PTR', 'MX', 'TXT', 'ANY', 'SRV', 'CNAME', 'NS', 'SOA'] as packet.RecordType[];

function seedQueries(): Buffer[] {
  const out: Buffer[] = [];
  for (const name of NAMES) {
    for (const type of TYPES) {
      out.push(packet.encode({ type: 'query', id: 1, flags: packet.RECURSION_DESIRED, questions: [{ type, name }] }));
      out.push(
        packet.encode({
          type: 'query',
          id: 2,
          questions: [{ type, name }],
          additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, flags: packet.DNSSEC_OK, options: [{ code: 10, data: Buffer.alloc(8, 7) }] } as never],
        }),
      );
    }
  }
  return out;
}

export class Fuzzer {
  private readonly random: () => number;
  private readonly seeds = seedQueries();

  constructor(readonly seed: number) {
    this.random = mulberry32(seed);
  }

  private int(n: number): number {
    return Math.floor(this.random() * n);
  }

  /** One hostile message: a third pure noise, the rest mutated valid queries. */
  next(): Buffer {
    if (this.int(3) === 0) return this.noise();
    const msg = Buffer.from(this.seeds[this.int(this.seeds.length)]!);
    let mutated: Buffer = msg;
    for (let rounds = 1 + this.int(4); rounds > 0; rounds--) mutated = this.mutate(mutated);
    return mutated;
  }

  private noise(): Buffer {
    const out = Buffer.allocUnsafe(this.int(5) === 0 ? this.int(5000) : this.int(300));
    for (let i = 0; i < out.length; i++) out[i] = this.int(256);
    if (out.length >= 4 && this.int(2) === 0) out[2] &= 0x7f; // often a "query", so it is parsed further
    return out;
  }

  private mutate(msg: Buffer): Buffer {
    const at = (): number => this.int(Math.max(1, msg.length));
    switch (this.int(10)) {
      case 0: // bit flips
        for (let i = this.int(8) + 1; i > 0 && msg.length > 0; i--) msg[at()]! ^= 1 << this.int(8);
        return msg;
      case 1: // truncation
        return msg.subarray(0, at());
      case 2: // trailing garbage
        return Buffer.concat([msg, Buffer.from(Array.from({ length: this.int(64) }, () => this.int(256)))]);
      case 3: // lying counts
        if (msg.length >= 12) msg.writeUInt16BE([0, 1, 2, 0xffff, this.int(65536)][this.int(5)]!, 4 + 2 * this.int(4));
        return msg;
      case 4: // bad label length
        if (msg.length > 12) msg[12 + this.int(msg.length - 12)] = [63, 64, 0x80, 0xbf, 255][this.int(5)]!;
        return msg;
      case 5: // compression pointer: backward, forward, to itself, past the end
        if (msg.length > 14) {
          const pos = 12 + this.int(msg.length - 13);
          const target = [pos, pos + 2, 0, 12, this.int(0x3fff)][this.int(5)]!;
          msg.writeUInt16BE(0xc000 | (target & 0x3fff), pos);
        }
        return msg;
      case 6: // opcode, QR, rcode, flags
        if (msg.length >= 4) msg.writeUInt16BE(this.int(65536), 2);
        return msg;
      case 7: // oversized: a valid query padded far beyond any real one
        return Buffer.concat([msg, Buffer.alloc(4000 + this.int(4000))]);
      case 8: // an extra OPT, or one with a bad version or length
        return this.extraOpt(msg);
      default: // splice two queries
        return Buffer.concat([msg.subarray(0, at()), this.seeds[this.int(this.seeds.length)]!.subarray(this.int(20))]);
    }
  }

  private extraOpt(msg: Buffer): Buffer {
    const opt = Buffer.from([0, 0, 41, 0x10, 0, 0, this.int(3), 0x80, 0, 0, this.int(2) === 0 ? 0 : 200]);
    const out = Buffer.concat([msg, opt]);
    if (out.length >= 12) out.writeUInt16BE((out.readUInt16BE(10) + 1) & 0xffff, 10);
    return out;
  }

  /** A TCP byte stream: length-prefixed messages, sometimes with lying lengths, cut at random. */
  stream(messages: number): Buffer {
    const parts: Buffer[] = [];
    for (let i = 0; i < messages; i++) {
      const msg = this.next();
      const length = Buffer.alloc(2);
      length.writeUInt16BE(this.int(8) === 0 ? this.int(65536) : Math.min(msg.length, 65535));
      parts.push(length, msg.subarray(0, 65535));
    }
    const all = Buffer.concat(parts);
    return all.subarray(0, this.int(4) === 0 ? this.int(all.length + 1) : all.length);
  }
}

/**
 * A hostile client for `node -e` inside a sandbox: udpMessages fuzzed datagrams to 127.0.0.11:53,
 * then tcpConnections connections each sending a fuzzed stream in small pieces. Prints
 * `{ sent, udpReplies, tcpReplyBytes }` as JSON.
 */
export function fuzzClientScript(seed: number, udpMessages: number, tcpConnections: number): string {
  const fuzzer = path.join(__dirname, 'fuzz-packets.js');
  return `
    const dgram = require('dgram'); const net = require('net');
    const { Fuzzer } = require(${JSON.stringify(fuzzer)});
    const fuzz = new Fuzzer(${seed});
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    (async () => {
      const udp = dgram.createSocket('udp4');
      let udpReplies = 0, tcpReplyBytes = 0, sent = 0;
      udp.on('message', () => udpReplies++);
      udp.on('error', () => {});
      // Paced so that the kernel's socket buffer, not the resolver, is rarely the one dropping.
      for (let i = 0; i < ${udpMessages}; i += 100) {
        for (let j = 0; j < 100; j++) { udp.send(fuzz.next(), 53, '127.0.0.11'); sent++; }
        await sleep(3);
      }
      for (let c = 0; c < ${tcpConnections}; c++) {
        await new Promise((resolve) => {
          const s = net.connect(53, '127.0.0.11');
          s.on('data', (d) => { tcpReplyBytes += d.length; });
          s.on('error', () => {});
          s.on('close', resolve);
          const stream = fuzz.stream(1 + (c % 20));
          let at = 0;
          s.on('connect', async () => {
            while (at < stream.length && !s.destroyed) { const n = 1 + ((at * 7919) % 300); s.write(stream.subarray(at, at + n)); at += n; }
            setTimeout(() => s.destroy(), 100);
          });
        });
      }
      await sleep(500);
      udp.close();
      console.log(JSON.stringify({ sent, udpReplies, tcpReplyBytes }));
    })();`;
}

