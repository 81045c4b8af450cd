/**
 * Forwarding through the real cnmd, against upstream stubs in the lab's host namespace (the
 * daemon dials upstreams from there): answers passed through, the cache (visible in /metrics),
 * truncated upstream answers, upstreams that refuse, stay silent or have no route (SERVFAIL well
 * before a client's 5 s), internal networks never forwarding, the Prometheus families, and the
 * host resolv.conf followed: forwarding switches and sandboxes without embedded DNS get new files.
 */
import { writeFileSync } from 'node:fs';
import t from 'tap';
import { DnsLab, eventually, timed, type Metrics } from './dns-daemon-lab';

const RECORDS = {
  'example.test': [{ type: 'A', data: '192.0.2.1', ttl: 300 }],
  'tcp.test': [{ type: 'A', data: '192.0.2.2' }],
  'big.test': Array.from({ length: 60 }, (_, i) => ({ type: 'A', data: `192.0.2.${i + 10}` })),
  'which.test': [{ type: 'A', data: '192.0.2.101' }],
};

/** Client budget a glibc stub gives one server by default (timeout:5). */
const CLIENT_TIMEOUT_MS = 5000;

t.test('forwarding through the daemon', async (t) => {
  const top = t;
  const dns = await DnsLab.start(t, { resolvConf: 'search corp.test\nnameserver 127.0.0.1\n' });
  let upstream = await dns.stub(t, { records: RECORDS, negativeTtl: 60 });
  await dns.cli('network', 'create', '--subnet', '10.51.0.0/24', 'n1');
  await dns.cli('network', 'create', '--internal', '--subnet', '10.52.0.0/24', 'inner');
  await dns.run('a', '--network', 'n1');
  await dns.run('b', '--network', 'n1');
  await dns.run('walled', '--network', 'inner');
  await dns.run('plain');
  await dns.run('alone', '--network', 'none');
  const asked = (name: string): number => upstream.queries.filter((q) => q.name.toLowerCase() === name).length;

  await t.test('unknown names go upstream unchanged; the second query is a cache hit, seen in /metrics', async (t) => {
    const before = await dns.metrics();
    const first = await dns.dig('a', 'example.test');
    t.same(first.answers, [{ name: 'example.test.', ttl: 300, type: 'A', data: '192.0.2.1' }]);
    t.ok(first.flags.includes('aa'), 'the upstream’s flags pass unchanged');
    t.equal(asked('example.test'), 1);
    const second = await dns.dig('b', 'EXAMPLE.test');
    t.equal(asked('example.test'), 1, 'not asked again');
    t.equal(second.answers[0]?.name, 'EXAMPLE.test.', 'the cached answer echoes the asker’s case');
    const after = await dns.metrics();
    const delta = (series: string): number => after.value(series) - before.value(series);
    t.equal(delta('cnm_dns_cache_hits_total'), 1);
    t.equal(delta('cnm_dns_cache_misses_total'), 1);
    t.equal(delta('cnm_dns_queries_total{type="A",rcode="NOERROR",source="upstream"}'), 1);
    t.equal(delta('cnm_dns_queries_total{type="A",rcode="NOERROR",source="cache"}'), 1);
    t.equal(after.value('cnm_dns_cache_entries'), 1);

    t.equal((await dns.dig('a', 'nowhere.test')).status, 'NXDOMAIN');
    t.equal((await dns.dig('b', 'nowhere.test')).status, 'NXDOMAIN');
    t.equal(asked('nowhere.test'), 1, 'negative answers cached for the SOA minimum');
    t.same((await dns.dig('a', '+tcp', 'tcp.test')).answers.map((x) => x.data), ['192.0.2.2'], 'a TCP asker');
    const edns = await dns.dig('a', '+bufsize=1232', '+dnssec', 'tcp.test');
    t.ok(edns.opt, 'OPT passed back to an EDNS asker');
    t.equal(edns.answers.length, 1);
    t.equal((await dns.dig('a', 'b')).answers[0]?.ttl, 600, 'local answers: TTL 600 by default');
  });

  await t.test('truncated upstream answers: TC to a UDP asker, fetched over TCP for a TCP asker', async (t) => {
    upstream.behaviour.truncateUdp = true;
    t.teardown(() => void (upstream.behaviour.truncateUdp = false));
    const udp = await dns.dig('a', '+ignore', 'big.test');
    t.ok(udp.flags.includes('tc'), 'TC passed through');
    t.equal(udp.answers.length, 0);
    t.equal((await dns.dig('a', '+tcp', 'big.test')).answers.length, 60, 'TCP asker: the daemon retried over TCP');
    t.equal((await dns.dig('b', 'big.test')).answers.length, 60, 'dig’s own TCP retry after TC');
    t.ok(upstream.queries.some((q) => q.name === 'big.test' && q.transport === 'tcp'), 'the upstream was asked over TCP');
  });

  await t.test('internal networks never forward', async (t) => {
    const r = await dns.dig('walled', 'outside.test');
    t.equal(r.status, 'REFUSED');
    t.match(r.raw, /EDE: 18 \(Prohibited\)/, 'with a reason');
    t.equal(asked('outside.test'), 0, 'the upstream never heard of it');
    t.equal((await dns.dig('walled', 'walled')).status, 'NOERROR', 'its own names answer');
    await dns.cli('network', 'connect', 'n1', 'walled');
    t.equal((await dns.dig('walled', 'example.test')).answers.length, 1, 'connected to a non-internal network too: forwarded');
    await dns.cli('network', 'disconnect', 'n1', 'walled');
    t.equal((await dns.dig('walled', 'example.test')).status, 'REFUSED', 'internal only again: refused at once');
  });

  await t.test('upstream down: SERVFAIL well within a client’s 5 s, local names unaffected', async (t) => {
    await upstream.close();
    const [refused, ms] = await timed(() => dns.dig('a', 'down1.test'));
    t.equal(refused.status, 'SERVFAIL');
    t.ok(ms < 1500, `refused upstream: SERVFAIL in ${ms} ms`);
    t.match(refused.raw, /EDE: 22 \(No Reachable Authority\)/);
    t.equal((await dns.dig('a', '+tcp', 'down2.test')).status, 'SERVFAIL', 'a TCP asker too');
    t.equal((await dns.dig('a', 'b')).status, 'NOERROR', 'local names still answer');
    const [glibc, glibcMs] = await timed(() => dns.exec('a', 'getent', 'hosts', 'down3.test'));
    t.equal(glibc.code, 2, 'glibc: not found');
    t.ok(glibcMs < CLIENT_TIMEOUT_MS, `glibc gave up after ${glibcMs} ms, not after its timeouts`);

    upstream = await dns.stub(top, { records: RECORDS, mode: 'silent' });
    const [silent, waited] = await timed(() => dns.dig('a', 'down4.test'));
    t.equal(silent.status, 'SERVFAIL');
    t.ok(waited < CLIENT_TIMEOUT_MS * 0.8, `silent upstream: SERVFAIL after ${waited} ms`);
    t.ok(asked('down4.test') >= 2, 'retried within the budget');
    const m = await dns.metrics();
    t.ok(m.value('cnm_dns_upstream_errors_total{upstream="127.0.0.1:53",reason="unreachable"}') >= 1, 'refusals counted');
    t.ok(m.value('cnm_dns_upstream_errors_total{upstream="127.0.0.1:53",reason="timeout"}') >= 1, 'timeouts counted');
    upstream.behaviour.mode = 'answer';
  });

  await t.test('the Prometheus endpoint: queries by type, rcode and source; latency; cache; in flight; upstream errors', async (t) => {
    await dns.dig('a', 'b', 'AAAA');
    await dns.dig('a', '-x', await dns.ip('b', 'n1'));
    const r = await dns.lab.api('GET', '/metrics');
    t.equal(r.headers['content-type'], 'text/plain; version=0.0.4');
    const m: Metrics = await dns.metrics();
    t.match(m.families(), {
      cnm_dns_queries_total: 'counter',
      cnm_dns_query_duration_seconds: 'histogram',
      cnm_dns_cache_hits_total: 'counter',
      cnm_dns_inflight: 'gauge',
      cnm_dns_upstream_errors_total: 'counter',
    });
    t.ok(m.value('cnm_dns_queries_total{type="AAAA",rcode="NOERROR",source="local"}') >= 1);
    t.ok(m.value('cnm_dns_queries_total{type="PTR",rcode="NOERROR",source="local"}') >= 1);
    t.ok(m.value('cnm_dns_queries_total{type="A",rcode="SERVFAIL",source="upstream"}') >= 3);
    t.ok(m.value('cnm_dns_queries_total{type="A",rcode="REFUSED",source="local"}') >= 2, 'the internal network’s refusals');
    t.equal(m.value('cnm_dns_inflight'), 0);
    t.equal(m.value('cnm_dns_sandboxes'), 3, 'a, b and walled listen; plain and alone do not');
    for (const source of ['local', 'cache', 'upstream']) {
      const answered = [...m.text.matchAll(new RegExp(`^cnm_dns_queries_total\\{[^}]*source="${source}"\\} (\\d+)$`, 'gm'))].reduce((n, x) => n + Number(x[1]), 0);
      t.equal(m.value(`cnm_dns_query_duration_seconds_count{source="${source}"}`), answered, `histogram count = ${source} answers`);
      const buckets = [...m.text.matchAll(new RegExp(`^cnm_dns_query_duration_seconds_bucket\\{source="${source}",le="[^"]+"\\} (\\d+)$`, 'gm'))].map((x) => Number(x[1]));
      t.ok(buckets.length > 5 && buckets.every((b, i) => i === 0 || b >= buckets[i - 1]!), 'cumulative buckets');
      t.equal(buckets.at(-1), answered, '+Inf bucket = count');
    }
    for (const line of m.text.trim().split('\n')) {
      // The resolver's cnm_dns_* and the daemon's process_* / nodejs_* gauges.
      if (!/^(# (HELP|TYPE) [a-z_]+ .+|[a-z_]+(\{[a-z]+="[^"]*"(,[a-z]+="[^"]*")*\})? \d+(\.\d+)?(e-?\d+)?)$/.test(line)) t.fail(`not exposition format: ${line}`);
    }
  });

  await t.test('the host resolv.conf changes: forwarding follows, sandboxes without embedded DNS get new files', async (t) => {
    const resolv = async (sandbox: string): Promise<string> => (await dns.exec(sandbox, 'cat', '/etc/resolv.conf')).out;
    t.equal(await resolv('plain'), 'search corp.test\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n', 'loopback-only host: the fallback');
    t.same(await dns.addresses('a', 'which.test'), ['192.0.2.101']);
    // A second upstream on an address of the lab host that the default bridge reaches via its gateway.
    const moved = await dns.stub(t, { records: { 'which.test': [{ type: 'A', data: '192.0.2.102' }] } }, '198.18.0.53');
    writeFileSync(dns.lab.resolvConf, 'search changed.test\nnameserver 198.18.0.53\noptions attempts:1\n');

    const expected = 'search changed.test\nnameserver 198.18.0.53\noptions attempts:1\n';
    t.equal(await eventually(() => resolv('plain'), (s) => s === expected), expected, 'default bridge: the new upstream');
    t.equal(await resolv('alone'), expected, 'none: the same');
    t.equal(await resolv('a'), 'search changed.test\nnameserver 127.0.0.11\noptions ndots:0\n', 'user network: the new search domains');
    t.same(await dns.addresses('a', 'which.test'), ['192.0.2.102'], 'forwarding follows, the cache was flushed');
    // Only once its resolv.conf names the stub: glibc must never try the public fallback servers.
    if ((await resolv('plain')) !== expected) return;
    const glibc = await dns.exec('plain', 'getent', 'hosts', 'which.test');
    t.equal(glibc.out.split(/\s+/)[0], '192.0.2.102', 'glibc on the default bridge asks the new upstream itself');
    t.ok(moved.queries.some((q) => q.name === 'which.test.changed.test' || q.name === 'which.test'), 'through its resolv.conf');
  });

  await t.test('an upstream without a route: SERVFAIL, and the daemon lives on', async (t) => {
    // 198.51.100.0/24 (TEST-NET-2) has no route in the lab's host namespace: the connect fails locally.
    writeFileSync(dns.lab.resolvConf, 'nameserver 198.51.100.53\n');
    const plainResolv = async (): Promise<string> => (await dns.exec('plain', 'cat', '/etc/resolv.conf')).out;
    await eventually(plainResolv, (s) => s.includes('198.51.100.53'));
    const [r, ms] = await timed(() => dns.dig('a', 'unroutable.test'));
    t.equal(r.status, 'SERVFAIL');
    t.ok(ms < 1500, `at once (${ms} ms)`);
    t.equal((await dns.dig('a', 'b')).status, 'NOERROR', 'still serving');
    t.ok(dns.lab.daemonPid !== undefined && process.kill(dns.lab.daemonPid, 0), 'cnmd still running');
  });
});

t.test('cnmd --dns: upstreams from the flag, search domains still from the host file', async (t) => {
  const dns = await DnsLab.start(t, { daemonArgs: ['--dns', '198.18.0.53'], resolvConf: 'search corp.test\nnameserver 127.0.0.1\n' });
  await dns.stub(t, { records: { 'which.test': [{ type: 'A', data: '192.0.2.103' }] } }, '198.18.0.53');
  await dns.cli('network', 'create', '--subnet', '10.53.0.0/24', 'n1');
  await dns.run('a', '--network', 'n1');
  await dns.run('plain');
  const resolv = async (sandbox: string): Promise<string> => (await dns.exec(sandbox, 'cat', '/etc/resolv.conf')).out;
  t.equal(await resolv('plain'), 'search corp.test\nnameserver 198.18.0.53\n');
  t.same(await dns.addresses('a', 'which.test'), ['192.0.2.103']);
  writeFileSync(dns.lab.resolvConf, 'search other.test\nnameserver 127.0.0.1\n');
  const expected = 'search other.test\nnameserver 198.18.0.53\n';
  t.equal(await eventually(() => resolv('plain'), (s) => s === expected), expected, 'new search domains, the same --dns upstream');
  t.equal(await resolv('a'), 'search other.test\nnameserver 127.0.0.11\noptions ndots:0\n');
});

t.test('cnmd --dns-max-inflight: queries beyond the cap get SERVFAIL at once', async (t) => {
  const dns = await DnsLab.start(t, { daemonArgs: ['--dns-max-inflight', '2'] });
  await dns.stub(t, { records: {}, delayMs: 1500 });
  await dns.cli('network', 'create', '--subnet', '10.54.0.0/24', 'n1');
  await dns.run('a', '--network', 'n1');
  const results = await Promise.all([1, 2, 3, 4, 5].map((i) => timed(() => dns.dig('a', `slow${i}.test`))));
  const servfail = results.filter(([r]) => r.status === 'SERVFAIL');
  t.equal(servfail.length, 3, results.map(([r, ms]) => `${r.status} ${ms} ms`).join(', '));
  t.ok(servfail.every(([r, ms]) => ms < 1000 && /too many queries in flight/.test(r.raw)), 'at once, saying why');
  t.equal(results.filter(([r]) => r.status === 'NXDOMAIN').length, 2, 'the two in flight get the upstream’s answer');
});
