/**
 * Start-up: make the kernel match the store. Unfinished operations found in the journal are
 * undone (creations) or finished (removals); then every network and sandbox is checked, anything
 * missing (after a reboot, say) is re-created and anything cnm made that no record explains
 * (left by a kill -9 at the wrong moment) is removed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isNetnsMount } from '../os/native';
import { killProcesses, procStat, processesInNetns } from '../os/proc';
import type { ControllerContext } from './context';
import { netnsDir, nsPathOf, ownNetnsPath, toDriverEndpoint, toDriverNetwork } from './context';
import { ensureDefaultRoutes, joinKernel, leaveKernel } from './endpoints';
import { forgetEndpoints, forgetNetwork, forgetSandbox, leaveEndpointKernel, teardownSandboxKernel } from './teardown';
import type { JournalEntry, ProcessStartEntry } from './journal';
import type { EndpointRecord, SandboxRecord } from './model';
import { errorText } from './undo';
import { teardownSandbox, writeFiles } from './sandboxes';

export function loadState(ctx: ControllerContext): void {
  const stored = ctx.store.load();
  for (const n of stored.networks) ctx.state.networks.set(n.id, n);
  for (const s of stored.sandboxes) ctx.state.sandboxes.set(s.id, s);
  for (const e of stored.endpoints) ctx.state.endpoints.set(e.id, e);
  const cursor = ctx.store.getMeta('ipamCursor');
  if (cursor) ctx.ipam.setCursor(JSON.parse(cursor));
  for (const n of stored.networks) {
    // Global networks' addresses live in the cluster store.
    if (!n.pools.length || n.scope === 'global') continue;
    const used = ctx.state.endpointsOfNetwork(n.id).flatMap((e) => [e.ipv4, e.ipv6].filter(Boolean));
    ctx.ipam.restoreNetwork({ networkId: n.id, networkName: n.name, pools: n.pools, usedAddresses: used });
  }
}

export async function replayJournal(ctx: ControllerContext): Promise<void> {
  const pending = ctx.store.pendingJournal<JournalEntry>();
  for (const { id, entry } of pending.reverse()) {
    ctx.log.log('warn', 'finishing an operation interrupted by a daemon crash', { op: entry.op });
    try {
      await replayOne(ctx, entry);
    } catch (err) {
      ctx.log.log('error', 'could not finish an interrupted operation', { op: entry.op, error: String(err) });
    }
    ctx.store.endJournal(id);
  }
}

async function replayOne(ctx: ControllerContext, entry: JournalEntry): Promise<void> {
  const { state } = ctx;
  switch (entry.op) {
    case 'createNetwork':
      if (!state.networks.has(entry.network.id)) await ctx.drivers.get(entry.driver).deleteNetwork(entry.network);
      return;
    case 'removeNetwork':
      await ctx.drivers.get(entry.driver).deleteNetwork(entry.network);
      if (state.networks.has(entry.network.id)) forgetNetwork(ctx, entry.network);
      return;
    case 'join':
    case 'leave': {
      const committed = state.endpoints.get(entry.endpoint.id);
      if (entry.op === 'join' && committed) return;
      await leaveEndpointKernel(ctx, entry);
      if (committed) await forgetEndpoints(ctx, [committed]);
      return;
    }
    case 'startProcess':
      return undoProcessStart(entry);
    case 'createSandbox':
    case 'removeSandbox': {
      const sandbox = state.sandboxes.get(entry.sandboxId);
      if (entry.op === 'createSandbox' && sandbox) return;
      if (sandbox) {
        await teardownSandbox(ctx, sandbox, entry.nsPath, entry.filesDir);
        await forgetSandbox(ctx, sandbox);
      } else {
        await teardownSandboxKernel(ctx, [], entry.nsPath, entry.filesDir);
      }
      return;
    }
  }
}

/**
 * A start the daemon died in: the program was never recorded, so it must not exist (the user's
 * start failed; a new one makes exactly one copy). The transaction that records it running also
 * ends the entry, so a pending entry always means an unrecorded program.
 */
export function undoProcessStart(entry: ProcessStartEntry): void {
  const victims: number[] = [];
  if (entry.pid !== undefined && Number(procStat(entry.pid)?.[19] ?? -1) === entry.startTicks) victims.push(entry.pid);
  if (entry.ownNsPath !== null && isNetnsMount(entry.ownNsPath)) {
    for (const p of processesInNetns(entry.ownNsPath)) if (p.startTicks >= entry.notBeforeTicks) victims.push(p.pid);
  }
  killProcesses(victims);
}

/** Namespace files and sandbox directories that belong to no sandbox. */
export function removeOrphanFiles(ctx: ControllerContext): void {
  const own = new Set([...ctx.state.sandboxes.values()].filter((s) => s.mode.kind === 'own').map((s) => s.id));
  const dir = netnsDir(ctx.execRoot);
  for (const name of safeReaddir(dir)) {
    if (!own.has(name)) {
      ctx.log.log('warn', 'removing a namespace that belongs to no sandbox', { netns: name });
      ctx.os.deleteNetns(path.join(dir, name));
    }
  }
  const sandboxesDir = path.join(ctx.execRoot, 'sandboxes');
  for (const name of safeReaddir(sandboxesDir)) {
    if (!ctx.state.sandboxes.has(name)) fs.rmSync(path.join(sandboxesDir, name), { recursive: true, force: true });
  }
}

export async function reconcileKernel(ctx: ControllerContext): Promise<void> {
  const { state } = ctx;
  const missing = new Set<string>();
  for (const driver of ctx.drivers.all()) {
    if (!driver.reconcile) continue;
    const networks = [...state.networks.values()].filter((n) => n.driver === driver.name);
    const ids = new Set(networks.map((n) => n.id));
    const endpoints = [...state.endpoints.values()].filter((e) => ids.has(e.networkId)).map(toDriverEndpoint);
    try {
      const result = await driver.reconcile(networks.map(toDriverNetwork), endpoints);
      for (const id of result.missingEndpoints) missing.add(id);
    } catch (err) {
      ctx.log.log('error', 'a driver could not restore its networks', { driver: driver.name, error: err instanceof Error ? err.message : String(err) });
    }
  }
  for (const sandbox of state.sandboxes.values()) {
    try {
      // A handoff's interface is in Docker's container, out of cnm's sight: nothing to re-make.
      await restoreSandbox(ctx, sandbox, sandbox.mode.kind === 'handoff' ? new Set() : missing);
    } catch (err) {
      ctx.log.log('error', 'could not restore a sandbox completely', { sandbox: sandbox.name, error: err instanceof Error ? err.message : String(err) });
    }
  }
}

/**
 * Makes the kernel side of a sandbox match its records again: its namespace, its endpoints'
 * interfaces (those missing and those in `rejoin` are made again), default routes and files.
 * Runs at start for every sandbox, and as the undo of a removal that failed half-way.
 */
export async function restoreSandbox(ctx: ControllerContext, sandbox: SandboxRecord, rejoin: Set<string>): Promise<void> {
  const endpoints = ctx.state.endpointsOfSandbox(sandbox.id);
  if (sandbox.mode.kind === 'own') {
    const nsPath = ownNetnsPath(ctx.execRoot, sandbox.id);
    if (!ctx.os.namespaceAlive(nsPath)) {
      ctx.log.log('info', 're-creating a sandbox namespace', { sandbox: sandbox.name });
      fs.mkdirSync(netnsDir(ctx.execRoot), { recursive: true });
      fs.rmSync(nsPath, { force: true });
      ctx.os.createNetns(nsPath);
    }
    const present = new Set(await ctx.os.listInterfaces(nsPath));
    const expected = new Set(endpoints.map((e) => e.ifName).filter(Boolean));
    const strays = [...present].filter((name) => name !== 'lo' && !expected.has(name));
    if (strays.length) {
      ctx.log.log('warn', 'removing interfaces no endpoint explains', { sandbox: sandbox.name, interfaces: strays });
      await ctx.os.deleteInterfaces(nsPath, strays);
    }
    for (const e of endpoints) {
      if (!e.ifName || (present.has(e.ifName) && !rejoin.has(e.id))) continue;
      await rejoinEndpoint(ctx, sandbox, e);
    }
    await ensureDefaultRoutes(ctx, sandbox, endpoints);
  } else if (sandbox.mode.kind === 'attached' || sandbox.mode.kind === 'handoff') {
    // The namespace is not cnm's (vanished ones were removed before): re-make what the driver lost.
    for (const e of endpoints) if (rejoin.has(e.id)) await rejoinEndpoint(ctx, sandbox, e);
    await ensureDefaultRoutes(ctx, sandbox, endpoints);
  }
  writeFiles(ctx, sandbox);
}

/** What is left of the endpoint goes, then the driver makes it again. */
async function rejoinEndpoint(ctx: ControllerContext, sandbox: SandboxRecord, e: EndpointRecord): Promise<void> {
  const network = ctx.state.networks.get(e.networkId)!;
  ctx.log.log('info', 're-creating an endpoint', { sandbox: sandbox.name, network: network.name, interface: e.ifName });
  try {
    await leaveKernel(ctx, e, network, sandbox);
    const nsPath = nsPathOf(ctx, sandbox);
    if (e.ifName && ctx.os.namespaceAlive(nsPath)) await ctx.os.deleteInterfaces(nsPath, [e.ifName]);
    await joinKernel(ctx, e, network, sandbox);
  } catch (err) {
    // One broken endpoint (its parent interface gone, say) must not keep the daemon down.
    ctx.log.log('error', 'could not re-create an endpoint; disconnect and reconnect it once the cause is fixed', {
      sandbox: sandbox.name,
      network: network.name,
      error: errorText(err),
    });
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
