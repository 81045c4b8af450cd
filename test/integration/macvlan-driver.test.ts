/**
 * The macvlan driver on its own, against real kernel objects in a private "host" namespace: the
 * half-made states the controller's journal hands to deleteNetwork/leave after a crash, repeated
 * calls, and start-up reconciliation.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { inNs as inNamespace } from '../helpers/lab';
import type { DriverEndpoint, DriverNetwork, DriverSandbox } from '../../src/drivers/api';
import { MacvlanDriver } from '../../src/drivers/macvlan/driver';
import { isolatedParentName, ownerTag, shimName, vlanStagingName } from '../../src/drivers/macvlan/options';
import { CnmError } from '../../src/errors';
import { linkReaper } from '../../src/os/link-reaper';
import { Rtnl } from '../../src/os/links';
import { createNetns, deleteNetns } from '../../src/os/native';

const prefix = `cnmt${crypto.randomBytes(3).toString('hex')}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
const hostNs = path.join(dir, 'host');
const namespaces: string[] = [];

function newNs(name: string): string {
  const p = path.join(dir, name);
  createNetns(p);
  namespaces.push(p);
  return p;
}

const inNs = (ns: string, ...cmd: string[]): Promise<string> => inNamespace(ns, cmd);

async function links(ns: string): Promise<Map<string, { kind?: string; mac: string; alias?: string }>> {
  const all = await Rtnl.in(ns, (nl) => nl.listLinks());
  return new Map(all.map((l) => [l.name, { ...(l.kind ? { kind: l.kind } : {}), mac: l.mac, ...(l.alias ? { alias: l.alias } : {}) }]));
}

const newId = (): string => crypto.randomBytes(32).toString('hex');

function network(opts: Partial<DriverNetwork> & { options: Record<string, string> }): DriverNetwork {
  return {
    id: newId(),
    name: 'lan',
    pools: [{ family: 4, subnet: '10.5.0.0/24', gateway: '10.5.0.1', gatewayExplicit: true, auxAddresses: { host_access: '10.5.0.254' }, auto: false }],
    internal: false,
    ipv6: false,
    ...opts,
  };
}

function endpoint(net: DriverNetwork, ip: string, ifName = 'eth0'): DriverEndpoint {
  const mac = ['02', '42', ...ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(':');
  return { id: newId(), networkId: net.id, ifName, mac, ipv4: `${ip}/24`, driverOptions: {} };
}

async function hostRoutesOf(ns: string): Promise<string> {
  return inNs(ns, 'ip', '-4', 'route', 'show', 'table', 'main');
}

t.teardown(async () => {
  for (const ns of namespaces.reverse()) deleteNetns(ns);
  await linkReaper.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

t.test('macvlan driver', async (t) => {
  createNetns(hostNs);
  namespaces.push(hostNs);
  // The user's parent: a veth end whose peer stays here too (both up: carrier on).
  await inNs(hostNs, 'ip', 'link', 'add', 'eth0.10', 'type', 'veth', 'peer', 'name', 'uplink');
  await inNs(hostNs, 'ip', 'link', 'set', 'eth0.10', 'up');
  await inNs(hostNs, 'ip', 'link', 'set', 'uplink', 'up');
  const driver = new MacvlanDriver(hostNs);
  const hostAccess = network({ options: { parent: 'eth0.10', host_access: 'true' } });
  const sb1: DriverSandbox = { id: newId(), nsPath: newNs('sb1') };
  const sb2: DriverSandbox = { id: newId(), nsPath: newNs('sb2') };
  const e1 = endpoint(hostAccess, '10.5.0.2');

  await t.test('create, join, leave twice, delete twice', async (t) => {
    await driver.createNetwork(hostAccess);
    await driver.createNetwork(hostAccess);
    const host = await links(hostNs);
    t.equal(host.get(shimName(hostAccess.id))?.kind, 'macvlan', 'the shim is on the host');
    t.equal(host.get(shimName(hostAccess.id))?.alias, ownerTag(hostAccess.id), 'tagged as the network');
    t.match(await inNs(hostNs, 'ip', '-4', '-o', 'addr', 'show', shimName(hostAccess.id)), /inet 10\.5\.0\.254\/32/);

    const joined = await driver.join(hostAccess, e1, sb1);
    t.same(joined, { gatewayV4: '10.5.0.1' });
    t.same((await links(sb1.nsPath)).get('eth0'), { kind: 'macvlan', mac: '02:42:0a:05:00:02' });
    t.match(await hostRoutesOf(hostNs), new RegExp(`10\\.5\\.0\\.2 dev ${shimName(hostAccess.id)} scope link src 10\\.5\\.0\\.254`));

    await driver.leave(hostAccess, e1, sb1);
    await driver.leave(hostAccess, e1, sb1);
    t.notOk((await links(sb1.nsPath)).has('eth0'), 'the sandbox interface is gone');
    t.notMatch(await hostRoutesOf(hostNs), /10\.5\.0\.2 /, 'and its host route');

    await driver.deleteNetwork(hostAccess);
    await driver.deleteNetwork(hostAccess);
    const after = await links(hostNs);
    t.notOk(after.has(shimName(hostAccess.id)), 'the shim is gone');
    t.ok(after.has('eth0.10'), "the user's parent stays");
  });

  await t.test('leave and delete on what was never made, or is already gone', async (t) => {
    const never = network({ options: { parent: 'eth0.10', host_access: 'true' } });
    await driver.deleteNetwork(never);
    await driver.leave(never, endpoint(never, '10.5.0.9'), sb1);
    const gone: DriverSandbox = { id: newId(), nsPath: path.join(dir, 'no-such-ns') };
    await driver.leave(never, endpoint(never, '10.5.0.9'), gone);
    // Joined, then the sandbox's namespace went away under it.
    await driver.createNetwork(hostAccess);
    const lost = newNs('lost');
    const e = endpoint(hostAccess, '10.5.0.3');
    await driver.join(hostAccess, e, { id: newId(), nsPath: lost });
    deleteNetns(lost);
    await driver.leave(hostAccess, e, { id: newId(), nsPath: lost });
    t.notMatch(await hostRoutesOf(hostNs), /10\.5\.0\.3 /, 'the host route went anyway');
    await driver.deleteNetwork(hostAccess);
    t.pass('no call threw');
  });

  await t.test("leave spares an interface of that name that is not the endpoint's", async (t) => {
    const plain = network({ options: { parent: 'eth0.10' } });
    await driver.createNetwork(plain);
    await inNs(sb2.nsPath, 'ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'other');
    await driver.leave(plain, endpoint(plain, '10.5.0.4'), sb2);
    t.ok((await links(sb2.nsPath)).has('eth0'), 'a veth named eth0 stays');
    const e = endpoint(plain, '10.5.0.5', 'eth1');
    await driver.join(plain, e, sb2);
    await driver.leave(plain, { ...e, mac: '02:42:0a:05:00:63' }, sb2);
    t.ok((await links(sb2.nsPath)).has('eth1'), "a macvlan with another endpoint's MAC stays");
    await driver.leave(plain, e, sb2);
    t.notOk((await links(sb2.nsPath)).has('eth1'));
    await inNs(sb2.nsPath, 'ip', 'link', 'del', 'eth0');
    await driver.deleteNetwork(plain);
  });

  await t.test('half-made networks: deleteNetwork removes what the crash left', async (t) => {
    const isolated = network({ options: {}, internal: true });
    // Killed between creating the private parent and tagging it.
    await inNs(hostNs, 'ip', 'link', 'add', isolatedParentName(isolated.id), 'type', 'bridge');
    await driver.deleteNetwork(isolated);
    t.notOk((await links(hostNs)).has(isolatedParentName(isolated.id)), 'the untagged private parent');

    const vlan = network({ options: { parent: 'eth0.20' } });
    // Killed between creating the VLAN link under its staging name and renaming it.
    await inNs(hostNs, 'ip', 'link', 'add', vlanStagingName(vlan.id), 'type', 'bridge');
    await driver.deleteNetwork(vlan);
    t.notOk((await links(hostNs)).has(vlanStagingName(vlan.id)), 'the staged VLAN link');

    // A parent the driver made (tagged) goes; the same name untagged is the user's and stays.
    await inNs(hostNs, 'ip', 'link', 'add', 'eth0.20', 'type', 'bridge');
    await inNs(hostNs, 'ip', 'link', 'set', 'eth0.20', 'alias', ownerTag(vlan.id));
    await driver.deleteNetwork(vlan);
    t.notOk((await links(hostNs)).has('eth0.20'), 'the tagged parent');
    await inNs(hostNs, 'ip', 'link', 'add', 'eth0.20', 'type', 'bridge');
    await driver.deleteNetwork(vlan);
    t.ok((await links(hostNs)).has('eth0.20'), 'the untagged one');
    await inNs(hostNs, 'ip', 'link', 'del', 'eth0.20');

    // Created with host access, killed before the shim got its address.
    const half = network({ options: { parent: 'eth0.10', host_access: 'true' } });
    await inNs(hostNs, 'ip', 'link', 'add', shimName(half.id), 'link', 'eth0.10', 'type', 'macvlan', 'mode', 'bridge');
    await driver.deleteNetwork(half);
    t.notOk((await links(hostNs)).has(shimName(half.id)), 'the unaddressed shim');
  });

  await t.test('a failed create leaves nothing', async (t) => {
    const before = [...(await links(hostNs)).keys()].sort();
    const noVlan = network({ options: { parent: 'uplink.30' } });
    const err = await driver.createNetwork(noVlan).catch((e: unknown) => e);
    t.ok(err instanceof CnmError);
    t.equal((err as CnmError).kind, 'unavailable');
    t.match((err as Error).message, /^failed to create uplink\.30 vlan link: operation not supported/);
    const missing = await driver.createNetwork(network({ options: { parent: 'nosuchif0' } })).catch((e: Error) => e);
    t.equal((missing as Error).message, '-o parent interface nosuchif0 was not found on the host');
    const noBase = await driver.createNetwork(network({ options: { parent: 'nosuch.10' } })).catch((e: Error) => e);
    t.equal((noBase as Error).message, '-o parent interface nosuch was not found on the host (nosuch.10 is VLAN 10 on nosuch)');
    // The shim cannot be made: its name is taken by something else.
    const clash = network({ options: { host_access: 'true' }, internal: true });
    await inNs(hostNs, 'ip', 'link', 'add', shimName(clash.id), 'type', 'bridge');
    const shimErr = await driver.createNetwork(clash).catch((e: Error) => e);
    t.match((shimErr as Error).message, `cannot create the host_access interface ${shimName(clash.id)}`);
    await inNs(hostNs, 'ip', 'link', 'del', shimName(clash.id));
    t.same([...(await links(hostNs)).keys()].sort(), before, 'no link added, the private parent made for it removed');
  });

  await t.test('passthru: one sandbox per parent, with a clear refusal', async (t) => {
    const pt = network({ options: { parent: 'eth0.10', macvlan_mode: 'passthru' } });
    await driver.createNetwork(pt);
    const first = endpoint(pt, '10.5.0.2');
    await driver.join(pt, first, sb1);
    const err = await driver.join(pt, endpoint(pt, '10.5.0.3'), sb2).catch((e: Error) => e);
    t.equal((err as Error).message, `cannot attach to network lan: macvlan passthru mode gives parent interface eth0.10 to one sandbox only`);
    await driver.leave(pt, first, sb1);
    t.notOk((await links(sb1.nsPath)).has('eth0'), 'removed although it wears the parent MAC');
    await driver.deleteNetwork(pt);
  });

  await t.test('reconcile: orphans removed, missing pieces made again', async (t) => {
    const kept = network({ options: { parent: 'eth0.10', host_access: 'true' } });
    await driver.createNetwork(kept);
    const e = endpoint(kept, '10.5.0.7');
    await driver.join(kept, e, sb1);
    const orphanId = newId();
    await inNs(hostNs, 'ip', 'link', 'add', isolatedParentName(orphanId), 'type', 'bridge');
    await inNs(hostNs, 'ip', 'link', 'set', isolatedParentName(orphanId), 'alias', ownerTag(orphanId));
    await inNs(hostNs, 'ip', 'link', 'add', 'userlink', 'type', 'bridge');
    await inNs(hostNs, 'ip', 'link', 'set', 'userlink', 'alias', 'cnm is not my owner');
    // Someone deleted the shim (and with it the host route).
    await inNs(hostNs, 'ip', 'link', 'del', shimName(kept.id));

    const result = await driver.reconcile([kept], [e]);
    t.same(result, { missingEndpoints: [] });
    const host = await links(hostNs);
    t.notOk(host.has(isolatedParentName(orphanId)), 'a tagged link of an unknown network');
    t.ok(host.has('userlink'), 'an untagged link');
    t.ok(host.has(shimName(kept.id)), 'the shim is back');
    t.match(await hostRoutesOf(hostNs), new RegExp(`10\\.5\\.0\\.7 dev ${shimName(kept.id)} scope link src 10\\.5\\.0\\.254`), 'with the host route');
    // Configured as the controller would, the sandbox answers the host through the new shim.
    await inNs(sb1.nsPath, 'ip', 'addr', 'add', '10.5.0.7/24', 'dev', 'eth0');
    await inNs(sb1.nsPath, 'ip', 'link', 'set', 'eth0', 'up');
    t.match(await inNs(hostNs, 'ping', '-c', '1', '-W', '2', '10.5.0.7'), /1 received/);

    const goneParent = network({ options: { parent: 'eth0.77' } });
    await t.resolves(driver.reconcile([kept, goneParent], [e]), 'a network whose parent cannot be had does not stop the others');
    await driver.leave(kept, e, sb1);
    await driver.deleteNetwork(kept);
  });
});
