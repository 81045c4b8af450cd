/**
 * The native responder's answers (src/native/dns_answer.c, through dnsResponderAnswer: the same
 * function its thread calls, without sockets) against the TypeScript path (QueryEngine), byte
 * for byte, over a large mixed query set and the fuzzer's hostile messages. Where the native
 * side answers, its bytes must be the engine's; where it declines, the engine answers.
 */
import t from 'tap';
import * as packet from 'dns-packet';
import { Fuzzer } from '../../bench/dns/fuzz-packets';
import { QueryEngine, type ForwardPath, type ReplySink } from '../../src/resolver/engine';
import { Metrics } from '../../src/resolver/metrics';
import { NativeResponder } from '../../src/resolver/native-responder';
import { compileNativeTable } from '../../src/resolver/native-table';
import { bindSocket } from '../../src/os/native';
import { buildSnapshot, type Snapshot } from '../../src/resolver/records';
import { RCODE, emptyResponse } from '../../src/resolver/wire';
import { query, sampleState, type TestState } from './resolver-fixtures';

interface Harness {
  engine: QueryEngine;
  native: NativeResponder;
  slots: Map<string, number>;
  install(state: TestState): Snapshot;
  /** [TypeScript reply, native reply or null]. */
  both(sandbox: string, msg: Buffer): [Buffer | null, Buffer | null];
}

function harness(t: { teardown(fn: () => void): void }): Harness {
  const forwarding: ForwardPath = {
    forward(msg, q, sink, peer) {
      sink.reply(emptyResponse(msg, q, RCODE.SERVFAIL), peer);
    },
  };
  const engine = new QueryEngine(forwarding, new Metrics());
  const native = NativeResponder.start(engine);
  t.teardown(() => native.close());
  const slots = new Map<string, number>();
  let replies: Buffer[] = [];
  const sinks = new Map<string, ReplySink>();
  return {
    engine,
    native,
    slots,
    install(state) {
      const snapshot = buildSnapshot(engine.snapshot, state, 600).snapshot;
      for (const s of [...state.sandboxes.map((x) => x.id), 'gone']) if (!slots.has(s)) slots.set(s, native.reserveSlot(s));
      engine.snapshot = snapshot;
      native.install(snapshot);
      return snapshot;
    },
    both(sandbox, msg) {
      let sink = sinks.get(sandbox);
      if (sink === undefined) {
        sink = { sandboxId: sandbox, tcp: false, reply: (b: Buffer) => void replies.push(b) };
        sinks.set(sandbox, sink);
      }
      replies = [];
      // The engine may keep msg (forwarding): give it its own copy.
      engine.handle(Buffer.from(msg), sink, null);
      return [replies[0] ?? null, native.answer(slots.get(sandbox)!, msg)];
    },
  };
}

const NAMES = [
  'd1', 'D1', 'd1.dnet', 'D1.DnEt', 'aaaaaaaaaaaa', 'aaaaaaaaaaaa.dnet', 'web', 'web.dnet', 'd2', 'd2.dnet', 'd2.other', 'bbbbbbbbbbbb',
  'o3', 'O3.OTHER', 'cccccccccccc', 'i4', 'i4.sealed', 'unknown', 'x.unknown.example', 'dnet', 'other',
  '2.0.50.10.in-addr.arpa', '3.0.50.10.IN-ADDR.ARPA', '3.0.60.10.in-addr.arpa', '4.0.60.10.in-addr.arpa', '2.0.70.10.in-addr.arpa', '9.9.9.10.in-addr.arpa',
  '3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa',
  'x'.repeat(63) + '.' + 'y'.repeat(63) + '.' + 'z'.repeat(63) + '.' + 'w'.repeat(61),
];
const TYPES = ['A', 'AAAA', 'PTR', 'TXT', 'MX', 'ANY', 'SRV', 'CNAME', 'NS', 'SOA', 'CAA', 'HTTPS'];
const EDNS = [undefined, 100, 512, 1232, 4096, 65535];

function mixedQueries(): Buffer[] {
  const out: Buffer[] = [];
  let id = 1;
  for (const name of NAMES) {
    for (const type of TYPES) {
      for (const edns of EDNS) {
        out.push(query(name, type, { id: id++ & 0xffff, edns }));
        out.push(query(name, type, { id: id++ & 0xffff, edns, rd: false, cd: true, dnssecOk: edns !== undefined }));
      }
    }
  }
  // Other classes, an OPT with options (a cookie), counts in the authority section.
  out.push(packet.encode({ type: 'query', id: 7, questions: [{ type: 'A', name: 'd1', class: 'CH' }] }));
  out.push(
    packet.encode({
      type: 'query',
      id: 8,
      questions: [{ type: 'A', name: 'd1' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, options: [{ code: 10, data: Buffer.alloc(8, 1) }] } as never],
    }),
  );
  return out;
}

t.test('native answers equal the TypeScript answers, byte for byte', async (t) => {
  const h = harness(t);
  const state = sampleState();
  state.networks[0] = {
    ...state.networks[0]!,
    endpoints: [...state.networks[0]!.endpoints, ...Array.from({ length: 300 }, (_, i) => ({ sandboxId: `m${i}`, names: [`m${i}`, 'many'], ipv4: `10.50.1.${i & 255}`, ipv6: `fd00::1:${i.toString(16)}` }))],
  };
  h.install(state);
  let compared = 0;
  let native = 0;
  let mismatches = 0;
  const queries = mixedQueries();
  for (let i = 0; i < 300; i++) queries.push(query(`m${i}`, i % 3 === 0 ? 'AAAA' : 'A'), query(`M${i}.dnet`, 'A', { edns: 1232 }));
  for (const sandbox of ['s1', 's2', 's3', 's4', 'gone']) {
    for (const msg of queries) {
      const [ts, c] = h.both(sandbox, msg);
      compared++;
      if (c === null) continue;
      native++;
      if (ts === null || !ts.equals(c)) {
        if (mismatches++ < 5) t.fail(`sandbox ${sandbox} query ${msg.toString('hex')}: TypeScript ${ts?.toString('hex')} native ${c.toString('hex')}`);
      }
    }
  }
  t.equal(mismatches, 0, `${compared} queries compared, ${native} answered natively`);
  t.ok(native > compared / 4, 'a large share is answered natively (the rest: ANY, shared aliases, names that are not local)');

  // What must be native, and what must not.
  const nativeAnswer = (sandbox: string, msg: Buffer): Buffer | null => h.both(sandbox, msg)[1];
  t.ok(nativeAnswer('s1', query('d1')), 'a local name');
  t.ok(nativeAnswer('s1', query('D1.DNET', 'A', { edns: 1232, dnssecOk: true })), 'name.network, any case, with EDNS');
  t.ok(nativeAnswer('s2', query('d2', 'AAAA')), 'AAAA');
  t.ok(nativeAnswer('s1', query('2.0.50.10.in-addr.arpa', 'PTR')), 'PTR');
  t.ok(nativeAnswer('s1', query('d1', 'TXT')), 'NODATA for an owned name');
  t.ok(nativeAnswer('s3', query('nosuch', 'A')), 'NODATA for a single label with ndots set');
  t.equal(nativeAnswer('s1', query('web')), null, 'a shared alias (shuffled records) is left to TypeScript');
  t.equal(nativeAnswer('s1', query('d1', 'ANY')), null, 'ANY is left to TypeScript');
  t.equal(nativeAnswer('s1', query('example.com')), null, 'a forwarded name is left to TypeScript');
  t.equal(nativeAnswer('gone', query('d1')), null, 'a sandbox without a view is left to TypeScript');
});

t.test('the fuzzer\'s hostile messages: native answers equal the TypeScript ones, and valid queries still work', async (t) => {
  const h = harness(t);
  const state = sampleState();
  h.install(state);
  const seed = Number(process.env.CNM_FUZZ_SEED ?? Date.now() % 1e9);
  t.comment(`seed ${seed} (replay with CNM_FUZZ_SEED=${seed})`);
  const fuzzer = new Fuzzer(seed);
  const messages = Number(process.env.CNM_NATIVE_FUZZ_MESSAGES ?? 200_000);
  let native = 0;
  let mismatches = 0;
  for (let i = 0; i < messages; i++) {
    const msg = fuzzer.next();
    const [ts, c] = h.both(i & 1 ? 's1' : 's2', msg);
    if (c === null) continue;
    native++;
    if (ts === null || !ts.equals(c)) {
      if (mismatches++ < 5) t.fail(`query ${msg.toString('hex')}: TypeScript ${ts?.toString('hex')} native ${c.toString('hex')}`);
    }
  }
  t.equal(mismatches, 0, `${messages} hostile messages, ${native} answered natively, all as TypeScript would`);
  const [ts, c] = h.both('s1', query('d1'));
  t.ok(c !== null && ts !== null && c.equals(ts), 'a valid query is answered natively afterwards');
});

t.test('a new table replaces the old one whole', async (t) => {
  const h = harness(t);
  const state = sampleState();
  h.install(state);
  t.ok(h.both('s1', query('d2'))[1], 'd2 answered from the first table');
  const without: TestState = { ...state, networks: state.networks.map((n) => ({ ...n, endpoints: n.endpoints.filter((e) => e.sandboxId !== 's2') })) };
  h.install(without);
  t.equal(h.both('s1', query('d2'))[1], null, 'd2 is gone from the new table: TypeScript answers (forwards) it');
  t.ok(h.both('s1', query('d1'))[1], 'd1 is still there');
});

t.test('a table derived change by change answers as one built whole', async (t) => {
  // The resolver derives each network's native part from the previous one with only the keys
  // that changed (records.ts TableChanges, dns_answer.c cnm_dns_network_derive): after a long
  // random walk of connects, disconnects, renames, shared aliases and address changes, its answers
  // must be those of a table compiled from scratch, and those of the TypeScript path.
  const h = harness(t);
  let seed = 1414;
  const random = (n: number): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
  const pool = Array.from({ length: 40 }, (_, i) => `r${i}`);
  const state: TestState = {
    networks: [
      { id: 'ra', name: 'alpha', internal: false, endpoints: [] },
      { id: 'rb', name: 'beta', internal: false, endpoints: [] },
    ],
    sandboxes: pool.map((id) => ({ id, nsPath: `/ns/${id}`, networkIds: ['ra', 'rb'] })),
  };
  const names = (i: number): string[] => [`r${i}`, ...(random(3) === 0 ? ['shared'] : []), ...(random(4) === 0 ? [`alias${random(5)}`] : [])];
  const queries: Buffer[] = [];
  for (const name of ['shared', ...Array.from({ length: 5 }, (_, i) => `alias${i}`), ...pool]) {
    for (const qualified of [name, `${name}.alpha`, `${name}.beta`]) queries.push(query(qualified), query(qualified, 'AAAA'), query(qualified, 'TXT'));
  }
  for (let i = 0; i < 64; i++) queries.push(query(`${i}.0.20.10.in-addr.arpa`, 'PTR'), query(`${i}.0.21.10.in-addr.arpa`, 'PTR'));
  let derived = 0;
  let mismatches = 0;
  for (let step = 0; step < 300; step++) {
    const which = random(2);
    const network = state.networks[which]!;
    const i = random(pool.length);
    const others = network.endpoints.filter((e) => e.sandboxId !== `r${i}`);
    const action = random(3);
    const subnet = network.id === 'ra' ? 20 : 21;
    const endpoints = action === 0 ? others : [...others, { sandboxId: `r${i}`, names: names(i), ipv4: `10.${subnet}.0.${random(64)}`, ...(random(2) ? { ipv6: `fd00::${random(64)}` } : {}) }];
    state.networks[which] = { ...network, endpoints };
    const snapshot = h.install(state);
    derived += [...snapshot.tables.values()].filter((tb) => tb.changes !== undefined).length;
    const fromChanges = queries.map((q) => h.native.answer(h.slots.get(`r${i}`)!, q));
    h.native.installTable(compileNativeTable(snapshot, h.slots, h.slots.size));
    for (const [k, q] of queries.entries()) {
      const whole = h.native.answer(h.slots.get(`r${i}`)!, q);
      const [ts] = h.both(`r${i}`, q);
      const same = whole === null ? fromChanges[k] === null : fromChanges[k]?.equals(whole) === true;
      if (!same || (whole !== null && (ts === null || !ts.equals(whole)))) {
        if (mismatches++ < 5) t.fail(`step ${step} query ${q.toString('hex')}: derived ${fromChanges[k]?.toString('hex')} whole ${whole?.toString('hex')} TypeScript ${ts?.toString('hex')}`);
      }
    }
  }
  t.equal(mismatches, 0, `300 changes, ${queries.length} queries after each: derived and whole tables answer alike`);
  t.ok(derived > 250, `the networks were derived from their previous versions (${derived} times)`);
});

t.test('a malformed table is refused and the current one stays', async (t) => {
  const h = harness(t);
  h.install(sampleState());
  const good = compileNativeTable(h.engine.snapshot, h.slots, 16);
  for (const cut of [0, 10, 24, good.length - 1]) {
    t.throws(() => h.native.installTable(good.subarray(0, cut)), /dnsResponderInstall/, `cut at ${cut} bytes`);
  }
  t.ok(h.both('s1', query('d1'))[1], 'still answering from the table installed before');
});

t.test('compiling the table at 1,000 sandboxes', async (t) => {
  const h = harness(t);
  const state: TestState = {
    networks: [{ id: 'b', name: 'benchnet', internal: false, endpoints: Array.from({ length: 1000 }, (_, i) => ({ sandboxId: `b${i}`, names: [`c${i}`, `${i.toString(16).padStart(12, '0')}`], ipv4: `10.99.${(i + 2) >> 8}.${(i + 2) & 255}`, ipv6: `fd99::${(i + 2).toString(16)}` })) }],
    sandboxes: Array.from({ length: 1000 }, (_, i) => ({ id: `b${i}`, nsPath: `/ns/${i}`, networkIds: ['b'] })),
  };
  const snapshot = h.install(state);
  const table = compileNativeTable(snapshot, h.slots, h.slots.size);
  t.ok(table.length / 1000 < 10_240, `${(table.length / 1000).toFixed(0)} bytes of table per sandbox (aim ≤ 10 KB)`);
  t.ok(h.both('b500', query('c999'))[1], 'answers from the large table');
  // Timed for the report only (speed is measured in bench/, never asserted): one alias added
  // and removed again, each a new table (the one endpoint re-encoded, the rest reused).
  const withAlias: TestState = { ...state, networks: [{ ...state.networks[0]!, endpoints: state.networks[0]!.endpoints.map((e, i) => (i === 500 ? { ...e, names: [...e.names, 'extra'] } : e)) }] };
  const snapshots = [buildSnapshot(snapshot, withAlias, 600).snapshot, snapshot];
  const start = process.hrtime.bigint();
  for (let i = 0; i < 20; i++) h.native.install(snapshots[i & 1]!);
  t.comment(`compile + install at 1,000 sandboxes, one alias changed: ${(Number(process.hrtime.bigint() - start) / 20e6).toFixed(2)} ms`);
  const unchanged = process.hrtime.bigint();
  for (let i = 0; i < 20; i++) h.native.install(snapshot);
  t.comment(`the same table again (nothing swapped): ${(Number(process.hrtime.bigint() - unchanged) / 20e6).toFixed(2)} ms`);
  t.ok(h.both('b500', query('c999'))[1], 'still answering');
});

t.test('a closed listener\'s slot is not reused while the table in force still maps it', async (t) => {
  const h = harness(t);
  const state = sampleState();
  const s1Only: TestState = { ...state, sandboxes: state.sandboxes.filter((s) => s.id === 's1') };
  const snapshot = buildSnapshot(h.engine.snapshot, s1Only, 600).snapshot;
  h.engine.snapshot = snapshot;
  // Loopback sockets on port 0 (no root): the responder owns and closes them.
  const first = h.native.watch('s1', bindSocket('udp', '127.0.0.1', 0));
  h.native.install(snapshot);
  t.ok(h.native.answer(first.slot, query('d1')), 's1 answered natively');
  h.native.unwatch(first);
  // A new sandbox on another network opens its listener before the next table is compiled.
  const second = h.native.watch('s3', bindSocket('udp', '127.0.0.1', 0));
  t.equal(h.native.answer(second.slot, query('d1.dnet')), null, 'the new listener is not answered from the old sandbox\'s view');
  const next = buildSnapshot(snapshot, { ...state, sandboxes: state.sandboxes.filter((s) => s.id === 's3') }, 600).snapshot;
  h.native.install(next);
  t.ok(h.native.answer(second.slot, query('o3')), 'after the next table, its own view answers');
  t.equal(h.native.answer(second.slot, query('d1.dnet')), null, 'and not the old one\'s names');
  h.native.unwatch(second);
});
