/**
 * 100,000 hostile UDP messages and a stream of hostile TCP connections sent from inside a sandbox
 * to the real listeners; afterwards the resolver still answers local and forwarded names.
 * bench/dns/fuzz.ts runs the same for as long as one likes.
 */
// Upstream stubs and the resolver's own upstream sockets live in this file's private namespace.
import '../helpers/private-netns';
import t from 'tap';
import { sampleState } from '../unit/resolver-fixtures';
import { dig, makeLab, nodeIn } from './resolver-lab';
import { startStub } from './resolver-stub';
import { fuzzClientScript } from '../../bench/dns/fuzz-packets';

const UDP_MESSAGES = 100_000;
const TCP_CONNECTIONS = 200;

t.test('hostile traffic over real sockets, then normal service', async (t) => {
  const up = await startStub({ records: { 'example.test': [{ type: 'A', data: '192.0.2.1' }] } });
  t.teardown(() => up.close());
  const lab = makeLab(t, { upstreams: [up.spec], tryTimeoutMs: 300 });
  const state = sampleState();
  await lab.resolver.update({ ...state, sandboxes: state.sandboxes.map((s) => ({ ...s, nsPath: lab.ns(s.id) })) });

  const seed = Number(process.env.CNM_FUZZ_SEED ?? Date.now() % 1e9);
  t.comment(`seed ${seed}`);
  const result = (await nodeIn(lab.ns('s1'), fuzzClientScript(seed, UDP_MESSAGES, TCP_CONNECTIONS))) as Record<string, number>;
  t.equal(result.sent, UDP_MESSAGES);
  const before = lab.resolver.metrics();
  const seen = [...before.matchAll(/^cnm_dns_(?:queries|dropped)_total(?:\{[^}]*\})? (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
  t.ok(seen > UDP_MESSAGES / 2, `messages handled by the resolver: ${seen}; UDP replies received: ${result.udpReplies}`);
  t.ok(result.tcpReplyBytes! > 0, `TCP reply bytes: ${result.tcpReplyBytes}`);

  t.same((await dig(lab.ns('s1'), 'd1')).answers.map((a) => a.data), ['10.50.0.2'], 'local names still answered');
  t.same((await dig(lab.ns('s1'), '+tcp', 'web', '+short')).raw.trim().split('\n').sort(), ['10.50.0.2', '10.50.0.3'], 'TCP still served');
  t.same((await dig(lab.ns('s1'), 'example.test')).answers.map((a) => a.data), ['192.0.2.1'], 'forwarding still works');
  const inflight = /^cnm_dns_inflight (\d+)$/m.exec(lab.resolver.metrics())?.[1];
  t.comment(`in flight right after: ${inflight}`);
  await new Promise((r) => setTimeout(r, 1500));
  const metrics = lab.resolver.metrics();
  t.match(metrics, /^cnm_dns_inflight 0$/m, 'nothing left in flight once the forwarding budget has passed');
  t.match(metrics, /cnm_dns_queries_total\{type="none",rcode="FORMERR",source="local"\} \d+/);
});
