/**
 * EtcdClusterStore against a real three-member etcd cluster (Debian's etcd 3.4) running inside
 * this test's private network namespace: three stores play three hosts. Leases and host death,
 * network and address uniqueness under concurrency, watch snapshots, the leader killed, quorum
 * lost and back, a lease lost and re-attached.
 */
import '../helpers/private-netns';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { Etcd3 } from 'etcd3';
import type { NetworkRecord } from '../../src/controller/model';
import { CnmError } from '../../src/errors';
import { rejection } from '../helpers/errors';
import type { PoolConfig } from '../../src/ipam';
import type { ClusterEndpoint, ClusterSnapshot } from '../../src/store/cluster';
import { EtcdClusterStore } from '../../src/store/etcd-cluster';
import { EtcdMembers } from '../helpers/etcd-members';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnmt-store-'));
const PREFIX = `/cnmt-${process.pid}/`;
const TIMEOUT_MS = 5000;
const LEASE_TTL = 4;
let members: EtcdMembers;
const stores: EtcdClusterStore[] = [];

function store(hostId: string, advertise: string, opts: { timeoutMs?: number } = {}): EtcdClusterStore {
  const s = new EtcdClusterStore({ url: members.url, advertise, hostId, prefix: PREFIX, timeoutMs: opts.timeoutMs ?? TIMEOUT_MS, leaseTtlSec: LEASE_TTL });
  stores.push(s);
  return s;
}

function network(id: string, name: string, subnet: string, options: Record<string, string> = {}): NetworkRecord {
  return {
    id,
    name,
    driver: 'overlay',
    scope: 'global',
    created: new Date().toISOString(),
    enableIPv6: false,
    internal: false,
    attachable: true,
    ipamDriver: 'default',
    ipamOptions: null,
    pools: [pool(subnet)],
    options,
    labels: {},
    predefined: false,
  };
}

function pool(subnet: string): PoolConfig {
  return { family: 4, subnet, gatewayExplicit: false, auxAddresses: {}, auto: false };
}

function endpoint(id: string, networkId: string, hostId: string, ipv4: string, names: string[]): ClusterEndpoint {
  return { id, networkId, sandboxId: `sb-${id}`, names, ipv4, ipv6: '', mac: '02:42:0a:00:00:01', hostId };
}

/** Resolves when `store`'s snapshot satisfies `pred`; returns the milliseconds it took. */
async function until(s: EtcdClusterStore, pred: (snap: ClusterSnapshot) => boolean, timeoutMs = 10000): Promise<number> {
  const start = Date.now();
  while (!pred(s.snapshot())) {
    if (Date.now() - start > timeoutMs) throw new Error(`snapshot condition not met after ${timeoutMs} ms: ${JSON.stringify(s.snapshot())}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - start;
}

t.before(async () => {
  members = await EtcdMembers.start(dir, [
    { name: 'e1', address: '127.0.0.11' },
    { name: 'e2', address: '127.0.0.12' },
    { name: 'e3', address: '127.0.0.13' },
  ]);
});

t.teardown(async () => {
  for (const s of stores) await s.close({ revoke: true });
  await members?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

t.test('bad flags are refused before anything connects', async (t) => {
  t.throws(() => new EtcdClusterStore({ url: 'http://127.0.0.11:2379', advertise: '10.0.0.1', hostId: 'h' }), /use etcd:\/\/HOST:PORT/);
  t.throws(() => new EtcdClusterStore({ url: 'etcd://127.0.0.11', advertise: '10.0.0.1', hostId: 'h' }), /invalid etcd member "127.0.0.11"/);
  t.throws(() => new EtcdClusterStore({ url: 'etcd://127.0.0.11:2379', advertise: 'eth0', hostId: 'h' }), /invalid --cluster-advertise "eth0"/);
});

t.test('three hosts see each other, networks and endpoints through their watches', async (t) => {
  const [a, b, c] = [store('host-a', '10.99.0.11'), store('host-b', '10.99.0.12'), store('host-c', '10.99.0.13')];
  await Promise.all([a.start(), b.start(), c.start()]);
  await until(a, (s) => s.hosts.length === 3);
  t.same(a.snapshot().hosts, [
    { id: 'host-a', advertise: '10.99.0.11' },
    { id: 'host-b', advertise: '10.99.0.12' },
    { id: 'host-c', advertise: '10.99.0.13' },
  ]);

  const changes: ClusterSnapshot[] = [];
  c.onChange((snap) => changes.push(snap));
  const stored = await a.createNetwork(network('n1', 'ov1', '10.10.0.0/24'));
  t.equal(stored.options['com.docker.network.driver.overlay.vxlanid_list'], '4096', 'first VXLAN id is 4096, kept in the stored options');
  const ms = await until(c, (s) => s.networks.some((n) => n.id === 'n1'));
  t.ok(changes.length > 0, 'onChange called');
  t.same(c.snapshot().networks[0], stored, 'other hosts see the record as stored');
  t.comment(`network visible on another host after ${ms} ms`);

  const second = await b.createNetwork(network('n2', 'ov2', '10.20.0.0/24'));
  t.equal(second.options['com.docker.network.driver.overlay.vxlanid_list'], '4097');
  t.same((await c.usedSubnets()).sort(), ['10.10.0.0/24', '10.20.0.0/24']);

  const dupName = await rejection(c.createNetwork(network('n3', 'ov1', '10.30.0.0/24')));
  t.equal(dupName.kind, 'conflict');
  t.equal(dupName.message, 'network with name ov1 already exists');
  const overlap = await rejection(c.createNetwork(network('n3', 'ov3', '10.10.0.128/25')));
  t.equal(overlap.kind, 'forbidden');
  t.equal(overlap.message, 'Pool overlaps with other one on this address space');
  const dupVni = await rejection(c.createNetwork(network('n3', 'ov3', '10.30.0.0/24', { 'com.docker.network.driver.overlay.vxlanid_list': '4097' })));
  t.equal(dupVni.kind, 'forbidden');
  t.match(dupVni.message, /VXLAN id 4097 is already used/);
  const asked = await c.createNetwork(network('n3', 'ov3', '10.30.0.0/24', { 'com.docker.network.driver.overlay.vxlanid_list': '5000' }));
  t.equal(asked.options['com.docker.network.driver.overlay.vxlanid_list'], '5000');

  // Endpoints: published by one host, seen by the others, withdrawn.
  const address = await b.requestAddress('n1', pool('10.10.0.0/24'));
  t.equal(address, '10.10.0.1', 'lowest free address (no gateway on overlay pools)');
  await b.publishEndpoint(endpoint('e1', 'n1', 'host-b', `${address}/24`, ['web', 'www']));
  await until(a, (s) => s.endpoints.some((e) => e.id === 'e1'));
  t.same(a.snapshot().endpoints.find((e) => e.id === 'e1'), endpoint('e1', 'n1', 'host-b', '10.10.0.1/24', ['web', 'www']));
  const busy = await rejection(a.deleteNetwork('n1'));
  t.equal(busy.kind, 'forbidden');
  t.equal(busy.message, 'error while removing network: network ov1 id n1 has active endpoints');
  const missing = await rejection(b.publishEndpoint(endpoint('e9', 'nope', 'host-b', '10.0.0.9/24', ['x'])));
  t.equal(missing.kind, 'notFound');
  const missingAddr = await rejection(b.requestAddress('nope', pool('10.40.0.0/24')));
  t.equal(missingAddr.kind, 'notFound');

  await b.withdrawEndpoint('n1', 'e1');
  await until(a, (s) => !s.endpoints.some((e) => e.id === 'e1'));
  await b.releaseAddress('n1', `${address}/24`);
  t.equal(await a.requestAddress('n1', pool('10.10.0.0/24'), '10.10.0.1'), '10.10.0.1', 'a released address can be taken by another host');
  const taken = await rejection(c.requestAddress('n1', pool('10.10.0.0/24'), '10.10.0.1'));
  t.equal(taken.kind, 'forbidden');
  t.equal(taken.message, 'Address already in use');
  await b.releaseAddress('n1', '10.10.0.1');
  t.equal((await rejection(c.requestAddress('n1', pool('10.10.0.0/24'), '10.10.0.1'))).message, 'Address already in use', "a host cannot release another host's address");
  await a.releaseAddress('n1', '10.10.0.1');

  await a.deleteNetwork('n3');
  await a.deleteNetwork('n3');
  await until(c, (s) => !s.networks.some((n) => n.id === 'n3'));
  t.pass('delete is idempotent and seen everywhere');
});

t.test('50 concurrent address requests spread over three hosts get 50 different addresses', async (t) => {
  const [a, b, c] = stores;
  const hosts = [a!, b!, c!];
  await a!.createNetwork(network('n50', 'ov50', '10.50.0.0/24'));
  const start = Date.now();
  const got = await Promise.all(Array.from({ length: 50 }, (_, i) => hosts[i % 3]!.requestAddress('n50', pool('10.50.0.0/24'))));
  const ms = Date.now() - start;
  t.equal(new Set(got).size, 50, 'no duplicates');
  t.same(
    [...got].sort((x, y) => Number(x.split('.')[3]) - Number(y.split('.')[3])),
    Array.from({ length: 50 }, (_, i) => `10.50.0.${i + 1}`),
    'the 50 lowest addresses',
  );
  t.comment(`50 concurrent reservations in ${ms} ms`);
  const etcd = new Etcd3({ hosts: ['127.0.0.11:2379'] });
  t.equal(await etcd.namespace(PREFIX).getAll().prefix('addresses/n50/').count(), 50, '50 keys in etcd');
  etcd.close();
  // Network create races: the same name from three hosts at once, one wins.
  const results = await Promise.allSettled(hosts.map((h, i) => h.createNetwork(network(`race${i}`, 'racer', `10.6${i}.0.0/24`))));
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 1, 'one create of a name wins');
  t.same(
    results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => (r.reason as CnmError).kind),
    ['conflict', 'conflict'],
  );
});

t.test('a dead host: its endpoints, addresses and host record vanish from the others', async (t) => {
  const [a] = stores;
  const d = store('host-d', '10.99.0.14');
  await d.start();
  await d.createNetwork(network('nd', 'ovd', '10.70.0.0/24'));
  const addr = await d.requestAddress('nd', pool('10.70.0.0/24'), '10.70.0.7');
  await d.publishEndpoint(endpoint('ed', 'nd', 'host-d', `${addr}/24`, ['dead']));
  await until(a!, (s) => s.endpoints.some((e) => e.id === 'ed') && s.hosts.some((h) => h.id === 'host-d'));
  // No revoke, no more keepalives: what etcd sees of a host killed with SIGKILL.
  const died = Date.now();
  await d.close({ revoke: false });
  await until(a!, (s) => !s.endpoints.some((e) => e.id === 'ed'), 15000);
  const gone = Date.now() - died;
  t.notOk(a!.snapshot().hosts.some((h) => h.id === 'host-d'), 'host record gone');
  t.ok(gone <= (LEASE_TTL + 2) * 1000, `endpoint gone from another host after ${gone} ms (lease TTL ${LEASE_TTL} s)`);
  t.equal(await a!.requestAddress('nd', pool('10.70.0.0/24'), '10.70.0.7'), '10.70.0.7', "the dead host's address is free again");
  t.comment(`dead host's endpoint vanished after ${gone} ms`);
});

t.test('a restarted host re-claims its addresses; those taken meanwhile are reported', async (t) => {
  const [a] = stores;
  const e1 = store('host-e', '10.99.0.15');
  await e1.start();
  await e1.createNetwork(network('ne', 'ove', '10.80.0.0/24'));
  const mine = [await e1.requestAddress('ne', pool('10.80.0.0/24')), await e1.requestAddress('ne', pool('10.80.0.0/24'))];
  // A crash and a quick restart: the old lease still holds the addresses when the new one claims them.
  await e1.close({ revoke: false });
  const e2 = store('host-e', '10.99.0.15');
  await e2.start();
  t.same(await e2.reclaimAddresses('ne', mine.map((m) => `${m}/24`)), [], 'both re-claimed under the new lease');
  await new Promise((r) => setTimeout(r, (LEASE_TTL + 1) * 1000));
  t.equal((await rejection(a!.requestAddress('ne', pool('10.80.0.0/24'), mine[0]))).message, 'Address already in use', 'still held after the old lease expired');
  // A host that stayed away: another host took one of its addresses meanwhile.
  await e2.close({ revoke: true });
  const stolen = await a!.requestAddress('ne', pool('10.80.0.0/24'), mine[1]);
  const e3 = store('host-e', '10.99.0.15');
  await e3.start();
  t.same(await e3.reclaimAddresses('ne', mine.map((m) => `${m}/24`)), [`${mine[1]}/24`], 'only the taken one is reported');
  t.equal((await rejection(a!.requestAddress('ne', pool('10.80.0.0/24'), mine[0]))).message, 'Address already in use', 'the other is held again');
  await a!.releaseAddress('ne', stolen);
});

t.test('a lease etcd dropped is replaced and everything re-attached', async (t) => {
  const [a, b] = stores;
  await b!.createNetwork(network('nl', 'ovl', '10.90.0.0/24'));
  const addr = await b!.requestAddress('nl', pool('10.90.0.0/24'));
  await b!.publishEndpoint(endpoint('el', 'nl', 'host-b', `${addr}/24`, ['lease']));
  await until(a!, (s) => s.endpoints.some((e) => e.id === 'el'));
  const etcd = new Etcd3({ hosts: ['127.0.0.11:2379'] });
  const hostKv = (await etcd.namespace(PREFIX).get('hosts/host-b').exec()).kvs[0]!;
  await etcd.leaseClient.leaseRevoke({ ID: hostKv.lease });
  await until(a!, (s) => !s.hosts.some((h) => h.id === 'host-b'));
  const back = await until(a!, (s) => s.hosts.some((h) => h.id === 'host-b') && s.endpoints.some((e) => e.id === 'el'));
  t.comment(`host-b re-published ${back} ms after its lease was revoked`);
  t.equal((await etcd.namespace(PREFIX).get(`addresses/nl/${addr}`).exec()).kvs.length, 1, 'its address is held again');
  etcd.close();
});

t.test('the etcd leader killed: no operation is lost, the watch goes on', async (t) => {
  const [a, b, c] = stores;
  await a!.createNetwork(network('nk', 'ovk', '10.100.0.0/24'));
  const leader = await members.leader();
  t.ok(leader, `leader is ${leader}`);
  const ops: Promise<number>[] = [];
  const latencies: number[] = [];
  let stop = false;
  const hosts = [a!, b!, c!];
  const worker = async (h: EtcdClusterStore, n: number): Promise<number> => {
    let done = 0;
    for (let i = 0; !stop; i++) {
      const start = Date.now();
      const address = await h.requestAddress('nk', pool('10.100.0.0/24'));
      await h.publishEndpoint(endpoint(`k${n}-${i}`, 'nk', h.host.id, `${address}/24`, [`k${n}-${i}`]));
      latencies.push(Date.now() - start);
      done++;
      await new Promise((r) => setTimeout(r, 20));
    }
    return done;
  };
  for (const [n, h] of hosts.entries()) ops.push(worker(h, n));
  await new Promise((r) => setTimeout(r, 300));
  await members.kill(leader!);
  await new Promise((r) => setTimeout(r, 2500));
  stop = true;
  const counts = await Promise.all(ops);
  const total = counts.reduce((x, y) => x + y, 0);
  t.ok(total > 0, `${total} reservations+publishes, none failed`);
  t.comment(`slowest operation during the leader change: ${Math.max(...latencies)} ms; new leader ${await members.leader()}`);
  await until(c!, (s) => s.endpoints.filter((e) => e.networkId === 'nk').length === total);
  const ips = c!.snapshot().endpoints.filter((e) => e.networkId === 'nk').map((e) => e.ipv4);
  t.equal(new Set(ips).size, total, 'every endpoint seen by a watch, all addresses distinct');
  members.restart(leader!);
  await members.waitHealthy(20000);
});

t.test('quorum lost: calls fail within the deadline with a clear error, and work again after', async (t) => {
  const [a, b] = stores;
  const before = a!.snapshot();
  const victims = members.names.slice(0, 2);
  for (const v of victims) await members.kill(v);
  const start = Date.now();
  const err = await rejection(a!.requestAddress('n1', pool('10.10.0.0/24')));
  const took = Date.now() - start;
  t.equal(err.kind, 'unavailable');
  t.match(err.message, /^cluster store unavailable: could not reserve an address on network ov1 within 5 s/);
  t.ok(took >= TIMEOUT_MS - 200 && took <= TIMEOUT_MS + 1000, `failed after ${took} ms (deadline ${TIMEOUT_MS} ms; timers run late on a loaded machine)`);
  const err2 = await rejection(b!.createNetwork(network('nq', 'ovq', '10.110.0.0/24')));
  t.equal(err2.kind, 'unavailable');
  t.same(a!.snapshot(), before, 'the last snapshot stays readable');
  // A daemon starting now: its start fails, and is tried again later (as cnmd does).
  const late = store('host-late', '10.99.0.16');
  const startErr = await rejection(late.start());
  t.equal(startErr.kind, 'unavailable');
  t.match(startErr.message, /^cluster store unavailable: could not connect to the cluster store within 5 s/);

  const outage = Date.now();
  for (const v of victims) members.restart(v);
  let recovered = 0;
  for (;;) {
    try {
      await b!.createNetwork(network('nq', 'ovq', '10.110.0.0/24'));
      recovered = Date.now() - outage;
      break;
    } catch (e) {
      if (!(e instanceof CnmError) || e.kind !== 'unavailable' || Date.now() - outage > 30000) throw e;
    }
  }
  t.comment(`operations succeed again ${recovered} ms after the members restart`);
  await until(a!, (s) => s.networks.some((n) => n.id === 'nq'));
  t.ok(a!.snapshot().hosts.some((h) => h.id === 'host-b'), 'leases survived the outage');
  await Promise.all([late.start(), late.start()]);
  await until(a!, (s) => s.hosts.some((h) => h.id === 'host-late'));
  await until(late, (s) => s.networks.some((n) => n.id === 'nq'));
  t.pass('a start retried after the outage succeeds, concurrent calls share it');
  const outageMs = Date.now() - outage;
  t.comment(`other hosts see changes again ${outageMs} ms after the restart`);
});

t.test("etcd's data replaced by an empty cluster: hosts re-register, the view follows the new revisions", async (t) => {
  const [a, b] = stores;
  t.ok(a!.snapshot().networks.length > 0, 'networks before');
  await members.recreate();
  await until(a!, (s) => s.networks.length === 0 && ['host-a', 'host-b'].every((id) => s.hosts.some((h) => h.id === id)), 20000);
  t.pass('the empty store is seen, the live hosts took new leases');
  await b!.createNetwork(network('nr', 'ovr', '10.120.0.0/24'));
  const ms = await until(a!, (s) => s.networks.some((n) => n.id === 'nr'));
  t.comment(`a network created after the wipe is seen by another host after ${ms} ms`);
});
