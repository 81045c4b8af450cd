/**
 * Attachments: a container runtime's network namespace (handed over by the CNI plugin) joined
 * to cnm networks. The namespace is the runtime's: cnm never creates or deletes it. Otherwise an
 * attachment is an ordinary sandbox (mode 'attached') whose endpoints are made, journalled,
 * published and removed by the same code as every other sandbox's (connect, disconnect,
 * removeSandbox); this file only adds what differs: finding a sandbox by the runtime's
 * container id, and noticing namespaces the runtime destroyed without telling cnm.
 */
import fs from 'node:fs';
import { CnmError, conflict, invalid, notFound } from '../errors';
import type { ControllerContext } from './context';
import { resolveRef, newId, VALID_NAME } from './ids';
import type { AttachedMode, EndpointRecord, NetworkRecord, PublishedPortRequest, SandboxRecord } from './model';
import { connect, disconnect, removeSandbox } from './sandboxes';
import { sandboxPaths } from './sandbox-files';
import { forgetSandbox, teardownSandboxKernel } from './teardown';
import { withUndo } from './undo';
import { runtimeSandbox } from './sandbox-record';

/** Labels that show the runtime's view of an attachment in `cnm ps`, inspect and the Engine API. */
export const CONTAINER_ID_LABEL = 'io.cnm.cni.container-id';
export const NETNS_LABEL = 'io.cnm.cni.netns';

export interface AttachRequest {
  network: string;
  /** the runtime's CNI_CONTAINERID */
  containerId: string;
  ifName: string;
  nsPath: string;
  /** the sandbox's name (and DNS name): the runtime's container name, else its id */
  name: string;
  aliases: string[];
  ipv4?: string;
  ipv6?: string;
  mac?: string;
  publish: PublishedPortRequest[];
}

export interface Attachment {
  sandbox: SandboxRecord & { mode: AttachedMode };
  endpoint: EndpointRecord;
  network: NetworkRecord;
}

/** The namespace a path names now (st_dev:st_ino), or undefined if the path names none. */
export function namespaceIdentity(nsPath: string): string | undefined {
  try {
    const st = fs.statSync(nsPath);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

function isAttached(s: SandboxRecord): s is SandboxRecord & { mode: AttachedMode } {
  return s.mode.kind === 'attached';
}

export function attachedSandboxes(ctx: ControllerContext): (SandboxRecord & { mode: AttachedMode })[] {
  return [...ctx.state.sandboxes.values()].filter(isAttached);
}

function sandboxOfContainer(ctx: ControllerContext, containerId: string): (SandboxRecord & { mode: AttachedMode }) | undefined {
  return attachedSandboxes(ctx).find((s) => s.mode.containerId === containerId);
}

/** The networks a runtime can attach to: user-defined networks of drivers that join any namespace. */
export function attachableNetwork(ctx: ControllerContext, ref: string): NetworkRecord {
  const network = resolveRef(ctx.state.networks.values(), ref, 'network');
  if (!ctx.drivers.get(network.driver).runtimeAttachable) {
    const drivers = ctx.drivers.all().filter((d) => d.runtimeAttachable).map((d) => d.name);
    throw invalid(`network ${network.name} uses the ${network.driver} driver: the cnm CNI plugin attaches containers to ${drivers.join(' or ')} networks only`);
  }
  if (network.predefined) {
    throw invalid(`network ${network.name} is cnm's default bridge, which has no DNS: create a network for containers (cnm network create NAME) and install that one`);
  }
  return network;
}

export function findAttachment(ctx: ControllerContext, networkRef: string, containerId: string, ifName: string): Attachment | undefined {
  const sandbox = sandboxOfContainer(ctx, containerId);
  if (!sandbox) return undefined;
  const network = ctx.state.networkByName(networkRef) ?? ctx.state.networks.get(networkRef);
  if (!network) return undefined;
  const endpoint = ctx.state.endpointOf(network.id, sandbox.id);
  if (!endpoint || endpoint.ifName !== ifName) return undefined;
  return { sandbox, endpoint, network };
}

/**
 * ADD: the runtime's namespace joins the network. A container on a second cnm network is one
 * sandbox with two endpoints, as in Docker. All or nothing: a failure leaves no endpoint, and no
 * sandbox record if this was the container's first network.
 */
export async function attach(ctx: ControllerContext, req: AttachRequest): Promise<Attachment> {
  const network = attachableNetwork(ctx, req.network);
  const identity = namespaceIdentity(req.nsPath);
  if (!identity) throw invalid(`network namespace ${req.nsPath} does not exist`);
  let sandbox = sandboxOfContainer(ctx, req.containerId);
  if (sandbox && sandbox.mode.nsIdentity !== identity) {
    // The runtime reused the id for a new namespace without a DEL for the old one.
    ctx.log.log('warn', 'removing the attachment of a namespace the runtime replaced', { container: req.containerId, sandbox: sandbox.name });
    await removeSandbox(ctx, sandbox);
    sandbox = undefined;
  }
  if (sandbox) {
    if (ctx.state.endpointOf(network.id, sandbox.id)) throw conflict(`container ${req.containerId} is already attached to network ${network.name}: DEL it first`);
    if (ctx.state.endpointsOfSandbox(sandbox.id).some((e) => e.ifName === req.ifName)) {
      throw conflict(`container ${req.containerId} already has an interface ${req.ifName} from cnm: give this network another CNI_IFNAME`);
    }
  }
  const existing = sandbox;
  return withUndo(ctx.log, `attach container ${req.containerId} to ${network.name}`, async (undo) => {
    const target = existing ?? newAttachedSandbox(ctx, req, identity);
    if (!existing) undo.push(`the record of sandbox ${target.name}`, () => forgetEmptySandbox(ctx, target));
    // 127.0.0.11 lives on lo: the embedded DNS cannot listen in a namespace whose lo is down.
    await ctx.os.bringLoopbackUp(req.nsPath);
    const endpoint = await connect(ctx, network, target, {
      ifName: req.ifName,
      aliases: req.aliases,
      ...(req.ipv4 ? { ipv4: req.ipv4 } : {}),
      ...(req.ipv6 ? { ipv6: req.ipv6 } : {}),
      ...(req.mac ? { mac: req.mac } : {}),
    });
    return { sandbox: ctx.state.sandboxes.get(target.id) as Attachment['sandbox'], endpoint, network };
  });
}

/** Records the sandbox (committed alone: a crash before its first endpoint leaves a record reconcile removes). */
function newAttachedSandbox(ctx: ControllerContext, req: AttachRequest, nsIdentity: string): SandboxRecord & { mode: AttachedMode } {
  if (!VALID_NAME.test(req.name)) throw invalid(`container name "${req.name}" is not a valid cnm name: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  const clash = ctx.state.sandboxByName(req.name);
  if (clash) throw conflict(`the name "${req.name}" is already used by cnm sandbox ${clash.id}: rename the container or remove that sandbox`);
  // Podman's ids are Docker-style (64 hex): keeping them makes `cnm ps` and the runtime agree.
  const id = /^[0-9a-f]{64}$/.test(req.containerId) && !ctx.state.sandboxes.has(req.containerId) ? req.containerId : newId();
  const sandbox = runtimeSandbox({
    id,
    name: req.name,
    mode: { kind: 'attached', nsPath: req.nsPath, nsIdentity, containerId: req.containerId },
    networkMode: req.network,
    labels: { [CONTAINER_ID_LABEL]: req.containerId, [NETNS_LABEL]: req.nsPath },
    publish: req.publish,
  });

  ctx.store.transaction((tx) => tx.putSandbox(sandbox));
  ctx.state.sandboxes.set(id, sandbox);
  return sandbox;
}

/** A sandbox record without endpoints goes, with its files. */
async function forgetEmptySandbox(ctx: ControllerContext, sandbox: SandboxRecord): Promise<void> {
  await forgetSandbox(ctx, sandbox);
  await teardownSandboxKernel(ctx, [], null, sandboxPaths(ctx.execRoot, sandbox.id).dir);
}

/** DEL: the endpoint goes; with the container's last endpoint, the sandbox goes too. */
export async function detach(ctx: ControllerContext, a: Attachment): Promise<void> {
  if (ctx.state.endpointsOfSandbox(a.sandbox.id).length > 1) await disconnect(ctx, a.network, a.sandbox);
  else await removeSandbox(ctx, a.sandbox);
}

/** CHECK: what the attachment lacks, in words (empty when complete). */
export async function checkAttachment(ctx: ControllerContext, a: Attachment): Promise<string[]> {
  if (namespaceIdentity(a.sandbox.mode.nsPath) !== a.sandbox.mode.nsIdentity) return [`the network namespace ${a.sandbox.mode.nsPath} is gone`];
  const missing: string[] = [];
  const nsPath = a.sandbox.mode.nsPath;
  const iface = await ctx.os.interfaceState(nsPath, a.endpoint.ifName);
  if (!iface) return [`interface ${a.endpoint.ifName}`];
  if (!iface.up) missing.push(`interface ${a.endpoint.ifName} is down`);
  for (const cidr of [a.endpoint.ipv4, a.endpoint.ipv6]) if (cidr && !iface.addresses.includes(cidr)) missing.push(`address ${cidr} on ${a.endpoint.ifName}`);
  const lo = await ctx.os.interfaceState(nsPath, 'lo');
  if (!lo?.up) missing.push('lo is down (the embedded DNS at 127.0.0.11 needs it)');
  if (!a.network.internal && a.endpoint.ipv4 && !(await ctx.os.hasDefaultRoute(nsPath, 4))) missing.push('the IPv4 default route');
  return missing;
}

/** GC: the network's attachments the runtime no longer knows, removed. Returns how many. */
export async function collectGarbage(ctx: ControllerContext, network: NetworkRecord, valid: { containerId: string; ifName: string }[]): Promise<number> {
  const keep = new Set(valid.map((v) => `${v.containerId}\u0000${v.ifName}`));
  let removed = 0;
  for (const sandbox of attachedSandboxes(ctx)) {
    const endpoint = ctx.state.endpointOf(network.id, sandbox.id);
    if (!endpoint || keep.has(`${sandbox.mode.containerId}\u0000${endpoint.ifName}`)) continue;
    await detach(ctx, { sandbox, endpoint, network });
    removed++;
  }
  return removed;
}

/**
 * Attachments whose namespace the runtime destroyed without a DEL (a runtime killed, a `ctr`
 * task gone): removed as a DEL would. cnm's DNS sockets keep the namespace object alive, so the
 * sign is the path: gone, or naming another namespace. Also drops a record left without
 * endpoints by a crash between its two commits.
 */
export async function removeVanishedAttachments(ctx: ControllerContext): Promise<string[]> {
  const removed: string[] = [];
  for (const sandbox of attachedSandboxes(ctx)) {
    const gone = isVanished(sandbox);
    const empty = ctx.state.endpointsOfSandbox(sandbox.id).length === 0;
    if (!gone && !empty) continue;
    ctx.log.log('info', gone ? 'removing the attachment of a namespace the runtime destroyed' : 'removing an attachment without endpoints', {
      sandbox: sandbox.name,
      container: sandbox.mode.containerId,
    });
    try {
      if (empty) await forgetEmptySandbox(ctx, sandbox);
      else await removeSandbox(ctx, sandbox);
      removed.push(sandbox.name);
    } catch (err) {
      ctx.log.log('error', 'could not remove a vanished attachment', { sandbox: sandbox.name, error: err instanceof CnmError ? err.message : String(err) });
    }
  }
  return removed;
}

function isVanished(sandbox: SandboxRecord & { mode: AttachedMode }): boolean {
  return namespaceIdentity(sandbox.mode.nsPath) !== sandbox.mode.nsIdentity;
}

/** Whether any attachment's namespace is gone: a stat each, so the poll changes nothing otherwise. */
export function hasVanishedAttachments(ctx: ControllerContext): boolean {
  return attachedSandboxes(ctx).some(isVanished);
}

/** A DEL or CHECK for an attachment cnm does not have. */
export function unknownAttachment(network: string, containerId: string, ifName: string): CnmError {
  return notFound(`container ${containerId} has no interface ${ifName} on cnm network ${network}`);
}
