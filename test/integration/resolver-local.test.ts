/** Local answers through real clients inside real sandbox namespaces. */
// Upstream stubs and the resolver's own upstream sockets live in this file's private namespace.
import '../helpers/private-netns';
import t from 'tap';
import { sampleState, type TestState } from '../unit/resolver-fixtures';
import { dig, getent, makeLab, nodeIn, type Lab } from './resolver-lab';

function labState(lab: Lab, state: TestState = sampleState()): TestState {
  return { ...state, sandboxes: state.sandboxes.map((s) => ({ ...s, nsPath: lab.ns(s.id) })) };
}

t.test('A, case, flags, TTL, EDNS, TCP, norecurse', async (t) => {
  const lab = makeLab(t, { ttl: 42 });
  await lab.resolver.update(labState(lab));
  const s1 = lab.ns('s1');

  const a = await dig(s1, 'd1');
  t.equal(a.status, 'NOERROR');
  t.same(a.answers, [{ name: 'd1.', ttl: 42, type: 'A', data: '10.50.0.2' }]);
  t.same(a.flags, ['qr', 'rd', 'ra'], 'qr rd ra, never aa');
  t.ok(a.opt, 'OPT echoed to an EDNS query');
  t.notOk((await dig(s1, '+noedns', 'd1')).opt, 'no OPT without EDNS');

  const mixed = await dig(s1, 'D1.DnEt.');
  t.same(mixed.answers.map((x) => [x.name, x.data]), [['D1.DnEt.', '10.50.0.2']], 'case echoed, qualified name');
  t.same((await dig(s1, 'aaaaaaaaaaaa')).answers.map((x) => x.data), ['10.50.0.2'], 'short id');
  t.same((await dig(s1, '+tcp', 'd1')).answers.map((x) => x.data), ['10.50.0.2'], 'TCP');
  t.same((await dig(s1, '+norecurse', 'd1')).flags, ['qr', 'ra'], 'rd mirrored');
});

t.test('isolation, first network wins, NODATA, PTR', async (t) => {
  const lab = makeLab(t);
  await lab.resolver.update(labState(lab));
  const [s1, s2, s3, s4] = ['s1', 's2', 's3', 's4'].map((s) => lab.ns(s)) as [string, string, string, string];

  t.same((await dig(s2, 'd2')).answers.map((x) => x.data), ['10.50.0.3'], 'two-network asker: its first network');
  t.same((await dig(s3, 'd2')).answers.map((x) => x.data), ['10.60.0.3'], 'the network shared with the asker');
  t.equal((await dig(s3, 'd1.dnet')).answers.length, 0, 'not on dnet: not answered locally');
  t.equal((await dig(s4, 'd1')).status, 'REFUSED', 'internal-only sandbox: other names refused, not forwarded');
  t.same((await dig(s4, 'i4')).answers.map((x) => x.data), ['10.70.0.2']);

  const aaaa = await dig(s1, 'd1', 'AAAA');
  t.equal(aaaa.status, 'NOERROR', 'AAAA of a v4-only name: NODATA');
  t.equal(aaaa.answers.length, 0);
  t.same((await dig(s1, 'd2', 'AAAA')).answers.map((x) => x.data), ['fd00::3']);
  const mx = await dig(s1, 'd1', 'MX');
  t.equal(mx.status, 'NOERROR');
  t.equal(mx.answers.length, 0);

  const ptr = await dig(s1, '-x', '10.50.0.2');
  t.same(ptr.answers.map((x) => [x.type, x.data]), [['PTR', 'd1.dnet.']]);
  t.same((await dig(s2, '-x', 'fd00::3')).answers.map((x) => x.data), ['d2.dnet.']);
  t.same((await dig(s3, '-x', '10.60.0.3')).answers.map((x) => x.data), ['d2.other.']);
  const ndots = await dig(s3, 'nosuchname');
  t.equal(ndots.status, 'NOERROR', 'ndots set: unknown single label answered empty');
  t.equal(ndots.answers.length, 0);
});

t.test('shared alias: every holder, order shuffled, truncation', async (t) => {
  const lab = makeLab(t);
  const state = labState(lab);
  state.networks.push({
    id: 'big',
    name: 'big',
    internal: false,
    endpoints: Array.from({ length: 40 }, (_, i) => ({ sandboxId: `b${i}`, names: [`b${i}`, 'many'], ipv4: `10.80.0.${i + 2}` })),
  });
  state.sandboxes.push({ id: 'asker', nsPath: lab.ns('asker'), networkIds: ['big'] });
  await lab.resolver.update(state);
  const asker = lab.ns('asker');

  const orders = new Set<string>();
  for (let i = 0; i < 8; i++) orders.add((await dig(lab.ns('s1'), 'web', '+short')).raw);
  t.ok(orders.size > 1, 'order changes between responses');
  t.same([...orders][0]!.trim().split('\n').sort(), ['10.50.0.2', '10.50.0.3']);

  const classic = await dig(asker, '+noedns', '+ignore', 'many');
  t.ok(classic.flags.includes('tc'), 'TC without EDNS');
  t.equal(classic.answers.length, Math.floor((512 - 12 - 10) / 16), 'whole records that fit 512 bytes');
  const edns = await dig(asker, '+bufsize=1232', 'many');
  t.equal(edns.answers.length, 40, 'all 40 within the EDNS size');
  t.notOk(edns.flags.includes('tc'));
  const small = await dig(asker, '+bufsize=600', '+ignore', 'many');
  t.ok(small.flags.includes('tc'), 'EDNS size honoured');
  t.equal(small.answers.length, Math.floor((600 - 12 - 10 - 11) / 16));
  const tcp = await dig(asker, '+noedns', '+tcp', 'many');
  t.equal(tcp.answers.length, 40, 'TCP carries all');
  const retried = await dig(asker, '+noedns', 'many');
  t.equal(retried.answers.length, 40, 'dig retries over TCP after TC');
});

t.test('updates show in the very next query', async (t) => {
  const lab = makeLab(t);
  const state = labState(lab);
  await lab.resolver.update(state);
  const s1 = lab.ns('s1');
  t.equal((await dig(s1, '-x', '10.50.0.3')).answers.length, 1);

  const dnet = state.networks[0]!;
  const without = { ...state, networks: [{ ...dnet, endpoints: dnet.endpoints.filter((e) => e.sandboxId !== 's2') }, ...state.networks.slice(1)] };
  await lab.resolver.update(without);
  t.not((await dig(s1, 'd2')).answers.map((x) => x.data).join(), '10.50.0.3', 'disconnected name gone');
  t.same((await dig(s1, 'web', '+short')).raw.trim(), '10.50.0.2', 'gone from the shared alias');
  t.equal((await dig(s1, '-x', '10.50.0.3')).answers.length, 0, 'PTR gone');

  const withAlias = {
    ...without,
    networks: [{ ...dnet, endpoints: [{ ...dnet.endpoints[0]!, names: [...dnet.endpoints[0]!.names, 'late'] }] }, ...without.networks.slice(1)],
  };
  await lab.resolver.update(withAlias);
  t.same((await dig(s1, 'late')).answers.map((x) => x.data), ['10.50.0.2'], 'new alias at once');

  const s2Gone = { ...withAlias, sandboxes: withAlias.sandboxes.filter((s) => s.id !== 's2') };
  await lab.resolver.update(s2Gone);
  t.equal((await dig(lab.ns('s2'), 'd1')).status, 'TIMEOUT', 'removed sandbox: listener closed');
});

t.test('glibc (getent) and dns2 as independent clients', async (t) => {
  const lab = makeLab(t);
  await lab.resolver.update(labState(lab));
  const s2 = lab.ns('s2');
  t.match(await getent(lab, s2, 'hosts', 'd1'), /^10\.50\.0\.2\s+d1$/);
  t.match(await getent(lab, s2, 'ahosts', 'd2'), /^fd00::3\s+STREAM d2\n[\s\S]*10\.50\.0\.3\s+STREAM/, 'getaddrinfo: AAAA and A');
  t.match(await getent(lab, s2, 'hosts', '10.50.0.2'), /^10\.50\.0\.2\s+d1\.dnet$/, 'PTR through gethostbyaddr');

  const dns2 = (await nodeIn(
    s2,
    `const { UDPClient, TCPClient } = require('dns2');
     (async () => {
       const udp = await UDPClient({ dns: '127.0.0.11', timeout: 3000 })('WEB', 'A');
       const tcp = await TCPClient({ dns: '127.0.0.11' })('d2.other', 'A');
       const ptr = await UDPClient({ dns: '127.0.0.11', timeout: 3000 })('3.0.50.10.in-addr.arpa', 'PTR');
       console.log(JSON.stringify({ udp: udp.answers.map((a) => a.address).sort(), udpName: udp.questions[0].name,
         tcp: tcp.answers.map((a) => a.address), ptr: ptr.answers.map((a) => a.domain) }));
     })();`,
  )) as Record<string, unknown>;
  t.same(dns2, { udp: ['10.50.0.2', '10.50.0.3'], udpName: 'WEB', tcp: ['10.60.0.3'], ptr: ['d2.dnet'] });
});

t.test('a sandbox whose namespace cannot be entered: update rejects, everything else applies', async (t) => {
  const lab = makeLab(t);
  const state = labState(lab);
  const broken = { ...state, sandboxes: [...state.sandboxes, { id: 'ghost', nsPath: `${lab.dir}/no-such-ns`, networkIds: ['n1'] }] };
  await t.rejects(lab.resolver.update(broken), /embedded DNS cannot listen in sandbox ghost/);
  t.same((await dig(lab.ns('s1'), 'd1')).answers.map((x) => x.data), ['10.50.0.2'], 'the others are served');
  const fixed = { ...state, sandboxes: [...state.sandboxes, { id: 'ghost', nsPath: lab.ns('ghost'), networkIds: ['n1'] }] };
  await lab.resolver.update(fixed);
  t.same((await dig(lab.ns('ghost'), 'd2')).answers.map((x) => x.data), ['10.50.0.3'], 'the next update retries it');
});
