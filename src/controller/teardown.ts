/**
 * One teardown per object, called alike by the live path (disconnect, removeSandbox,
 * removeNetwork, and the undo of a failed creation) and by the journal's replay after a crash:
 * the kernel side of an endpoint, of a sandbox and of a network, and the commit that forgets
 * their records. All idempotent: replay may run them on what is already gone.
 */
import fs from 'node:fs';
import type { ControllerContext } from './context';
import { releaseEndpointAddresses } from './endpoints';
import type { JournalEntry } from './journal';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from './model';
import { releasePorts } from './ports';

export type JoinEntry = Extract<JournalEntry, { op: 'join' }>;

/**
 * The kernel side of an endpoint goes: the driver's leave, then the interface itself where cnm
 * made it under its own name (a sandbox's own namespace, or the daemon's for a handoff), when
 * that namespace is still there. Takes the journal's view, which is all replay has.
 */
export async function leaveEndpointKernel(ctx: ControllerContext, j: JoinEntry | Extract<JournalEntry, { op: 'leave' }>): Promise<void> {
  await ctx.drivers.get(j.driver).leave(j.network, j.endpoint, j.sandbox);
  // Entries written before deleteInterface existed: the old rule (a namespace file cnm mounted).
  const deleteInterface = j.deleteInterface ?? !j.sandbox.nsPath.startsWith('/proc/');
  if (j.endpoint.ifName && deleteInterface && ctx.os.namespaceAlive(j.sandbox.nsPath)) await ctx.os.deleteInterfaces(j.sandbox.nsPath, [j.endpoint.ifName]);
}

/** The namespace cnm made for the sandbox (if any) and its files; its endpoints' kernel side first. */
export async function teardownSandboxKernel(ctx: ControllerContext, leaves: (JoinEntry | Extract<JournalEntry, { op: 'leave' }>)[], ownNs: string | null, filesDir: string): Promise<void> {
  for (const j of leaves) await leaveEndpointKernel(ctx, j);
  if (ownNs) ctx.os.deleteNetns(ownNs);
  fs.rmSync(filesDir, { recursive: true, force: true });
}

/** Forgets endpoints: their records (with the journal entries the same commit ends), host ports, addresses. */
export async function forgetEndpoints(ctx: ControllerContext, endpoints: EndpointRecord[], journals: number[] = []): Promise<void> {
  ctx.store.transaction((tx) => {
    for (const e of endpoints) tx.deleteEndpoint(e.id);
    for (const j of journals) tx.endJournal(j);
  });
  for (const e of endpoints) ctx.state.endpoints.delete(e.id);
  releasePorts(ctx, endpoints);
  for (const e of endpoints) await releaseEndpointAddresses(ctx, e);
}

/** Forgets a sandbox and its endpoints in one commit, then their host ports and addresses. */
export async function forgetSandbox(ctx: ControllerContext, sandbox: SandboxRecord, journals: number[] = []): Promise<void> {
  const endpoints = ctx.state.endpointsOfSandbox(sandbox.id);
  ctx.store.transaction((tx) => {
    for (const e of endpoints) tx.deleteEndpoint(e.id);
    tx.deleteSandbox(sandbox.id);
    for (const j of journals) tx.endJournal(j);
  });
  for (const e of endpoints) ctx.state.endpoints.delete(e.id);
  ctx.state.sandboxes.delete(sandbox.id);
  releasePorts(ctx, endpoints);
  for (const e of endpoints) await releaseEndpointAddresses(ctx, e);
}

/** Forgets a network's record and gives its local pools back to IPAM. */
export function forgetNetwork(ctx: ControllerContext, network: Pick<NetworkRecord, 'id'>, journals: number[] = []): void {
  const record = ctx.state.networks.get(network.id);
  ctx.store.transaction((tx) => {
    tx.deleteNetwork(network.id);
    for (const j of journals) tx.endJournal(j);
  });
  ctx.state.networks.delete(network.id);
  if (record?.pools.length && record.scope === 'local') ctx.ipam.releaseNetwork(network.id);
}
