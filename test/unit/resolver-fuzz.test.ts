/**
 * 200,000 hostile messages straight into the query engine: it must never throw, reply at most
 * once, and every reply must be a well-formed response to that message within the asker's size.
 */
import t from 'tap';
import * as packet from 'dns-packet';
import { Fuzzer } from '../../bench/dns/fuzz-packets';
import { QueryEngine, type ForwardPath, type ReplySink } from '../../src/resolver/engine';
import { Metrics } from '../../src/resolver/metrics';
import { buildSnapshot, emptySnapshot } from '../../src/resolver/records';
import { RCODE, emptyResponse } from '../../src/resolver/wire';
import { addresses, query, sampleState } from './resolver-fixtures';

const MESSAGES = 200_000;

t.test('the engine survives hostile messages and still answers', async (t) => {
  const seed = Number(process.env.CNM_FUZZ_SEED ?? Date.now() % 1e9);
  t.comment(`seed ${seed} (replay with CNM_FUZZ_SEED=${seed})`);
  const fuzzer = new Fuzzer(seed);
  const state = sampleState();
  state.networks[0] = {
    ...state.networks[0]!,
    endpoints: [...state.networks[0]!.endpoints, ...Array.from({ length: 40 }, (_, i) => ({ sandboxId: `m${i}`, names: [`m${i}`, 'many'], ipv4: `10.50.1.${i}` }))],
  };
  let forwarded = 0;
  const forwarding: ForwardPath = {
    forward(msg, q, sink, peer) {
      forwarded++;
      sink.reply(emptyResponse(msg, q, RCODE.SERVFAIL), peer);
    },
  };
  const engine = new QueryEngine(forwarding, new Metrics());
  engine.snapshot = buildSnapshot(emptySnapshot(), state, 600).snapshot;

  let replies: Buffer[] = [];
  const sinks: ReplySink[] = [false, true].map((tcp) => ({ sandboxId: 's1', tcp, reply: (b: Buffer) => void replies.push(b) }));
  let answered = 0;
  let failures = 0;
  for (let i = 0; i < MESSAGES; i++) {
    const msg = fuzzer.next();
    const sink = sinks[i & 1]!;
    replies = [];
    try {
      engine.handle(msg, sink, null);
    } catch (err) {
      if (failures++ < 5) t.fail(`threw on ${msg.toString('hex')}: ${String(err)}`);
      continue;
    }
    if (replies.length === 0) continue;
    answered++;
    const problem = checkReply(msg, replies, sink.tcp);
    if (problem !== null && failures++ < 5) t.fail(`${problem}: query ${msg.toString('hex')} reply ${replies[0]!.toString('hex')}`);
  }
  t.equal(failures, 0, `${MESSAGES} messages, ${answered} replies, ${forwarded} forwarded`);
  t.ok(answered > MESSAGES / 3, 'most hostile messages still get an answer (FORMERR and friends)');

  replies = [];
  engine.handle(query('d1'), sinks[0]!, null);
  t.same(addresses(replies[0]!), ['10.50.0.2'], 'a valid query is answered afterwards');
});

/** Null when the reply is acceptable. */
function checkReply(msg: Buffer, replies: Buffer[], tcp: boolean): string | null {
  if (replies.length > 1) return 'more than one reply';
  const reply = replies[0]!;
  if (reply.length < 12 || msg.length < 12) return 'reply shorter than a header, or reply to a headerless message';
  if (reply.readUInt16BE(0) !== msg.readUInt16BE(0)) return 'id not echoed';
  if ((reply[2]! & 0x80) === 0) return 'QR not set';
  if ((msg[2]! & 0x80) !== 0) return 'replied to a response';
  try {
    packet.decode(reply);
  } catch (err) {
    return `reply does not decode (${String(err)})`;
  }
  if (reply.length > (tcp ? 65535 : 512) && !fitsEdns(msg, reply.length)) return `reply of ${reply.length} bytes exceeds the asker's limit`;
  return null;
}

/** Whether msg carries anything that looks like an OPT record offering at least length bytes. */
function fitsEdns(msg: Buffer, length: number): boolean {
  for (let i = 12; i + 5 <= msg.length; i++) {
    if (msg[i] === 0 && msg[i + 1] === 0 && msg[i + 2] === 41 && msg.readUInt16BE(i + 3) >= length) return true;
  }
  return false;
}
