/** Forwarding, fail-over, truncation, the in-flight cap and the cache, against local stubs. */
// Upstream stubs and the resolver's own upstream sockets live in this file's private namespace.
import '../helpers/private-netns';
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { sampleState } from '../unit/resolver-fixtures';
import { dig, makeLab, nodeIn, type Lab } from './resolver-lab';
import { closedPort, startStub, type Stub, type StubBehaviour, type StubPlace } from './resolver-stub';
import { Resolver, type ResolverOptions } from '../../src/resolver';
import { until } from '../helpers/lab';

type Test = Parameters<Parameters<typeof t.test>[0]>[0];

async function stub(t: Test, behaviour: StubBehaviour, place?: StubPlace): Promise<Stub> {
  const s = await startStub(behaviour, place);
  t.teardown(() => s.close());
  return s;
}

const RECORDS: StubBehaviour['records'] = {
  'example.test': [{ type: 'A', data: '192.0.2.1', ttl: 300 }],
  'big.test': Array.from({ length: 60 }, (_, i) => ({ type: 'A', data: `192.0.2.${i + 1}` })),
  o3: [{ type: 'A', data: '198.51.100.3' }],
};

async function labWith(t: Test, options: ResolverOptions): Promise<Lab> {
  const lab = makeLab(t, options);
  const state = sampleState();
  await lab.resolver.update({ ...state, sandboxes: state.sandboxes.map((s) => ({ ...s, nsPath: lab.ns(s.id) })) });
  return lab;
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const start = Date.now();
  const value = await fn();
  return [value, Date.now() - start];
}

t.test('unknown names are forwarded unchanged; the second query is a cache hit', async (t) => {
  const up = await stub(t, { records: RECORDS, negativeTtl: 60 });
  const lab = await labWith(t, { upstreams: [up.spec] });
  const s1 = lab.ns('s1');

  const first = await dig(s1, 'example.test');
  t.equal(first.status, 'NOERROR');
  t.same(first.answers, [{ name: 'example.test.', ttl: 300, type: 'A', data: '192.0.2.1' }]);
  t.ok(first.flags.includes('aa'), 'upstream flags pass unchanged');
  t.equal(up.queries.length, 1);

  await new Promise((r) => setTimeout(r, 1100));
  const second = await dig(s1, 'EXAMPLE.Test');
  t.equal(up.queries.length, 1, 'second query answered from the cache');
  t.equal(second.answers[0]?.name, 'EXAMPLE.Test.', 'cached answer echoes the asker’s case');
  t.ok(second.answers[0]!.ttl < 300 && second.answers[0]!.ttl >= 298, `TTL decremented (${second.answers[0]!.ttl})`);

  const nx = await dig(s1, 'missing.test');
  t.equal(nx.status, 'NXDOMAIN');
  await dig(s1, 'missing.test');
  t.equal(up.queries.filter((q) => q.name === 'missing.test').length, 1, 'negative answer cached (SOA minimum)');

  t.same((await dig(s1, 'o3')).answers.map((a) => a.data), ['198.51.100.3'], 'a name of another network is forwarded, not answered');
  t.equal((await dig(s1, '+tcp', 'example.test')).answers.length, 1, 'TCP asker served too');
  t.equal((await dig(s1, 'example.test', '+dnssec')).answers.length, 1);
  t.equal(up.queries.filter((q) => q.name === 'example.test').length, 2, 'DO bit is part of the cache key');

  t.equal((await dig(lab.ns('s4'), 'example.test')).status, 'REFUSED', 'internal-only sandbox never forwards');
  t.equal(up.queries.filter((q) => q.name === 'example.test').length, 2);
  t.equal((await dig(lab.ns('s3'), 'example.test')).answers.length, 1, 'ndots set: dotted names still forwarded');
});

t.test('negative answers without SOA are not cached', async (t) => {
  const up = await stub(t, { records: RECORDS });
  const lab = await labWith(t, { upstreams: [up.spec] });
  await dig(lab.ns('s1'), 'nosoa.test');
  await dig(lab.ns('s1'), 'nosoa.test');
  t.equal(up.queries.length, 2);
});

t.test('upstream down: SERVFAIL quickly, never silence', async (t) => {
  const refused = await closedPort();
  const logged: string[] = [];
  const lab = await labWith(t, { upstreams: [refused], tryTimeoutMs: 300, log: (level, msg) => logged.push(`${level} ${msg}`) });
  const [down, ms] = await timed(() => dig(lab.ns('s1'), 'example.test'));
  t.equal(down.status, 'SERVFAIL');
  t.ok(ms < 1000, `unreachable upstream: SERVFAIL in ${ms} ms`);
  t.match(down.raw, /EDE: 22 \(No Reachable Authority\)/, 'Extended DNS Error says why');
  t.equal((await dig(lab.ns('s1'), '+tcp', 'example.test')).status, 'SERVFAIL', 'TCP asker too');
  t.same((await dig(lab.ns('s1'), 'd1')).answers.map((a) => a.data), ['10.50.0.2'], 'local names unaffected');
  t.same(logged.filter((l) => l.includes('SERVFAIL')), [`warn [resolver] answered SERVFAIL: upstream ${refused}: recvmsg ECONNREFUSED`], 'one warning, not one per query');

  const silent = await stub(t, { records: RECORDS, mode: 'silent' });
  const quiet = await labWith(t, { upstreams: [silent.spec], tryTimeoutMs: 300 });
  const [blackhole, waited] = await timed(() => dig(quiet.ns('s1'), 'example.test'));
  t.equal(blackhole.status, 'SERVFAIL');
  t.ok(waited < 2000, `silent upstream: SERVFAIL after ${waited} ms (client timeout 3 s)`);
  t.ok(silent.queries.length >= 2, 'retried within the budget');
});

t.test('fail-over: dead, silent and SERVFAIL upstreams are skipped', async (t) => {
  const good = await stub(t, { records: RECORDS });
  const silent = await stub(t, { records: RECORDS, mode: 'silent' });
  const broken = await stub(t, { records: RECORDS, mode: 'servfail' });
  // Try timeouts long enough that "at once" and "after a timeout" cannot be confused on a busy machine.
  const lab = await labWith(t, { upstreams: [await closedPort(), broken.spec, good.spec], tryTimeoutMs: 1500, cacheEntries: 0 });
  const [a, ms] = await timed(() => dig(lab.ns('s1'), 'example.test'));
  t.same(a.answers.map((x) => x.data), ['192.0.2.1']);
  t.ok(ms < 750, `refused and SERVFAIL fail over at once (${ms} ms, try timeout 1500)`);
  t.equal(broken.queries.length, 1);

  const slow = await labWith(t, { upstreams: [silent.spec, good.spec], tryTimeoutMs: 1000, cacheEntries: 0 });
  const [b, waited] = await timed(() => dig(slow.ns('s1'), 'example.test'));
  t.same(b.answers.map((x) => x.data), ['192.0.2.1']);
  t.ok(waited >= 950 && waited < 2500, `silent upstream: next one after the try timeout (${waited} ms, try timeout 1000)`);
  const [c, again] = await timed(() => dig(slow.ns('s1'), 'example.test'));
  t.equal(c.answers.length, 1);
  t.ok(again < 500, `the failed upstream is tried last afterwards (${again} ms)`);
});

t.test('an upstream that fails and comes back is logged once each way, not per query', async (t) => {
  const up = await stub(t, { records: RECORDS, mode: 'servfail' });
  const logged: string[] = [];
  const lab = await labWith(t, { upstreams: [up.spec], tryTimeoutMs: 300, cacheEntries: 0, log: (level, msg) => logged.push(`${level} ${msg}`) });
  for (let i = 0; i < 3; i++) t.equal((await dig(lab.ns('s1'), 'example.test')).status, 'SERVFAIL');
  const down = logged.filter((l) => l.includes('is asked after the others'));
  t.same(down, [`warn [resolver] upstream ${up.spec} answered SERVFAIL: it is asked after the others for 30 s`], 'one warning for three failed queries');
  up.behaviour.mode = 'answer';
  for (let i = 0; i < 2; i++) t.equal((await dig(lab.ns('s1'), 'example.test')).answers.length, 1);
  t.same(logged.filter((l) => l.includes('answers again')), [`info [resolver] upstream ${up.spec} answers again`], 'the recovery is logged once');
});

t.test('truncated upstream answers: TCP askers get a TCP retry, UDP askers the TC answer', async (t) => {
  const up = await stub(t, { records: RECORDS, truncateUdp: true });
  const lab = await labWith(t, { upstreams: [up.spec] });
  const udp = await dig(lab.ns('s1'), '+ignore', 'big.test');
  t.ok(udp.flags.includes('tc'), 'TC passed to a UDP asker');
  const tcp = await dig(lab.ns('s1'), '+tcp', 'big.test');
  t.equal(tcp.answers.length, 60, 'TCP asker: fetched again over TCP');
  t.same(up.queries.filter((q) => q.name === 'big.test').map((q) => q.transport), ['udp', 'udp', 'tcp']);
  t.equal((await dig(lab.ns('s1'), 'big.test')).answers.length, 60, 'dig’s own TCP retry is served from the cache');
});

t.test('replies with another question are ignored (id alone is not enough)', async (t) => {
  const up = await stub(t, { records: RECORDS, spoofFirst: true });
  const lab = await labWith(t, { upstreams: [up.spec] });
  t.same((await dig(lab.ns('s1'), 'example.test')).answers.map((a) => a.data), ['192.0.2.1']);
});

t.test('in-flight cap: the excess gets SERVFAIL at once', async (t) => {
  const up = await stub(t, { records: RECORDS, delayMs: 1200 });
  const lab = await labWith(t, { upstreams: [up.spec], maxInflight: 2, tryTimeoutMs: 2000 });
  const results = (await nodeIn(
    lab.ns('s1'),
    `const { UDPClient } = require('dns2');
     const q = (n) => { const t0 = Date.now(); return UDPClient({ dns: '127.0.0.11', timeout: 4000 })(n + '.test', 'A')
        .then((r) => ({ rcode: r.header.rcode, ms: Date.now() - t0 })); };
     Promise.all([0, 1, 2, 3, 4].map((i) => q('n' + i))).then((r) => console.log(JSON.stringify(r)));`,
  )) as { rcode: number; ms: number }[];
  const servfail = results.filter((r) => r.rcode === 2);
  t.equal(servfail.length, 3, JSON.stringify(results));
  t.ok(servfail.every((r) => r.ms < 600), 'answered at once, not after the upstream’s 1.2 s');
  t.equal(results.filter((r) => r.rcode === 3).length, 2, 'the two in flight get the upstream answer (NXDOMAIN)');
});

t.test('in-flight cap shared fairly: one sandbox flooding does not fail another sandbox\'s lookups', async (t) => {
  const up = await stub(t, { records: RECORDS, delayMs: 300 });
  const lab = await labWith(t, { upstreams: [up.spec], maxInflight: 16, tryTimeoutMs: 2000 });
  const flood = nodeIn(
    lab.ns('s1'),
    `const dgram = require('dgram'); const packet = require('dns-packet');
     const s = dgram.createSocket('udp4'); let sent = 0, servfail = 0;
     s.on('message', (m) => { if ((m[3] & 15) === 2) servfail++; });
     const end = Date.now() + 3500;
     const tick = setInterval(() => {
       if (Date.now() > end) { clearInterval(tick); setTimeout(() => { console.log(JSON.stringify({ sent, servfail })); process.exit(0); }, 500); return; }
       for (let i = 0; i < 100; i++) s.send(packet.encode({ type: 'query', id: sent & 0xffff, flags: packet.RECURSION_DESIRED, questions: [{ type: 'A', name: 'junk' + sent++ + '.test' }] }), 53, '127.0.0.11');
     }, 20);`,
  ) as Promise<{ sent: number; servfail: number }>;
  await new Promise((r) => setTimeout(r, 500));
  const victim = (await nodeIn(
    lab.ns('s2'),
    `const { UDPClient } = require('dns2');
     const q = (n) => UDPClient({ dns: '127.0.0.11', timeout: 3000 })(n + '.test', 'A').then((r) => r.header.rcode, () => 'timeout');
     (async () => { const out = []; for (let round = 0; round < 8; round++) out.push(...await Promise.all([0, 1, 2].map((i) => q('v' + round + '-' + i)))); console.log(JSON.stringify(out)); })();`,
  )) as (number | string)[];
  const { sent, servfail } = await flood;
  t.ok(servfail > sent / 2, `the flooding sandbox was refused past its share (${servfail} SERVFAIL of ${sent})`);
  t.same(victim, Array(24).fill(3), 'every lookup of the other sandbox got the upstream answer (NXDOMAIN), none SERVFAIL');
  const metrics = lab.resolver.metrics();
  const refused = (id: string): number => Number(new RegExp(`cnm_dns_forward_refused_total\\{sandbox="${id}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
  t.ok(refused('s1') > 0, `refusals of s1 in /metrics: ${refused('s1')}`);
  t.equal(refused('s2'), 0, 'none for s2');
});

t.test('upstreams follow resolv.conf', async (t) => {
  // resolv.conf cannot name a port: the stubs listen on port 53 of loopback addresses of this private namespace.
  const one = await stub(t, { records: { 'which.test': [{ type: 'A', data: '192.0.2.101' }] } }, { address: '127.53.0.1', port: 53 });
  const two = await stub(t, { records: { 'which.test': [{ type: 'A', data: '192.0.2.102' }] } }, { address: '127.53.0.2', port: 53 });
  const lab0 = makeLab(t);
  const conf = lab0.file('host-resolv.conf', `# host\nsearch corp.test\nnameserver ${one.address}\n`);
  const lab = await labWith(t, { resolvConfPath: conf, resolvConfPollMs: 50 });
  t.same((await dig(lab.ns('s1'), 'which.test')).answers.map((a) => a.data), ['192.0.2.101']);
  t.same(lab.resolver.hostResolvConf(), { nameservers: [one.address], search: ['corp.test'], options: [] });

  writeFileSync(conf, `nameserver ${two.address}\noptions edns0\n`);
  await until(async () => lab.resolver.hostResolvConf().nameservers[0] === two.address, 5000, 'the new upstream');
  t.same((await dig(lab.ns('s1'), 'which.test')).answers.map((a) => a.data), ['192.0.2.102'], 'new upstream, cache flushed');
  t.same(lab.resolver.hostResolvConf(), { nameservers: [two.address], search: [], options: ['edns0'] });
});

t.test('the change callback comes after forwarding switched; with fixed upstreams the file still supplies search and options', async (t) => {
  const lab = makeLab(t);
  const conf = lab.file('host-resolv.conf', 'search a.test\nnameserver 192.0.2.1\n');
  const seen: string[][] = [];
  const resolver = new Resolver({ upstreams: ['192.0.2.53', '192.0.2.54:5300'], resolvConfPath: conf, resolvConfPollMs: 50, onHostResolvConfChange: () => seen.push(resolver.hostResolvConf().search) });
  t.teardown(() => resolver.close());
  t.same(resolver.hostResolvConf(), { nameservers: ['192.0.2.53'], search: ['a.test'], options: [] }, '--dns servers a resolv.conf can name, the file’s search');
  writeFileSync(conf, 'search b.test\nnameserver 192.0.2.2\n');
  await until(async () => seen.length > 0, 5000, 'the change callback');
  await new Promise((r) => setTimeout(r, 150));
  t.same(seen, [['b.test']], 'told once, after the change');
  t.same(resolver.hostResolvConf().nameservers, ['192.0.2.53'], 'the --dns servers stay');
});

t.test('hostResolvConf(): the upstreams a resolv.conf can name (port 53)', async (t) => {
  // No sandbox, no query: nothing is ever sent to these addresses.
  const lab = makeLab(t);
  const resolver = new Resolver({ upstreams: ['192.0.2.53', '127.0.0.1:5353', '[2001:db8::1]:53', '192.0.2.54:5300'], resolvConfPath: lab.file('none', '') });
  t.teardown(() => resolver.close());
  t.same(resolver.hostResolvConf().nameservers, ['192.0.2.53', '2001:db8::1']);
  t.throws(() => new Resolver({ upstreams: ['not-an-ip'] }), /invalid DNS server address/);
});

t.test('metrics: queries by type, rcode and source; latency; cache; upstream errors', async (t) => {
  const up = await stub(t, { records: RECORDS });
  const dead = await closedPort();
  const lab = await labWith(t, { upstreams: [dead, up.spec] });
  const s1 = lab.ns('s1');
  await dig(s1, 'd1');
  await dig(s1, 'd1', 'AAAA');
  await dig(s1, 'example.test');
  await dig(s1, 'example.test');
  await dig(lab.ns('s4'), 'example.test');
  const text = lab.resolver.metrics();
  const sample = (line: string): number => Number(new RegExp(`^${line.replace(/[{}"=,.+]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
  t.equal(sample('cnm_dns_queries_total{type="A",rcode="NOERROR",source="local"}'), 1);
  t.equal(sample('cnm_dns_queries_total{type="AAAA",rcode="NOERROR",source="local"}'), 1);
  t.equal(sample('cnm_dns_queries_total{type="A",rcode="NOERROR",source="upstream"}'), 1);
  t.equal(sample('cnm_dns_queries_total{type="A",rcode="NOERROR",source="cache"}'), 1);
  t.equal(sample('cnm_dns_queries_total{type="A",rcode="REFUSED",source="local"}'), 1);
  t.equal(sample('cnm_dns_cache_hits_total'), 1);
  t.equal(sample('cnm_dns_cache_misses_total'), 1);
  t.equal(sample('cnm_dns_query_duration_seconds_count{source="local"}'), 3);
  t.equal(sample('cnm_dns_query_duration_seconds_bucket{source="local",le="+Inf"}'), 3);
  t.equal(sample('cnm_dns_inflight'), 0);
  t.equal(sample(`cnm_dns_upstream_errors_total{upstream="${dead}",reason="unreachable"}`), 1);
  t.equal(sample('cnm_dns_sandboxes'), 4);
  for (const line of text.trim().split('\n')) {
    t.match(line, /^(# (HELP|TYPE) cnm_dns_\w+ .+|cnm_dns_\w+(\{[a-z]+="[^"]*"(,[a-z]+="[^"]*")*\})? \d+(\.\d+)?(e-?\d+)?)$/, 'exposition format');
  }
});

t.test('a sandbox removed while its query waits for an upstream: the late answer is dropped, nothing breaks', async (t) => {
  const up = await stub(t, { records: RECORDS, delayMs: 300 });
  const lab = await labWith(t, { upstreams: [up.spec] });
  const state = sampleState();
  const pending = Promise.all([dig(lab.ns('s1'), 'example.test'), dig(lab.ns('s1'), '+tcp', 'o3')]);
  await new Promise((r) => setTimeout(r, 100));
  await lab.resolver.update({ ...state, sandboxes: state.sandboxes.filter((s) => s.id !== 's1').map((s) => ({ ...s, nsPath: lab.ns(s.id) })) });
  const [udp, tcp] = await pending;
  t.equal(udp.status, 'TIMEOUT', 'no answer on a closed listener');
  t.not(tcp.status, 'NOERROR');
  await new Promise((r) => setTimeout(r, 400));
  t.same((await dig(lab.ns('s2'), 'example.test')).answers.map((a) => a.data), ['192.0.2.1'], 'still serving the others');
});
