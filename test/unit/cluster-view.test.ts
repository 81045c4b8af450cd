/** The cluster view: full reads and watch events merged by revision into one snapshot. */
import t from 'tap';
import type { ClusterEndpoint } from '../../src/store/cluster';
import { ClusterView, type KeyEvent } from '../../src/store/cluster-view';

const host = (id: string): { key: string; value: string } => ({ key: `hosts/${id}`, value: JSON.stringify({ id, advertise: `10.99.0.${id.length}` }) });
const net = (id: string): { key: string; value: string } => ({
  key: `networks/${id}`,
  value: JSON.stringify({ id, name: `name-${id}`, driver: 'overlay', scope: 'global', pools: [], options: {} }),
});
function ep(id: string, hostId: string, networkId = 'n1'): { key: string; value: string } {
  const e: ClusterEndpoint = { id, networkId, sandboxId: `s-${id}`, names: [id], ipv4: '10.0.0.1/24', ipv6: '', mac: '02:42:0a:00:00:01', hostId };
  return { key: `endpoints/${networkId}/${id}`, value: JSON.stringify(e) };
}
const put = (kv: { key: string; value: string }, revision: number): KeyEvent => ({ type: 'put', ...kv, revision: BigInt(revision) });
const del = (key: string, revision: number): KeyEvent => ({ type: 'delete', key, value: '', revision: BigInt(revision) });

t.test('a full read builds the snapshot; only live hosts endpoints on known networks show', async (t) => {
  const view = new ClusterView();
  t.ok(view.reset([host('a'), host('b'), net('n1'), ep('e1', 'a'), ep('e2', 'dead'), ep('e3', 'a', 'gone'), { key: 'addresses/n1/10.0.0.1', value: '{}' }], 10n));
  const snap = view.snapshot();
  t.same(snap.hosts.map((h) => h.id), ['a', 'b']);
  t.same(snap.networks.map((n) => n.id), ['n1']);
  t.same(snap.endpoints.map((e) => e.id), ['e1'], 'endpoints of a host without a lease or on a deleted network are hidden');
  t.equal(view.snapshot(), snap, 'cached until something changes');
  t.notOk(view.reset([host('a'), host('b'), net('n1'), ep('e1', 'a'), ep('e2', 'dead')], 11n), 'same content: no change reported');
});

t.test('watch events apply in revision order and replays are ignored', async (t) => {
  const view = new ClusterView();
  view.reset([host('a'), net('n1')], 5n);
  t.notOk(view.apply([put(ep('old', 'a'), 5)]), 'an event the full read already covered is ignored');
  t.ok(view.apply([put(ep('e1', 'a'), 6), put(host('b'), 6)]));
  t.same(view.snapshot().endpoints.map((e) => e.id), ['e1']);
  t.equal(view.appliedRevision, 6n);
  t.notOk(view.apply([put(ep('e1', 'a'), 7)]), 'identical value: no change');
  t.ok(view.apply([del('hosts/a', 8)]), 'host lease gone');
  t.same(view.snapshot().endpoints, [], "its endpoints disappear with it, even before their own delete events");
  t.ok(view.apply([del('endpoints/n1/e1', 8)]) === false, 'the endpoint delete is then no visible change');
  t.notOk(view.reset([host('a')], 7n), 'a read older than the applied revision is ignored');
  t.same(view.snapshot().hosts.map((h) => h.id), ['b']);
  t.ok(view.reset([host('a')], 2n, { rewound: true }), "unless etcd's revisions started over");
  t.same(view.snapshot().hosts.map((h) => h.id), ['a']);
  t.equal(view.appliedRevision, 2n);
});

t.test('malformed or foreign values are ignored', async (t) => {
  const view = new ClusterView();
  view.reset(
    [
      host('a'),
      { key: 'hosts/x', value: 'not json' },
      { key: 'hosts/y', value: JSON.stringify({ id: 'other', advertise: '1.2.3.4' }) },
      { key: 'networks/n2', value: JSON.stringify({ id: 'n2', name: 'x', driver: 'bridge', scope: 'local', pools: [], options: {} }) },
      net('n1'),
      { key: 'endpoints/n1/e9', value: JSON.stringify({ id: 'e9' }) },
      ep('e1', 'a'),
    ],
    3n,
  );
  const snap = view.snapshot();
  t.same(snap.hosts.map((h) => h.id), ['a']);
  t.same(snap.networks.map((n) => n.id), ['n1']);
  t.same(snap.endpoints.map((e) => e.id), ['e1']);
});
