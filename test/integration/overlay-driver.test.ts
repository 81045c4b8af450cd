/**
 * The overlay driver on its own, against real kernel objects: two (then three) "host"
 * namespaces on an underlay bridge, one driver per host called directly, sandboxes joined on
 * each, peer lists handed over as the controller would. Pings cross the VXLAN both ways; the
 * forwarding entries follow the peer lists exactly; half-made states, repeated calls and
 * start-up reconciliation.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { inNs as inNamespace } from '../helpers/lab';
import type { DriverEndpoint, DriverNetwork, DriverSandbox, RemotePeer } from '../../src/drivers/api';
import { OverlayDriver } from '../../src/drivers/overlay/driver';
import { bridgeName, hostVethName, ownerTag, vxlanName } from '../../src/drivers/overlay/options';
import { rejection } from '../helpers/errors';
import { linkReaper } from '../../src/os/link-reaper';
import { Rtnl } from '../../src/os/links';
import { createNetns, deleteNetns } from '../../src/os/native';

const prefix = `cnmt${crypto.randomBytes(3).toString('hex')}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
const namespaces: string[] = [];

function newNs(name: string): string {
  const p = path.join(dir, name);
  createNetns(p);
  namespaces.push(p);
  return p;
}

const inNs = (ns: string, ...cmd: string[]): Promise<string> => inNamespace(ns, cmd);

async function pings(from: string, to: string, opts: { size?: number; count?: number } = {}): Promise<boolean> {
  const args = ['ping', '-c', String(opts.count ?? 1), '-W', '1', ...(opts.size ? ['-M', 'do', '-s', String(opts.size)] : []), to];
  return inNs(from, ...args).then(
    () => true,
    () => false,
  );
}

/** `bridge fdb show dev DEV` lines with a remote VTEP, as "mac dst": the kernel's view, not the driver's. */
async function fdb(host: string, dev: string): Promise<string[]> {
  const out = await inNs(host, 'bridge', 'fdb', 'show', 'dev', dev);
  return out
    .split('\n')
    .map((l) => /^([0-9a-f:]{17}) dst (\S+) self permanent/.exec(l.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]} ${m[2]}`)
    .sort();
}

async function linkNames(ns: string): Promise<Set<string>> {
  return new Set((await Rtnl.in(ns, (nl) => nl.listLinks())).map((l) => l.name));
}

function overlay(id: string, vni: number, extra: Record<string, string> = {}): DriverNetwork {
  return { id, name: `net-${id.slice(0, 4)}`, options: { 'com.docker.network.driver.overlay.vxlanid_list': String(vni), ...extra }, pools: [], internal: false, ipv6: false };
}

interface Sandbox {
  sb: DriverSandbox;
  ep: DriverEndpoint;
  ip: string;
  vtep: string;
}

let seq = 0;
function sandbox(network: DriverNetwork, ip: string, vtep: string): Sandbox {
  const id = crypto.randomBytes(32).toString('hex');
  const nsPath = newNs(`sb${++seq}`);
  const mac = `02:42:${ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0')).join(':')}`;
  return { sb: { id, nsPath }, ep: { id, networkId: network.id, ifName: 'eth0', mac, ipv4: `${ip}/24`, driverOptions: {} }, ip, vtep };
}

/** What the controller does after join: the address on the interface, up. */
async function configure(s: Sandbox): Promise<void> {
  await inNs(s.sb.nsPath, 'ip', 'addr', 'add', `${s.ip}/24`, 'dev', 'eth0');
  await inNs(s.sb.nsPath, 'ip', 'link', 'set', 'eth0', 'up');
  await inNs(s.sb.nsPath, 'ip', 'link', 'set', 'lo', 'up');
}

const peer = (s: Sandbox): RemotePeer => ({ endpointId: s.ep.id, mac: s.ep.mac, ipv4: s.ep.ipv4!, vtep: s.vtep });

// The underlay: a bridge in its own namespace, one veth to each host (10.98.0.1-3).
const underlay = newNs('underlay');
const hosts = [1, 2, 3].map((i) => ({ ns: newNs(`host${i}`), vtep: `10.98.0.${i}` }));
const [h1, h2, h3] = hosts as [(typeof hosts)[0], (typeof hosts)[0], (typeof hosts)[0]];
const d1 = new OverlayDriver(h1.vtep, h1.ns);
const d2 = new OverlayDriver(h2.vtep, h2.ns);
const d3 = new OverlayDriver(h3.vtep, h3.ns);

t.before(async () => {
  await inNs(underlay, 'ip', 'link', 'add', 'ul', 'type', 'bridge');
  await inNs(underlay, 'ip', 'link', 'set', 'ul', 'up');
  for (const [i, h] of hosts.entries()) {
    await Rtnl.in(underlay, async (nl) => {
      await nl.createVeth(`u${i}`, { name: 'eth0', nsPath: h.ns });
      const port = await nl.requireLink(`u${i}`);
      await nl.setMaster(port.index, (await nl.requireLink('ul')).index);
      await nl.setUp(port.index);
    });
    await inNs(h.ns, 'ip', 'addr', 'add', `${h.vtep}/24`, 'dev', 'eth0');
    await inNs(h.ns, 'ip', 'link', 'set', 'eth0', 'up');
    await inNs(h.ns, 'ip', 'link', 'set', 'lo', 'up');
  }
});

t.teardown(async () => {
  await linkReaper.close();
  for (const ns of namespaces.reverse()) deleteNetns(ns);
  fs.rmSync(dir, { recursive: true, force: true });
});

t.test('validateOptions and the driver constants', async (t) => {
  t.equal(d1.scope, 'global');
  t.equal(d1.needsGateway, true);
  t.equal(d1.needsGatewayBridge, true);
  t.equal(d1.serviceDiscovery, true);
  t.doesNotThrow(() => d1.validateOptions({}));
  t.throws(() => d1.validateOptions({ encrypted: '' }), /encrypted overlay networks are not supported/);
  t.throws(() => d1.validateOptions({ parent: 'eth0' }), /unknown option "parent" for driver overlay/);
});

t.test('sandboxes on two hosts reach each other over VXLAN, with forwarding entries from the peer lists', async (t) => {
  const net = overlay(crypto.randomBytes(32).toString('hex'), 4200);
  await d1.createNetwork(net);
  await d2.createNetwork(net);
  t.notOk((await linkNames(h1.ns)).has(bridgeName(net)), 'no data plane before a sandbox joins');

  const a = sandbox(net, '10.200.0.2', h1.vtep);
  const b = sandbox(net, '10.200.0.3', h2.vtep);
  const c = sandbox(net, '10.200.0.4', h2.vtep);
  // The peer list may come before the first join: it is kept and programmed then.
  await d1.setPeers(net, [peer(b)]);
  t.same(await d1.join(net, a.ep, a.sb), {}, 'no gateway: the default route goes through the gateway bridge');
  await d2.join(net, b.ep, b.sb);
  await d2.setPeers(net, [peer(a)]);
  await configure(a);
  await configure(b);

  t.same(await fdb(h1.ns, vxlanName(net)), [`00:00:00:00:00:00 ${h2.vtep}`, `${b.ep.mac} ${h2.vtep}`]);
  t.same(await fdb(h2.ns, vxlanName(net)), [`00:00:00:00:00:00 ${h1.vtep}`, `${a.ep.mac} ${h1.vtep}`]);
  t.ok(await pings(a.sb.nsPath, b.ip, { count: 2 }), 'host1 -> host2');
  t.ok(await pings(b.sb.nsPath, a.ip, { count: 2 }), 'host2 -> host1');

  const details = await inNs(h1.ns, 'ip', '-d', 'link', 'show', vxlanName(net));
  t.match(details, /mtu 1450/);
  t.match(details, new RegExp(`vxlan id 4200 local ${h1.vtep.replace(/\./g, '\\.')} .*dstport 4789 nolearning`));
  t.match(details, new RegExp(`master ${bridgeName(net)}`));
  t.match(details, new RegExp(`alias ${ownerTag(net.id)}`));
  t.match(await inNs(a.sb.nsPath, 'ip', 'link', 'show', 'eth0'), new RegExp(`mtu 1450 .*\\n.*link/ether ${a.ep.mac}`));
  t.match(await inNs(h1.ns, 'ip', 'link', 'show', bridgeName(net)), /mtu 1450/);
  t.equal((await inNs(h1.ns, 'ip', '-6', 'addr', 'show', 'dev', bridgeName(net))).trim(), '', 'the host has no address on the overlay');
  t.ok(await pings(a.sb.nsPath, b.ip, { size: 1422 }), 'a full 1450-byte packet crosses');
  t.notOk(await pings(a.sb.nsPath, b.ip, { size: 1423 }), 'one byte more does not fit the overlay MTU');

  // A second sandbox on host2: one more unicast entry on host1, still one flood entry.
  await d2.join(net, c.ep, c.sb);
  await configure(c);
  await d1.setPeers(net, [peer(b), peer(c)]);
  await d2.setPeers(net, [peer(a)]);
  t.same(await fdb(h1.ns, vxlanName(net)), [`00:00:00:00:00:00 ${h2.vtep}`, `${b.ep.mac} ${h2.vtep}`, `${c.ep.mac} ${h2.vtep}`].sort());
  t.ok(await pings(a.sb.nsPath, c.ip), 'host1 -> second sandbox on host2');
  t.ok(await pings(c.sb.nsPath, b.ip), 'same host, through the bridge');

  // The lists shrink: entries go, exactly.
  await d1.setPeers(net, [peer(b)]);
  t.same(await fdb(h1.ns, vxlanName(net)), [`00:00:00:00:00:00 ${h2.vtep}`, `${b.ep.mac} ${h2.vtep}`]);
  await d1.setPeers(net, []);
  t.same(await fdb(h1.ns, vxlanName(net)), [], 'no peers, no entries');
  await inNs(a.sb.nsPath, 'ip', 'neigh', 'flush', 'all');
  t.notOk(await pings(a.sb.nsPath, b.ip), 'without entries nothing crosses (no learning, no multicast)');
  await d1.setPeers(net, [peer(b), peer(c)]);
  t.ok(await pings(a.sb.nsPath, b.ip), 'back with the entries');

  // A MAC that moved to another host: its single entry is replaced, not doubled.
  await d1.setPeers(net, [{ ...peer(b), vtep: '10.98.0.9' }, peer(c)]);
  t.same(await fdb(h1.ns, vxlanName(net)), [`00:00:00:00:00:00 10.98.0.9`, `00:00:00:00:00:00 ${h2.vtep}`, `${b.ep.mac} 10.98.0.9`, `${c.ep.mac} ${h2.vtep}`].sort());
  await d1.setPeers(net, [peer(b), peer(c), { ...peer(a), vtep: h1.vtep }]);
  t.same(await fdb(h1.ns, vxlanName(net)), [`00:00:00:00:00:00 ${h2.vtep}`, `${b.ep.mac} ${h2.vtep}`, `${c.ep.mac} ${h2.vtep}`].sort(), "this host's own endpoints are ignored");

  // Leaving: the last local endpoint takes the data plane with it; repeated calls are fine.
  await d2.leave(net, c.ep, c.sb);
  t.ok((await linkNames(h2.ns)).has(bridgeName(net)), 'host2 still has a sandbox');
  await d2.leave(net, b.ep, b.sb);
  await d2.leave(net, b.ep, b.sb);
  const left = await linkNames(h2.ns);
  t.notOk(left.has(bridgeName(net)) || left.has(vxlanName(net)) || left.has(hostVethName(b.ep.id)), 'host2: bridge, VXLAN device and veths gone');
  t.notOk((await linkNames(b.sb.nsPath)).has('eth0'), "the sandbox's interface went with its veth");
  await d1.deleteNetwork(net);
  await d1.deleteNetwork(net);
  t.notOk((await linkNames(h1.ns)).has(bridgeName(net)), 'deleteNetwork removes a data plane still in use locally');
  await d1.leave(net, a.ep, a.sb);
});

t.test('three hosts: ARP broadcasts are replicated to each remote host', async (t) => {
  const net = overlay(crypto.randomBytes(32).toString('hex'), 4201);
  const s = [sandbox(net, '10.201.0.2', h1.vtep), sandbox(net, '10.201.0.3', h2.vtep), sandbox(net, '10.201.0.4', h3.vtep)];
  const drivers = [d1, d2, d3];
  for (const [i, x] of s.entries()) {
    await drivers[i]!.join(net, x.ep, x.sb);
    await configure(x);
  }
  for (const [i, d] of drivers.entries()) await d.setPeers(net, s.filter((_, j) => j !== i).map(peer));
  t.same(await fdb(h1.ns, vxlanName(net)), [`00:00:00:00:00:00 ${h2.vtep}`, `00:00:00:00:00:00 ${h3.vtep}`, `${s[1]!.ep.mac} ${h2.vtep}`, `${s[2]!.ep.mac} ${h3.vtep}`].sort());
  for (const from of s) for (const to of s) if (from !== to) t.ok(await pings(from.sb.nsPath, to.ip), `${from.ip} -> ${to.ip}`);
  for (const [i, d] of drivers.entries()) await d.leave(net, s[i]!.ep, s[i]!.sb);
  for (const h of hosts) t.notOk((await linkNames(h.ns)).has(bridgeName(net)), 'gone everywhere');
});

t.test('half-made states, foreign devices, reconcile', async (t) => {
  const net = overlay(crypto.randomBytes(32).toString('hex'), 4202);
  // A crash right after the bridge was made (before its tag and the VXLAN device): join re-uses it.
  await Rtnl.in(h1.ns, (nl) => nl.createBridge(bridgeName(net)));
  const a = sandbox(net, '10.202.0.2', h1.vtep);
  await d1.join(net, a.ep, a.sb);
  const links = await Rtnl.in(h1.ns, (nl) => nl.listLinks());
  const br = links.find((l) => l.name === bridgeName(net))!;
  t.equal(br.alias, ownerTag(net.id), 'the untagged bridge was adopted and tagged');
  t.equal(links.find((l) => l.name === vxlanName(net))?.master, br.index);

  // deleteNetwork of a half-made data plane (VXLAN device only).
  const half = overlay(crypto.randomBytes(32).toString('hex'), 4203);
  await Rtnl.in(h1.ns, (nl) => nl.createVxlan(vxlanName(half), { vni: 4203, local: h1.vtep }));
  await d1.deleteNetwork(half);
  t.notOk((await linkNames(h1.ns)).has(vxlanName(half)));

  // Someone else's device with the bridge's name: a clear error, left alone, nothing else made.
  const foreign = overlay(crypto.randomBytes(32).toString('hex'), 4204);
  await inNs(h1.ns, 'ip', 'link', 'add', bridgeName(foreign), 'type', 'dummy').catch(async () => {
    await Rtnl.in(h1.ns, (nl) => nl.createVxlan(bridgeName(foreign), { vni: 9 }));
  });
  const b = sandbox(foreign, '10.204.0.2', h1.vtep);
  const err = await rejection(d1.join(foreign, b.ep, b.sb));
  t.equal(err.kind, 'invalid');
  t.match(err.message, new RegExp(`device ${bridgeName(foreign)} exists and is not cnm's bridge`));
  const after = await linkNames(h1.ns);
  t.ok(after.has(bridgeName(foreign)), 'the foreign device is untouched');
  t.notOk(after.has(vxlanName(foreign)) || after.has(hostVethName(b.ep.id)), 'nothing of the failed join is left');
  await d1.deleteNetwork(foreign).catch(() => undefined);
  t.ok((await linkNames(h1.ns)).has(bridgeName(foreign)), 'deleteNetwork does not touch it either');
  await linkReaper.delete(bridgeName(foreign), h1.ns);

  // A network with no VXLAN id yet is a controller bug: said so.
  const noVni = { ...net, id: crypto.randomBytes(32).toString('hex'), options: {} };
  t.equal((await rejection(d1.join(noVni, a.ep, a.sb))).kind, 'internal');

  // Reconcile after a crash: a data plane of a network that is gone, a veth whose endpoint is
  // gone, an endpoint whose veth is gone.
  const gone = overlay(crypto.randomBytes(32).toString('hex'), 4205);
  const g = sandbox(gone, '10.205.0.2', h1.vtep);
  await d1.join(gone, g.ep, g.sb);
  const stray = sandbox(net, '10.202.0.9', h1.vtep);
  await d1.join(net, stray.ep, stray.sb);
  const lost = sandbox(net, '10.202.0.3', h1.vtep);
  await d1.join(net, lost.ep, lost.sb);
  await linkReaper.delete(hostVethName(lost.ep.id), h1.ns);
  const remote = sandbox(net, '10.202.0.50', h2.vtep);
  await d1.setPeers(net, [peer(remote)]);
  const programmed = await fdb(h1.ns, vxlanName(net));
  t.same(programmed, [`00:00:00:00:00:00 ${h2.vtep}`, `${remote.ep.mac} ${h2.vtep}`]);
  const fresh = new OverlayDriver(h1.vtep, h1.ns);
  const res = await fresh.reconcile([net], [a.ep, lost.ep]);
  // A restarted daemon learns the peers from the cluster store after reconciling: until then
  // the kernel's entries keep cross-host traffic flowing.
  t.same(await fdb(h1.ns, vxlanName(net)), programmed, 'reconcile keeps the forwarding entries until the peers are known');
  await fresh.setPeers(net, []);
  t.same(await fdb(h1.ns, vxlanName(net)), [], 'then the peer list rules');
  t.same(res.missingEndpoints, [lost.ep.id], 'the endpoint whose veth is gone is reported');
  const now = await linkNames(h1.ns);
  t.notOk(now.has(bridgeName(gone)) || now.has(vxlanName(gone)), 'the data plane of a gone network is removed');
  t.notOk(now.has(hostVethName(stray.ep.id)), "a veth of an unknown endpoint on our bridge is removed");
  t.ok(now.has(hostVethName(a.ep.id)) && now.has(bridgeName(net)) && now.has(vxlanName(net)), 'the rest stays');
  await fresh.join(net, lost.ep, lost.sb);
  await fresh.reconcile([net], []);
  const empty = await linkNames(h1.ns);
  t.notOk([...empty].some((n) => n.startsWith('ov-') || n.startsWith('vx-') || n.startsWith('ovv')), 'no local endpoints: nothing of the overlay left');
});
