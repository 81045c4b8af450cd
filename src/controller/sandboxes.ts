/**
 * Sandboxes (a container's network stack) and the endpoints that join them to networks.
 * Creation is all-or-nothing: the namespace, every endpoint and the files appear together or
 * not at all, whatever fails and even if the daemon dies half-way (see journal.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import { CnmError, conflict, forbidden, invalid } from '../errors';
import { createNetns, deleteNetns } from '../os/native';
import { stripPrefixLength } from '../ipam';
import type { ControllerContext } from './context';
import { DEFAULT_BRIDGE, netnsDir, ownNetnsPath } from './context';
import { allocatePorts, releasePorts } from './ports';
import { isGlobal, programPeers, publishEndpoint, withdrawEndpoint } from './cluster-sync';
import { ensureGatewayBridge, GATEWAY_BRIDGE } from './networks';
import type { EndpointRequest } from './endpoints';
import { checkAliases, checkCanJoin, ensureDefaultRoutes, joinJournal, joinKernel, leaveKernel, planEndpoint, releaseEndpointAddresses } from './endpoints';
import { newId, nowRfc3339Nano, resolveRef, shortId, VALID_NAME } from './ids';
import type { JournalEntry } from './journal';
import type { EndpointRecord, NetworkRecord, PublishedPortRequest, SandboxMode, SandboxRecord } from './model';
import { randomName } from './names';
import { sandboxHosts, sandboxPaths, sandboxResolvConf, writeSandboxFiles } from './sandbox-files';
import { hasServiceDiscovery } from './service-state';

export interface CreateSandboxRequest {
  name?: string;
  hostname?: string;
  domainname?: string;
  /** '', 'default', 'bridge', 'host', 'none', 'container:<name|id>', or a network name/id */
  networkMode?: string;
  /** Per-network endpoint settings, keyed by network name or id; the networks to join besides the mode's */
  endpoints?: Record<string, EndpointRequest>;
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  extraHosts?: string[];
  cmd?: string[];
  workingDir?: string;
  env?: string[];
  consoleSize?: [number, number];
  tty?: boolean;
  openStdin?: boolean;
  autoRemove?: boolean;
  labels?: Record<string, string>;
  publish?: PublishedPortRequest[];
}

const HOSTNAME = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;
const EXTRA_HOST = /^[^\s:]+:[0-9a-fA-F.:]+$/;

interface ModePlan {
  mode: SandboxMode;
  /** networks joined because of the mode, before the extra ones */
  primary: NetworkRecord | undefined;
}

function planMode(ctx: ControllerContext, req: CreateSandboxRequest): ModePlan {
  const modeText = req.networkMode || 'default';
  if (modeText.startsWith('container:')) {
    const ref = modeText.slice('container:'.length);
    const target = resolveRef(ctx.state.sandboxes.values(), ref, 'container');
    const owner = ctx.state.namespaceOwner(target);
    if (req.hostname) throw invalid('conflicting options: hostname and the network mode');
    if (req.publish?.length) throw invalid('conflicting options: port publishing and the container type network mode');
    if (Object.values(req.endpoints ?? {}).some((e) => e.ipv4 || e.ipv6)) {
      throw invalid(`--ip/--ip6 cannot be used with --network container:${ref}: the sandbox shares ${target.name}'s addresses`);
    }
    return { mode: owner.mode.kind === 'host' ? { kind: 'host' } : { kind: 'container', sandboxId: owner.id }, primary: undefined };
  }
  const networkRef = modeText === 'default' ? DEFAULT_BRIDGE : modeText;
  const primary = resolveRef(ctx.state.networks.values(), networkRef, 'network');
  return { mode: primary.driver === 'host' ? { kind: 'host' } : { kind: 'own' }, primary };
}

function validateCreate(ctx: ControllerContext, req: CreateSandboxRequest): void {
  if (req.name !== undefined && req.name !== '') {
    if (!VALID_NAME.test(req.name)) throw invalid(`Invalid container name (${req.name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    const clash = ctx.state.sandboxByName(req.name);
    if (clash) {
      throw conflict(`Conflict. The container name "/${req.name}" is already in use by container "${clash.id}". You have to remove (or rename) that container to be able to reuse that name.`);
    }
  }
  if (req.hostname && !HOSTNAME.test(req.hostname)) throw invalid(`invalid hostname "${req.hostname}": use letters, digits and '-' (at most 63)`);
  for (const h of req.extraHosts ?? []) if (!EXTRA_HOST.test(h)) throw invalid(`invalid argument "${h}" for "--add-host" flag: use host:ip`);
}

export async function createSandbox(ctx: ControllerContext, req: CreateSandboxRequest): Promise<SandboxRecord> {
  validateCreate(ctx, req);
  const plan = planMode(ctx, req);
  const id = newId();
  const sandbox: SandboxRecord = {
    id,
    name: req.name || randomName((n) => Boolean(ctx.state.sandboxByName(n))),
    hostname: req.hostname || (plan.mode.kind === 'host' ? os.hostname() : plan.mode.kind === 'container' ? ctx.state.sandboxes.get(plan.mode.sandboxId)!.hostname : shortId(id)),
    domainname: req.domainname ?? '',
    created: nowRfc3339Nano(),
    mode: plan.mode,
    networkMode: plan.mode.kind === 'container' ? `container:${plan.mode.sandboxId}` : req.networkMode || 'default',
    nextInterface: 0,
    dns: { servers: req.dns ?? [], search: req.dnsSearch ?? [], options: req.dnsOptions ?? [] },
    extraHosts: req.extraHosts ?? [],
    cmd: req.cmd ?? [],
    workingDir: req.workingDir || '/',
    env: req.env ?? [],
    ...(req.consoleSize ? { consoleSize: req.consoleSize } : {}),
    tty: Boolean(req.tty),
    openStdin: Boolean(req.openStdin),
    autoRemove: Boolean(req.autoRemove),
    labels: req.labels ?? {},
    publish: plan.mode.kind === 'own' ? req.publish ?? [] : [],
    process: { status: 'created', pid: 0, startTicks: 0, exitCode: 0, startedAt: '0001-01-01T00:00:00Z', finishedAt: '0001-01-01T00:00:00Z' },
  };

  // Networks to join, the mode's first; an endpoint setting for the primary network applies to it.
  const joins: { network: NetworkRecord; req: EndpointRequest }[] = [];
  if (plan.primary) joins.push({ network: plan.primary, req: findEndpointRequest(req.endpoints, plan.primary) ?? {} });
  for (const [ref, epReq] of Object.entries(req.endpoints ?? {})) {
    const network = resolveRef(ctx.state.networks.values(), ref, 'network');
    if (joins.some((j) => j.network.id === network.id)) continue;
    if (plan.mode.kind !== 'own') throw forbidden('container sharing network namespace with another container or host cannot be connected to any other network');
    joins.push({ network, req: epReq });
  }
  if (plan.mode.kind === 'own' && joins.some((j) => ctx.drivers.get(j.network.driver).needsGatewayBridge)) {
    const gw = await ensureGatewayBridge(ctx);
    if (!joins.some((j) => j.network.id === gw.id)) joins.push({ network: gw, req: {} });
  }

  const ownNs = plan.mode.kind === 'own' ? ownNetnsPath(ctx.execRoot, id) : null;
  const paths = sandboxPaths(ctx.execRoot, id);
  const journals = [ctx.store.beginJournal({ op: 'createSandbox', sandboxId: id, nsPath: ownNs, filesDir: paths.dir } satisfies JournalEntry)];
  const endpoints: EndpointRecord[] = [];
  const joined: EndpointRecord[] = [];
  const published: EndpointRecord[] = [];
  try {
    for (const j of joins) {
      checkCanJoin(ctx, sandbox, j.network, j.req, true);
      if (endpoints.some((e) => ctx.state.networks.get(e.networkId)?.driver === 'null') || (j.network.driver === 'null' && endpoints.length)) {
        throw forbidden('container cannot be connected to multiple networks with one of the networks in private (none) mode');
      }
      const e = await planEndpoint(ctx, sandbox, j.network, j.req, endpoints.length);
      endpoints.push(e);
      if (e.ifName) sandbox.nextInterface++;
    }
    allocatePorts(ctx, sandbox, endpoints);
    if (ownNs) {
      fs.mkdirSync(netnsDir(ctx.execRoot), { recursive: true });
      createNetns(ownNs);
    }
    for (const e of endpoints) {
      const network = ctx.state.networks.get(e.networkId)!;
      journals.push(ctx.store.beginJournal(joinJournal(ctx, e, network, sandbox)));
      await joinKernel(ctx, e, network, sandbox);
      joined.push(e);
    }
    if (ownNs) await ensureDefaultRoutes(ctx, sandbox, endpoints);
    writeFiles(ctx, sandbox, endpoints);
    for (const e of endpoints) {
      await publishEndpoint(ctx, sandbox, e);
      published.push(e);
    }
    ctx.store.transaction((tx) => {
      tx.putSandbox(sandbox);
      for (const e of endpoints) tx.putEndpoint(e);
      for (const j of journals) tx.endJournal(j);
    });
  } catch (err) {
    for (const e of published) await withdrawEndpoint(ctx, e).catch(() => undefined);
    for (const e of joined.reverse()) await leaveKernel(ctx, e, ctx.state.networks.get(e.networkId)!, sandbox).catch(() => undefined);
    releasePorts(ctx, endpoints);
    for (const e of endpoints) await releaseEndpointAddresses(ctx, e);
    if (ownNs) deleteNetns(ownNs);
    fs.rmSync(paths.dir, { recursive: true, force: true });
    for (const j of journals) ctx.store.endJournal(j);
    throw err;
  }
  ctx.state.sandboxes.set(id, sandbox);
  for (const e of endpoints) ctx.state.endpoints.set(e.id, e);
  if (published.some((e) => isGlobal(ctx, e))) await programPeers(ctx);
  return sandbox;
}

function findEndpointRequest(endpoints: Record<string, EndpointRequest> | undefined, network: NetworkRecord): EndpointRequest | undefined {
  for (const [ref, req] of Object.entries(endpoints ?? {})) {
    if (ref === network.name || ref === network.id || (ref.length >= 12 && network.id.startsWith(ref))) return req;
  }
  return undefined;
}

export async function removeSandbox(ctx: ControllerContext, sandbox: SandboxRecord): Promise<void> {
  const dependents = ctx.state.dependentsOf(sandbox.id);
  if (dependents.length) {
    throw forbidden(`cannot remove ${sandbox.name}: ${dependents.map((d) => d.name).join(', ')} share${dependents.length === 1 ? 's' : ''} its network namespace; remove ${dependents.length === 1 ? 'it' : 'them'} first`);
  }
  const ownNs = sandbox.mode.kind === 'own' ? ownNetnsPath(ctx.execRoot, sandbox.id) : null;
  const paths = sandboxPaths(ctx.execRoot, sandbox.id);
  const endpoints = ctx.state.endpointsOfSandbox(sandbox.id);
  // Other hosts stop sending first; without the cluster store this fails and nothing changes.
  for (const e of endpoints) await withdrawEndpoint(ctx, e);
  const journal = ctx.store.beginJournal({ op: 'removeSandbox', sandboxId: sandbox.id, nsPath: ownNs, filesDir: paths.dir } satisfies JournalEntry);
  await teardownSandbox(ctx, sandbox, ownNs, paths.dir);
  ctx.store.transaction((tx) => {
    for (const e of endpoints) tx.deleteEndpoint(e.id);
    tx.deleteSandbox(sandbox.id);
    tx.endJournal(journal);
  });
  releasePorts(ctx, endpoints);
  for (const e of endpoints) {
    ctx.state.endpoints.delete(e.id);
    await releaseEndpointAddresses(ctx, e);
  }
  ctx.state.sandboxes.delete(sandbox.id);
}

/** Kernel and files of a sandbox, removed idempotently (also used to finish a crashed removal). */
export async function teardownSandbox(ctx: ControllerContext, sandbox: SandboxRecord, ownNs: string | null, filesDir: string): Promise<void> {
  for (const e of ctx.state.endpointsOfSandbox(sandbox.id)) {
    const network = ctx.state.networks.get(e.networkId);
    if (network) await leaveKernel(ctx, e, network, sandbox);
  }
  if (ownNs) deleteNetns(ownNs);
  fs.rmSync(filesDir, { recursive: true, force: true });
}

export async function connect(ctx: ControllerContext, network: NetworkRecord, sandbox: SandboxRecord, req: EndpointRequest): Promise<EndpointRecord> {
  checkCanJoin(ctx, sandbox, network, req, false);
  const current = ctx.state.endpointsOfSandbox(sandbox.id);
  const seq = current.length ? Math.max(...current.map((e) => e.seq)) + 1 : 0;
  const e = await planEndpoint(ctx, sandbox, network, req, seq);
  const next: SandboxRecord = { ...sandbox, nextInterface: sandbox.nextInterface + (e.ifName ? 1 : 0) };
  try {
    // A sandbox that had no way out (none, internal) publishes its ports once it gets one.
    if (!current.some((c) => c.ports.length)) allocatePorts(ctx, sandbox, [e]);
  } catch (err) {
    await releaseEndpointAddresses(ctx, e);
    throw err;
  }
  const journal = ctx.store.beginJournal(joinJournal(ctx, e, network, sandbox));
  try {
    await joinKernel(ctx, e, network, sandbox);
    try {
      await ensureDefaultRoutes(ctx, sandbox, [...current, e]);
      writeFiles(ctx, next, [...current, e]);
      await publishEndpoint(ctx, sandbox, e);
      try {
        ctx.store.transaction((tx) => {
          tx.putEndpoint(e);
          tx.putSandbox(next);
          tx.endJournal(journal);
        });
      } catch (err) {
        await withdrawEndpoint(ctx, e).catch(() => undefined);
        throw err;
      }
    } catch (err) {
      await leaveKernel(ctx, e, network, sandbox).catch(() => undefined);
      writeFiles(ctx, sandbox, current);
      throw err;
    }
  } catch (err) {
    releasePorts(ctx, [e]);
    await releaseEndpointAddresses(ctx, e);
    ctx.store.endJournal(journal);
    throw err;
  }
  ctx.state.endpoints.set(e.id, e);
  ctx.state.sandboxes.set(sandbox.id, next);
  refreshDependents(ctx, next);
  if (isGlobal(ctx, e)) await programPeers(ctx);
  // A handoff's way out is dockerd's own gateway bridge (it moves one interface per endpoint).
  if (ctx.drivers.get(network.driver).needsGatewayBridge && sandbox.mode.kind !== 'handoff') {
    const gw = await ensureGatewayBridge(ctx);
    if (!ctx.state.endpointOf(gw.id, sandbox.id)) await connect(ctx, gw, next, {});
  }
  return e;
}

export async function disconnect(ctx: ControllerContext, network: NetworkRecord, sandbox: SandboxRecord): Promise<void> {
  if (network.driver === 'host') throw invalid('container cannot be disconnected from host network or connected to host network');
  const e = ctx.state.endpointOf(network.id, sandbox.id);
  if (!e) throw new CnmError('forbidden', `container ${sandbox.id} is not connected to network ${network.name}`);
  await withdrawEndpoint(ctx, e);
  const journal = ctx.store.beginJournal({ ...joinJournal(ctx, e, network, sandbox), op: 'leave' } satisfies JournalEntry);
  await leaveKernel(ctx, e, network, sandbox);
  ctx.store.transaction((tx) => {
    tx.deleteEndpoint(e.id);
    tx.endJournal(journal);
  });
  ctx.state.endpoints.delete(e.id);
  releasePorts(ctx, [e]);
  await releaseEndpointAddresses(ctx, e);
  const remaining = ctx.state.endpointsOfSandbox(sandbox.id);
  if (e.ports.length) movePorts(ctx, sandbox, remaining);
  await ensureDefaultRoutes(ctx, sandbox, remaining);
  writeFiles(ctx, sandbox, remaining);
  refreshDependents(ctx, sandbox);
  const gw = ctx.state.networkByName(GATEWAY_BRIDGE);
  const stillNeeded = remaining.some((r) => ctx.drivers.get(ctx.state.networks.get(r.networkId)!.driver).needsGatewayBridge);
  if (gw && gw.id !== network.id && !stillNeeded && ctx.state.endpointOf(gw.id, sandbox.id)) await disconnect(ctx, gw, sandbox);
}

export async function updateAliases(ctx: ControllerContext, network: NetworkRecord, sandbox: SandboxRecord, change: { add?: string[]; remove?: string[] }): Promise<EndpointRecord> {
  const e = ctx.state.endpointOf(network.id, sandbox.id);
  if (!e) throw forbidden(`container ${sandbox.id} is not connected to network ${network.name}`);
  const add = change.add ?? [];
  checkAliases(network, add);
  const missing = (change.remove ?? []).filter((a) => !e.aliases.includes(a));
  if (missing.length) throw new CnmError('notFound', `alias ${missing.join(', ')} not found on ${sandbox.name} in network ${network.name}`);
  const aliases = [...new Set([...e.aliases.filter((a) => !(change.remove ?? []).includes(a)), ...add])];
  const next: EndpointRecord = { ...e, aliases };
  await publishEndpoint(ctx, sandbox, next);
  ctx.store.transaction((tx) => tx.putEndpoint(next));
  ctx.state.endpoints.set(e.id, next);
  return next;
}

/** Whether the sandbox's namespace is on a network served by the embedded DNS. */
export function usesEmbeddedDns(ctx: ControllerContext, endpoints: EndpointRecord[]): boolean {
  return endpoints.some((e) => {
    const n = ctx.state.networks.get(e.networkId);
    return n !== undefined && hasServiceDiscovery(n, ctx.drivers);
  });
}

/** Renders and writes a sandbox's resolv.conf, hosts and hostname from its (owner's) endpoints. */
export function writeFiles(ctx: ControllerContext, sandbox: SandboxRecord, ownEndpoints?: EndpointRecord[]): void {
  const owner = ctx.state.namespaceOwner(sandbox);
  const endpoints = owner.id === sandbox.id && ownEndpoints ? ownEndpoints : ctx.state.endpointsOfSandbox(owner.id);
  const host = sandbox.mode.kind === 'host';
  const resolvConf = sandboxResolvConf({
    embeddedDns: !host && usesEmbeddedDns(ctx, endpoints),
    hostNamespace: host,
    user: sandbox.dns,
    host: ctx.hostResolv(),
  });
  const hosts = host
    ? readOr('/etc/hosts', '')
    : sandboxHosts({
        hostname: sandbox.hostname,
        domainname: sandbox.domainname,
        extraHosts: sandbox.extraHosts,
        addresses: endpoints.flatMap((e) => [e.ipv4, e.ipv6].filter(Boolean).map(stripPrefixLength)),
      });
  writeSandboxFiles(sandboxPaths(ctx.execRoot, sandbox.id), { resolvConf, hosts, hostname: sandbox.hostname });
}

/** The endpoint that carried the published ports left: they follow the new gateway endpoint. */
function movePorts(ctx: ControllerContext, sandbox: SandboxRecord, remaining: EndpointRecord[]): void {
  const candidates = remaining.map((r) => ({ ...r, ports: [] }));
  try {
    const holder = allocatePorts(ctx, sandbox, candidates);
    if (!holder) return;
    ctx.store.transaction((tx) => tx.putEndpoint(holder));
    ctx.state.endpoints.set(holder.id, holder);
  } catch (err) {
    ctx.log.log('warn', 'published ports could not move to the next network', { sandbox: sandbox.name, error: String(err) });
  }
}

function refreshDependents(ctx: ControllerContext, owner: SandboxRecord): void {
  for (const d of ctx.state.dependentsOf(owner.id)) writeFiles(ctx, d);
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

