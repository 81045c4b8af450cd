/**
 * 100,000 random and mutated UDP messages and 200 hostile TCP streams (bench/dns/fuzz-packets)
 * sent from inside a sandbox to the real cnmd's 127.0.0.11; afterwards the daemon still answers
 * local and forwarded names over UDP and TCP, nothing is left in flight, and it still runs.
 * `node dist/bench/dns/fuzz.js --minutes N` runs the same generator far longer.
 */
import t from 'tap';
import { fuzzClientScript } from '../../bench/dns/fuzz-packets';
import { DnsLab } from './dns-daemon-lab';
import { nodeIn } from './resolver-lab';

const UDP_MESSAGES = 100_000;
const TCP_CONNECTIONS = 200;

t.test('hostile traffic into the daemon, then normal service', async (t) => {
  const dns = await DnsLab.start(t);
  // The fuzzer's seed names (example.test and mutations of it) reach this upstream.
  await dns.stub(t, { records: { 'example.test': [{ type: 'A', data: '192.0.2.1' }] }, negativeTtl: 30 });
  await dns.cli('network', 'create', '--subnet', '10.71.0.0/24', 'dnet');
  for (const name of ['d1', 'D2', 'victim']) await dns.run(name, '--network', 'dnet', '--alias', 'web');
  const before = await dns.metrics();

  const seed = Number(process.env.CNM_FUZZ_SEED ?? Date.now() % 1e9);
  t.comment(`seed ${seed} (replay with CNM_FUZZ_SEED=${seed})`);
  const result = (await nodeIn(await dns.ns('victim'), fuzzClientScript(seed, UDP_MESSAGES, TCP_CONNECTIONS))) as Record<string, number>;
  t.equal(result.sent, UDP_MESSAGES);
  const handled = (m: string): number => [...m.matchAll(/^cnm_dns_(?:queries|dropped)_total(?:\{[^}]*\})? (\d+)$/gm)].reduce((n, x) => n + Number(x[1]), 0);
  const after = await dns.metrics();
  t.ok(handled(after.text) - handled(before.text) > UDP_MESSAGES / 2, `messages the resolver handled: ${handled(after.text) - handled(before.text)}; UDP replies: ${result.udpReplies}`);
  t.ok(result.tcpReplyBytes! > 0, `TCP reply bytes: ${result.tcpReplyBytes}`);
  t.ok(after.value('cnm_dns_queries_total{type="none",rcode="FORMERR",source="local"}') > 0, 'FORMERR answers given');

  const d1 = await dns.ip('d1', 'dnet');
  t.same(await dns.addresses('victim', 'd1'), [d1], 'a valid query is still answered');
  t.equal((await dns.dig('victim', '+tcp', 'web')).answers.length, 3, 'over TCP too');
  t.same(await dns.addresses('victim', 'example.test'), ['192.0.2.1'], 'forwarding still works');
  // Forwarded fuzz may wait up to the forwarding budget (3 tries of 800 ms).
  await new Promise((r) => setTimeout(r, 2500));
  t.equal((await dns.metrics()).value('cnm_dns_inflight'), 0, 'nothing left in flight');
  t.ok(dns.lab.daemonPid !== undefined && process.kill(dns.lab.daemonPid, 0), 'cnmd still running');
});
