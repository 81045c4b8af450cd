/**
 * The native responder in real namespaces: local answers come from its thread (and are counted
 * in /metrics so that totals match what the clients sent), everything else still reaches the
 * TypeScript path, and where the responder is disabled the TypeScript path serves everything.
 */
import '../helpers/private-netns';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { startUpstreamStub } from '../../bench/dns/upstream-stub';
import type { LogLevel } from '../../src/resolver';
import { dig, makeLab, nodeIn } from './resolver-lab';

const run = promisify(execFile);

function metric(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

const LOCAL_A = 'cnm_dns_queries_total{type="A",rcode="NOERROR",source="local"}';

t.test('local answers come from the native thread and are counted; forwarded names still work', async (t) => {
  const stub = await startUpstreamStub('127.0.0.1', 0);
  t.teardown(() => stub.close());
  const lab = makeLab(t, { upstreams: [`127.0.0.1:${stub.port}`] });
  t.ok(lab.resolver.nativeActive, 'the native responder runs');
  const ns = lab.ns('s1');
  await lab.resolver.update({
    networks: [{ id: 'n1', name: 'nnet', internal: false, endpoints: [{ sandboxId: 's1', names: ['d1', 'alias1'], ipv4: '10.50.0.2', ipv6: 'fd00::2' }] }],
    sandboxes: [{ id: 's1', nsPath: ns, networkIds: ['n1'] }],
  });
  const a = await dig(ns, 'D1.nnet');
  t.same([a.status, a.answers.map((x) => x.data)], ['NOERROR', ['10.50.0.2']], 'A, any case');
  t.same((await dig(ns, 'alias1', 'AAAA')).answers.map((x) => x.data), ['fd00::2'], 'AAAA of an alias');
  t.same((await dig(ns, '-x', '10.50.0.2')).answers.map((x) => x.data), ['d1.nnet.'], 'PTR');
  const txt = await dig(ns, 'd1', 'TXT');
  t.same([txt.status, txt.answers.length], ['NOERROR', 0], 'NODATA for an owned name');
  let m = lab.resolver.metrics();
  t.equal(metric(m, 'cnm_dns_native_responder'), 1, 'metrics say the native responder serves');
  t.equal(metric(m, 'cnm_dns_native_handed_to_js_total'), 0, 'nothing local was handed to JavaScript');
  t.equal(metric(m, LOCAL_A), 1, 'the native A answer is counted');

  const forwarded = await dig(ns, 'x.fwd.example');
  t.same(forwarded.answers.map((x) => x.data), ['192.0.2.1'], 'a forwarded name goes through the TypeScript path');
  m = lab.resolver.metrics();
  t.equal(metric(m, 'cnm_dns_native_handed_to_js_total'), 1, 'one message handed to JavaScript');

  // dnsperf: what it says it completed is what /metrics counts (native answers included).
  const queries = path.join(lab.dir, 'queries.txt');
  writeFileSync(queries, ['d1 A', 'd1.nnet A', 'alias1 A', 'D1 A'].join('\n') + '\n');
  const before = metric(lab.resolver.metrics(), LOCAL_A);
  const { stdout } = await run('nsenter', [`--net=${ns}`, 'dnsperf', '-s', '127.0.0.11', '-d', queries, '-l', '2', '-Q', '2000', '-c', '4']);
  const completed = Number(/Queries completed:\s+(\d+)/.exec(stdout)?.[1]);
  const sent = Number(/Queries sent:\s+(\d+)/.exec(stdout)?.[1]);
  m = lab.resolver.metrics();
  t.ok(completed > 1000, `dnsperf completed ${completed} of ${sent}`);
  t.equal(metric(m, LOCAL_A) - before, completed, 'the A answers counted equal the queries dnsperf completed');
  const count = metric(m, 'cnm_dns_query_duration_seconds_count', '{source="local"}');
  t.equal(count, metric(m, LOCAL_A) + 3, 'every native answer is timed (the histogram counts it: the A answers, AAAA, PTR and NODATA)');
});

t.test('a listener closed and a sandbox reconnected: no answers from a stale table or socket', async (t) => {
  const lab = makeLab(t);
  const ns1 = lab.ns('s1');
  const ns2 = lab.ns('s2');
  const net = (eps: { sandboxId: string; names: string[]; ipv4: string }[]) => [{ id: 'n1', name: 'nnet', internal: false, endpoints: eps }];
  await lab.resolver.update({
    networks: net([{ sandboxId: 's1', names: ['one'], ipv4: '10.50.0.2' }, { sandboxId: 's2', names: ['two'], ipv4: '10.50.0.3' }]),
    sandboxes: [{ id: 's1', nsPath: ns1, networkIds: ['n1'] }, { id: 's2', nsPath: ns2, networkIds: ['n1'] }],
  });
  t.same((await dig(ns2, 'one')).answers.map((x) => x.data), ['10.50.0.2'], 's2 resolves one');
  await lab.resolver.update({ networks: net([{ sandboxId: 's1', names: ['one'], ipv4: '10.50.0.2' }]), sandboxes: [{ id: 's1', nsPath: ns1, networkIds: ['n1'] }] });
  t.equal((await dig(ns2, 'one')).status, 'TIMEOUT', 'a removed sandbox has no listener any more');
  t.same((await dig(ns1, 'two')).status, 'SERVFAIL', 'a removed name is no longer answered natively (TypeScript: no upstream)');
  await lab.resolver.update({
    networks: net([{ sandboxId: 's1', names: ['one'], ipv4: '10.50.0.2' }, { sandboxId: 's2', names: ['two'], ipv4: '10.50.0.9' }]),
    sandboxes: [{ id: 's1', nsPath: ns1, networkIds: ['n1'] }, { id: 's2', nsPath: ns2, networkIds: ['n1'] }],
  });
  t.same((await dig(ns2, 'two')).answers.map((x) => x.data), ['10.50.0.9'], 'reconnected with a new address: the new one');
  t.same((await dig(ns1, 'two')).answers.map((x) => x.data), ['10.50.0.9'], 'and its neighbour sees it too');
});

for (const how of ['option', 'environment'] as const) {
  t.test(`native responder disabled by ${how}: a clear log line, and Node serves everything`, async (t) => {
    const logs: string[] = [];
    const log = (level: LogLevel, msg: string): void => void logs.push(`${level} ${msg}`);
    const saved = process.env.CNM_DNS_NATIVE;
    if (how === 'environment') process.env.CNM_DNS_NATIVE = '0';
    let lab;
    try {
      lab = makeLab(t, how === 'option' ? { nativeResponder: false, log } : { log });
    } finally {
      if (saved === undefined) delete process.env.CNM_DNS_NATIVE;
      else process.env.CNM_DNS_NATIVE = saved;
    }
    t.notOk(lab.resolver.nativeActive, 'no native responder');
    t.ok(logs.some((l) => /native responder disabled .*Node serves every DNS query/.test(l)), `logged: ${logs.find((l) => l.includes('native')) ?? 'nothing'}`);
    const ns = lab.ns('s1');
    await lab.resolver.update({
      networks: [{ id: 'n1', name: 'nnet', internal: false, endpoints: [{ sandboxId: 's1', names: ['d1'], ipv4: '10.50.0.2' }] }],
      sandboxes: [{ id: 's1', nsPath: ns, networkIds: ['n1'] }],
    });
    t.same((await dig(ns, 'd1')).answers.map((x) => x.data), ['10.50.0.2'], 'answered by Node');
    const m = lab.resolver.metrics();
    t.equal(metric(m, 'cnm_dns_native_responder'), 0, 'metrics say Node serves');
    t.equal(metric(m, LOCAL_A), 1, 'and count the answer');
  });
}

t.test('through real sockets: the native path and the TypeScript path send the same bytes', async (t) => {
  const native = makeLab(t);
  const plain = makeLab(t, { nativeResponder: false });
  t.ok(native.resolver.nativeActive && !plain.resolver.nativeActive, 'one lab with, one without the native responder');
  const nsNative = native.ns('s1');
  const nsPlain = plain.ns('s1');
  const state = (nsPath: string) => ({
    networks: [
      { id: 'n1', name: 'nnet', internal: false, endpoints: [{ sandboxId: 's1', names: ['d1', 'Alias1', 'aaaaaaaaaaaa'], ipv4: '10.50.0.2', ipv6: 'fd00::2' }, { sandboxId: 's2', names: ['d2'], ipv4: '10.50.0.3' }] },
      { id: 'n2', name: 'other', internal: true, endpoints: [{ sandboxId: 's1', names: ['d1'], ipv4: '10.60.0.2' }] },
    ],
    sandboxes: [{ id: 's1', nsPath, networkIds: ['n1', 'n2'] }],
  });
  await native.resolver.update(state(nsNative));
  await plain.resolver.update(state(nsPlain));
  // Every query of the set, sent one after the other, each reply recorded as hex (or null).
  const script = `
    const dgram = require('dgram');
    const packet = require('dns-packet');
    const names = ['d1', 'D1', 'd1.nnet', 'd1.OTHER', 'alias1', 'ALIAS1.nnet', 'aaaaaaaaaaaa', 'd2', 'd2.nnet', 'nosuch', 'x.example',
      '2.0.50.10.in-addr.arpa', '2.0.60.10.in-addr.arpa', '2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa'];
    const types = ['A', 'AAAA', 'PTR', 'TXT', 'MX', 'SRV'];
    const queries = [];
    let id = 1;
    for (const name of names) for (const type of types) for (const edns of [null, 1232, 4096]) {
      queries.push(packet.encode({ type: 'query', id: id++, flags: packet.RECURSION_DESIRED, questions: [{ type, name }],
        additionals: edns === null ? [] : [{ type: 'OPT', name: '.', udpPayloadSize: edns, flags: id % 2 ? packet.DNSSEC_OK : 0, options: [] }] }));
    }
    queries.push(Buffer.from('0001010000010000000000000164', 'hex')); // truncated question: FORMERR
    queries.push(Buffer.from('00020000000100000000000102643100000100010000290200000100000000', 'hex')); // EDNS version 1: BADVERS
    const socket = dgram.createSocket('udp4');
    const out = [];
    let i = 0;
    const next = () => {
      if (i === queries.length) { socket.close(); console.log(JSON.stringify(out)); return; }
      const timer = setTimeout(() => { out.push(null); i++; next(); }, 1000);
      socket.once('message', (m) => { clearTimeout(timer); out.push(m.toString('hex')); i++; next(); });
      socket.send(queries[i], 53, '127.0.0.11');
    };
    socket.bind(0, next);`;
  const [viaNative, viaPlain] = (await Promise.all([nodeIn(nsNative, script), nodeIn(nsPlain, script)])) as [(string | null)[], (string | null)[]];
  t.equal(viaNative.length, viaPlain.length, `${viaNative.length} replies each`);
  const differ = viaNative.map((r, i) => (r === viaPlain[i] ? -1 : i)).filter((i) => i >= 0);
  t.same(differ, [], 'every reply identical, byte for byte');
  t.ok(viaNative.every((r) => r !== null), 'every query answered');
  const answeredNatively = metric(native.resolver.metrics(), LOCAL_A);
  t.ok(answeredNatively > 0 && metric(native.resolver.metrics(), 'cnm_dns_native_handed_to_js_total') < viaNative.length / 2, 'most of them by the native thread');
});
