/**
 * Sandboxes (a container's network stack) and the endpoints that join them to networks.
 * Creation is all-or-nothing: the namespace, every endpoint and the files appear together or
 * not at all, whatever fails and even if the daemon dies half-way (see journal.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import { CnmError, conflict, forbidden, invalid } from '../errors';
import { stripPrefixLength } from '../ipam';
import type { ControllerContext } from './context';
import { netnsDir, ownNetnsPath } from './context';
import { allocatePorts, releasePorts } from './ports';
import { isGlobal, programPeers, publishEndpoint, withdrawEndpoint } from './cluster-sync';
import { ensureGatewayBridge } from './networks';
import type { EndpointRequest } from './endpoints';
import { checkAliases, checkCanJoin, checkExclusive, ensureDefaultRoutes, joinJournal, joinKernel, leaveKernel, planEndpoint } from './endpoints';
import { newId, nowRfc3339Nano, resolveRef, shortId, VALID_NAME } from './ids';
import { restoreSandbox } from './reconcile';
import { forgetEndpoints, forgetSandbox, teardownSandboxKernel } from './teardown';
import type { UndoStack } from './undo';
import { withUndo } from './undo';
import { beginJournal } from './journal';
import type { EndpointRecord, NetworkRecord, PublishedPortRequest, SandboxMode, SandboxRecord } from './model';
import { randomName } from './names';
import { sandboxHosts, sandboxPaths, sandboxResolvConf, writeSandboxFiles } from './sandbox-files';
import { neverStarted } from './sandbox-record';
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
  const networkRef = modeText === 'default' ? ctx.drivers.defaultNetwork().spec.name : modeText;
  const primary = resolveRef(ctx.state.networks.values(), networkRef, 'network');
  return { mode: ctx.drivers.get(primary.driver).sandboxNamespace === 'daemon' ? { kind: 'host' } : { kind: 'own' }, primary };
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
    process: neverStarted(),
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
  const endpoints = await withUndo(ctx.log, `create sandbox ${sandbox.name}`, async (undo) => {
    const journals = [beginJournal(ctx, undo, { op: 'createSandbox', sandboxId: id, nsPath: ownNs, filesDir: paths.dir })];
    const planned: EndpointRecord[] = [];
    for (const j of joins) {
      checkCanJoin(ctx, sandbox, j.network, j.req, true);
      checkExclusive(ctx, j.network, planned);
      const e = await planEndpoint(ctx, undo, sandbox, j.network, j.req, planned.length);
      planned.push(e);
      if (e.ifName) sandbox.nextInterface++;
    }
    reservePorts(ctx, undo, sandbox, planned);
    if (ownNs) {
      fs.mkdirSync(netnsDir(ctx.execRoot), { recursive: true });
      undo.push(`namespace ${ownNs}`, () => ctx.os.deleteNetns(ownNs));
      ctx.os.createNetns(ownNs);
    }
    const joined = await joinEndpoints(ctx, undo, sandbox, planned, journals);
    if (ownNs) await ensureDefaultRoutes(ctx, sandbox, joined);
    undo.push(`the files of sandbox ${sandbox.name} in ${paths.dir}`, () => fs.rmSync(paths.dir, { recursive: true, force: true }));
    writeFiles(ctx, sandbox, joined);
    await publishEndpoints(ctx, undo, sandbox, joined);
    commitJoined(ctx, sandbox, joined, journals);
    return joined;
  });
  ctx.state.sandboxes.set(id, sandbox);
  for (const e of endpoints) ctx.state.endpoints.set(e.id, e);
  if (endpoints.some((e) => isGlobal(ctx, e))) await programPeers(ctx);
  return sandbox;
}

/** Host ports for the sandbox's published ports, on the endpoint that carries them. */
function reservePorts(ctx: ControllerContext, undo: UndoStack, sandbox: SandboxRecord, endpoints: EndpointRecord[]): void {
  const holder = allocatePorts(ctx, sandbox, endpoints);
  if (holder) undo.push(`the host ports of endpoint ${holder.id}`, () => releasePorts(ctx, [holder]));
}

/** Each endpoint's journal entry, then its kernel work; returns them with the gateways join reported. */
async function joinEndpoints(ctx: ControllerContext, undo: UndoStack, sandbox: SandboxRecord, planned: EndpointRecord[], journals: number[]): Promise<EndpointRecord[]> {
  const joined: EndpointRecord[] = [];
  for (const e of planned) {
    const network = ctx.state.networks.get(e.networkId)!;
    journals.push(beginJournal(ctx, undo, joinJournal(ctx, e, network, sandbox)));
    // Pushed first: a join that fails half-way leaves what leave removes.
    undo.push(`the interface ${e.ifName || '(none)'} of ${sandbox.name} on ${network.name}`, () => leaveKernel(ctx, e, network, sandbox));
    joined.push(await joinKernel(ctx, e, network, sandbox));
  }
  return joined;
}

async function publishEndpoints(ctx: ControllerContext, undo: UndoStack, sandbox: SandboxRecord, endpoints: EndpointRecord[]): Promise<void> {
  for (const e of endpoints) {
    await publishEndpoint(ctx, sandbox, e);
    if (isGlobal(ctx, e)) undo.push(`endpoint ${e.id} in the cluster store`, () => withdrawEndpoint(ctx, e));
  }
}

async function withdrawEndpoints(ctx: ControllerContext, undo: UndoStack, sandbox: SandboxRecord, endpoints: EndpointRecord[]): Promise<void> {
  for (const e of endpoints) {
    await withdrawEndpoint(ctx, e);
    if (isGlobal(ctx, e)) undo.push(`endpoint ${e.id} missing from the cluster store`, () => publishEndpoint(ctx, sandbox, e));
  }
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
  await withUndo(ctx.log, `remove sandbox ${sandbox.name}`, async (undo) => {
    // Other hosts stop sending first; without the cluster store this fails and nothing changes.
    await withdrawEndpoints(ctx, undo, sandbox, endpoints);
    const journal = beginJournal(ctx, undo, { op: 'removeSandbox', sandboxId: sandbox.id, nsPath: ownNs, filesDir: paths.dir });
    // A teardown that failed half-way: the records still say the sandbox exists; the kernel follows them again.
    undo.push(`sandbox ${sandbox.name}, half removed`, () => restoreSandbox(ctx, sandbox, new Set(endpoints.map((e) => e.id))));
    await teardownSandbox(ctx, sandbox, ownNs, paths.dir);
    await forgetSandbox(ctx, sandbox, [journal]);
  });
}

/** Kernel and files of a recorded sandbox, removed idempotently (also to finish a crashed removal). */
export async function teardownSandbox(ctx: ControllerContext, sandbox: SandboxRecord, ownNs: string | null, filesDir: string): Promise<void> {
  const leaves = ctx.state.endpointsOfSandbox(sandbox.id).flatMap((e) => {
    const network = ctx.state.networks.get(e.networkId);
    return network ? [joinJournal(ctx, e, network, sandbox)] : [];
  });
  await teardownSandboxKernel(ctx, leaves, ownNs, filesDir);
}

/** One commit: the sandbox's record, its new endpoints, and the end of their journal entries. */
function commitJoined(ctx: ControllerContext, sandbox: SandboxRecord, endpoints: EndpointRecord[], journals: number[]): void {
  ctx.store.transaction((tx) => {
    tx.putSandbox(sandbox);
    for (const e of endpoints) tx.putEndpoint(e);
    for (const j of journals) tx.endJournal(j);
  });
}

/**
 * Connects the sandbox to the network, and to the gateway bridge when the network's driver needs
 * one and the sandbox is not on it yet: all in one operation, all or nothing.
 */
export async function connect(ctx: ControllerContext, network: NetworkRecord, sandbox: SandboxRecord, req: EndpointRequest): Promise<EndpointRecord> {
  checkCanJoin(ctx, sandbox, network, req, false);
  const targets = [{ network, req }];
  // A handoff's way out is dockerd's own gateway bridge (it moves one interface per endpoint).
  if (ctx.drivers.get(network.driver).needsGatewayBridge && sandbox.mode.kind !== 'handoff') {
    const gw = await ensureGatewayBridge(ctx);
    if (!ctx.state.endpointOf(gw.id, sandbox.id)) {
      checkCanJoin(ctx, sandbox, gw, {}, false);
      targets.push({ network: gw, req: {} });
    }
  }
  const current = ctx.state.endpointsOfSandbox(sandbox.id);
  const next: SandboxRecord = { ...sandbox };
  const joined = await withUndo(ctx.log, `connect ${sandbox.name} to ${network.name}`, async (undo) => {
    const planned: EndpointRecord[] = [];
    let seq = current.length ? Math.max(...current.map((e) => e.seq)) + 1 : 0;
    for (const t of targets) {
      const e = await planEndpoint(ctx, undo, next, t.network, t.req, seq++);
      planned.push(e);
      if (e.ifName) next.nextInterface++;
    }
    // A sandbox that had no way out (none, internal) publishes its ports once it gets one.
    if (!current.some((c) => c.ports.length)) reservePorts(ctx, undo, sandbox, planned);
    const journals: number[] = [];
    const endpoints = await joinEndpoints(ctx, undo, sandbox, planned, journals);
    await ensureDefaultRoutes(ctx, sandbox, [...current, ...endpoints], undo);
    // A sandbox this connect records (a Docker endpoint's) had no files before.
    const recorded = ctx.state.sandboxes.has(sandbox.id);
    undo.push(`the files of sandbox ${sandbox.name} as connected to ${network.name}`, () =>
      recorded ? writeFiles(ctx, sandbox, current) : fs.rmSync(sandboxPaths(ctx.execRoot, sandbox.id).dir, { recursive: true, force: true }),
    );
    writeFiles(ctx, next, [...current, ...endpoints]);
    await publishEndpoints(ctx, undo, sandbox, endpoints);
    // A Docker endpoint's sandbox is recorded by this commit (handoffs.ts).
    commitJoined(ctx, next, endpoints, journals);
    return endpoints;
  });
  for (const e of joined) ctx.state.endpoints.set(e.id, e);
  ctx.state.sandboxes.set(sandbox.id, next);
  refreshDependents(ctx, next);
  if (joined.some((e) => isGlobal(ctx, e))) await programPeers(ctx);
  return joined[0]!;
}

/**
 * Disconnects the sandbox from the network, and from the gateway bridge when no network left
 * needs it: in one operation. A leave that fails half-way is undone by making the endpoints
 * again from their records; the journal finishes the removal if even that fails.
 */
export async function disconnect(ctx: ControllerContext, network: NetworkRecord, sandbox: SandboxRecord): Promise<void> {
  if (ctx.drivers.get(network.driver).sandboxNamespace === 'daemon') throw invalid('container cannot be disconnected from host network or connected to host network');
  const e = ctx.state.endpointOf(network.id, sandbox.id);
  if (!e) throw new CnmError('forbidden', `container ${sandbox.id} is not connected to network ${network.name}`);
  const current = ctx.state.endpointsOfSandbox(sandbox.id);
  const leaving = [e, ...unneededGatewayBridge(ctx, sandbox, network, current.filter((c) => c.id !== e.id))];
  const remaining = current.filter((c) => !leaving.includes(c));
  await withUndo(ctx.log, `disconnect ${sandbox.name} from ${network.name}`, async (undo) => {
    await withdrawEndpoints(ctx, undo, sandbox, leaving);
    const journals = leaving.map((l) => beginJournal(ctx, undo, { ...joinJournal(ctx, l, ctx.state.networks.get(l.networkId)!, sandbox), op: 'leave' }));
    undo.push(`the interfaces of ${sandbox.name} on the networks it was leaving`, () => restoreSandbox(ctx, sandbox, new Set(leaving.map((l) => l.id))));
    for (const l of leaving) await leaveKernel(ctx, l, ctx.state.networks.get(l.networkId)!, sandbox);
    await ensureDefaultRoutes(ctx, sandbox, remaining, undo);
    undo.push(`the files of sandbox ${sandbox.name} as disconnected from ${network.name}`, () => writeFiles(ctx, sandbox, current));
    writeFiles(ctx, sandbox, remaining);
    await forgetEndpoints(ctx, leaving, journals);
  });
  if (leaving.some((l) => l.ports.length)) movePorts(ctx, sandbox, remaining);
  refreshDependents(ctx, sandbox);
}

/** The sandbox's gateway bridge endpoint, when no network it keeps needs it any more. */
function unneededGatewayBridge(ctx: ControllerContext, sandbox: SandboxRecord, leaving: NetworkRecord, others: EndpointRecord[]): EndpointRecord[] {
  const name = ctx.drivers.gatewayBridge()?.spec.name;
  const gw = name === undefined ? undefined : ctx.state.networkByName(name);
  if (!gw || gw.id === leaving.id) return [];
  const stillNeeded = others.some((r) => ctx.drivers.get(ctx.state.networks.get(r.networkId)!.driver).needsGatewayBridge);
  const e = ctx.state.endpointOf(gw.id, sandbox.id);
  return !stillNeeded && e ? [e] : [];
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

