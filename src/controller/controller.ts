/**
 * cnm's libnetwork: the one place that decides what exists and how it is connected. Every
 * mutation runs alone (SerialQueue), completes or leaves no trace, and is followed by the
 * services (DNS, NAT) catching up before the caller gets its answer.
 */
import { CnmError } from '../errors';
import type { Logger } from '../log';
import type { ResolvConf } from '../os/resolvconf';
import type { DriverRegistry } from '../drivers/registry';
import { Ipam } from '../ipam';
import type { PortAllocator } from '../nat';
import type { ClusterSnapshot, ClusterStore } from '../store/cluster';
import type { SqliteStore } from '../store/sqlite';
import type { AttachRequest, Attachment } from './attachments';
import { attach, attachableNetwork, checkAttachment, hasVanishedAttachments, collectGarbage, detach, findAttachment, removeVanishedAttachments, unknownAttachment } from './attachments';
import { applySnapshot } from './cluster-sync';
import type { DockerPool, DockerPoolRequest } from './docker-ipam';
import { releaseDockerAddress, releaseDockerPool, requestDockerAddress, requestDockerPool, restoreDockerPools } from './docker-ipam';
import type { Handoff, HandoffRequest } from './handoffs';
import { createDockerNetwork, createHandoff, deleteDockerNetwork, hasPendingDockerRemovals, retryDockerRemovals, deleteHandoff, describeHandoff, handoffSandbox, publishHandoff, revokeHandoff } from './handoffs';
import type { ChangeListener, ControllerContext } from './context';
import { nsPathOf } from './context';
import type { EndpointRequest } from './endpoints';
import { resolveRef } from './ids';
import type { ProcessStartEntry } from './journal';
import { ticksSinceBoot } from '../os/proc';
import type { EndpointRecord, NetworkRecord, PortBindingRecord, ProcessState, PublishedPortRequest, SandboxRecord } from './model';
import type { CreateNetworkRequest } from './networks';
import { createNetwork, ensurePredefinedNetworks, removeNetwork } from './networks';
import { restorePorts } from './ports';
import { loadState, reconcileKernel, removeOrphanFiles, replayJournal } from './reconcile';
import type { CreateSandboxRequest } from './sandboxes';
import { connect, createSandbox, disconnect, removeSandbox, updateAliases, writeFiles } from './sandboxes';
import type { ControllerOs } from './os';
import { linuxOs } from './os';
import { SerialQueue } from './serial';
import { State } from './state';

export interface ControllerOptions {
  store: SqliteStore;
  ipam: Ipam;
  /** IPAM for Docker's IPAM plugin protocol (an address space of its own); a default one if absent */
  dockerIpam?: Ipam;
  drivers: DriverRegistry;
  execRoot: string;
  hostResolv: () => ResolvConf;
  ports?: PortAllocator;
  cluster?: ClusterStore;
  log: Logger;
  /** the controller's own kernel work; Linux's unless a test gives a fake */
  os?: ControllerOs;
}

export class Controller {
  private readonly ctx: ControllerContext;
  private readonly queue = new SerialQueue();

  constructor(opts: ControllerOptions) {
    this.ctx = { ...opts, dockerIpam: opts.dockerIpam ?? new Ipam(), os: opts.os ?? linuxOs, state: new State(), listeners: [] };
  }

  get state(): State {
    return this.ctx.state;
  }

  addListener(listener: ChangeListener): void {
    this.ctx.listeners.push(listener);
  }

  /** Loads the store, repairs the kernel after whatever happened while we were down. */
  async start(): Promise<void> {
    await this.queue.run(async () => {
      loadState(this.ctx);
      restoreDockerPools(this.ctx);
      await replayJournal(this.ctx);
      restorePorts(this.ctx);
      removeOrphanFiles(this.ctx);
      await removeVanishedAttachments(this.ctx);
      await reconcileKernel(this.ctx);
      await ensurePredefinedNetworks(this.ctx);
      if (this.ctx.cluster) await applySnapshot(this.ctx, this.ctx.cluster.snapshot());
      await this.notify();
    });
  }

  /** The cluster store's watch saw a change: global networks and other hosts' endpoints. */
  clusterChanged(snapshot: ClusterSnapshot): Promise<void> {
    return this.mutate(() => applySnapshot(this.ctx, snapshot));
  }

  // ---- networks ----

  network(ref: string): NetworkRecord {
    return resolveRef(this.state.networks.values(), ref, 'network');
  }

  networks(): NetworkRecord[] {
    return [...this.state.networks.values()];
  }

  createNetwork(req: CreateNetworkRequest): Promise<NetworkRecord> {
    return this.mutate(() => createNetwork(this.ctx, req));
  }

  removeNetwork(ref: string): Promise<NetworkRecord> {
    return this.mutate(async () => {
      const n = this.network(ref);
      await removeNetwork(this.ctx, n);
      return n;
    });
  }

  /** Removes every user network without endpoints; returns their names. */
  pruneNetworks(keep: (n: NetworkRecord) => boolean = () => false): Promise<string[]> {
    return this.mutate(async () => {
      const removed: string[] = [];
      for (const n of this.networks()) {
        if (n.predefined || keep(n) || this.state.endpointsOfNetwork(n.id).length) continue;
        try {
          await removeNetwork(this.ctx, n);
        } catch (err) {
          // A global network still used on another host stays; prune goes on with the rest.
          if (n.scope === 'global' && err instanceof CnmError && err.kind === 'forbidden') continue;
          throw err;
        }
        removed.push(n.name);
      }
      return removed;
    });
  }

  connect(networkRef: string, sandboxRef: string, req: EndpointRequest): Promise<EndpointRecord> {
    return this.mutate(() => connect(this.ctx, this.network(networkRef), this.sandbox(sandboxRef), req));
  }

  /**
   * Docker's texts: an unknown sandbox is "No such container" unless force is set, when it is
   * looked for as an endpoint name (which lets a user clean up after a removed sandbox).
   */
  disconnect(networkRef: string, sandboxRef: string, force: boolean): Promise<void> {
    return this.mutate(async () => {
      const network = this.network(networkRef);
      let sandbox: SandboxRecord;
      try {
        sandbox = this.sandbox(sandboxRef);
      } catch (err) {
        if (force && err instanceof CnmError && err.kind === 'notFound') throw new CnmError('notFound', `endpoint ${sandboxRef} not found`);
        throw err;
      }
      await disconnect(this.ctx, network, sandbox);
    });
  }

  /**
   * Adds or removes network-scoped aliases of a connected sandbox without reconnecting it (Docker
   * cannot). Resolves once the embedded DNS answers with the change.
   */
  setAliases(networkRef: string, sandboxRef: string, change: { add?: string[]; remove?: string[] }): Promise<EndpointRecord> {
    return this.mutate(async () => updateAliases(this.ctx, this.network(networkRef), this.sandbox(sandboxRef), change));
  }

  // ---- sandboxes ----

  sandbox(ref: string): SandboxRecord {
    return resolveRef(this.state.sandboxes.values(), ref.replace(/^\//, ''), 'container');
  }

  sandboxes(): SandboxRecord[] {
    return [...this.state.sandboxes.values()];
  }

  endpointsOf(sandbox: SandboxRecord): EndpointRecord[] {
    return this.state.endpointsOfSandbox(this.state.namespaceOwner(sandbox).id);
  }

  nsPath(sandbox: SandboxRecord): string {
    return nsPathOf(this.ctx, sandbox);
  }

  createSandbox(req: CreateSandboxRequest): Promise<SandboxRecord> {
    return this.mutate(() => createSandbox(this.ctx, req));
  }

  removeSandbox(ref: string): Promise<SandboxRecord> {
    return this.mutate(async () => {
      const s = this.sandbox(ref);
      await removeSandbox(this.ctx, s);
      return s;
    });
  }

  // ---- attachments: runtimes' namespaces, through the CNI plugin (attachments.ts) ----

  /** The network a runtime may attach to by this name; throws the reason otherwise. */
  attachableNetwork(ref: string): NetworkRecord {
    return attachableNetwork(this.ctx, ref);
  }

  attach(req: AttachRequest): Promise<Attachment> {
    return this.mutate(() => attach(this.ctx, req));
  }

  /** Idempotent: false when there was nothing to remove. */
  detach(network: string, containerId: string, ifName: string): Promise<boolean> {
    return this.mutate(async () => {
      const a = findAttachment(this.ctx, network, containerId, ifName);
      if (a) await detach(this.ctx, a);
      return Boolean(a);
    });
  }

  /** What the attachment lacks (empty when complete); throws notFound when there is none. */
  checkAttachment(network: string, containerId: string, ifName: string): Promise<string[]> {
    return this.queue.run(async () => {
      const a = findAttachment(this.ctx, network, containerId, ifName);
      if (!a) throw unknownAttachment(network, containerId, ifName);
      return checkAttachment(this.ctx, a);
    });
  }

  collectGarbage(networkRef: string, valid: { containerId: string; ifName: string }[]): Promise<number> {
    return this.mutate(() => collectGarbage(this.ctx, attachableNetwork(this.ctx, networkRef), valid));
  }

  /** Removes attachments whose namespace the runtime destroyed without a DEL (polled by cnmd). */
  async removeVanishedAttachments(): Promise<string[]> {
    // Checked outside the queue first: every second, and the services are told only of a change.
    if (!hasVanishedAttachments(this.ctx)) return [];
    return this.mutate(() => removeVanishedAttachments(this.ctx));
  }

  // ---- handoffs: endpoints of Docker networks, through the Docker plugin (handoffs.ts) ----

  /** CreateNetwork: idempotent; an overlay uses the global network other dockerd hosts made. */
  createDockerNetwork(dockerNetworkId: string, req: CreateNetworkRequest): Promise<NetworkRecord> {
    return this.mutate(() => createDockerNetwork(this.ctx, dockerNetworkId, req));
  }

  createHandoff(req: HandoffRequest): Promise<Handoff> {
    return this.mutate(() => createHandoff(this.ctx, req));
  }

  /** The Docker endpoint's interface and gateways; undefined when cnm has no such endpoint. */
  handoff(dockerEndpointId: string): Handoff | undefined {
    const sandbox = handoffSandbox(this.ctx, dockerEndpointId);
    return sandbox && describeHandoff(this.ctx, sandbox);
  }

  /** Idempotent: false when there was nothing to remove. */
  deleteHandoff(dockerEndpointId: string): Promise<boolean> {
    return this.mutate(() => deleteHandoff(this.ctx, dockerEndpointId));
  }

  /** Publishes a Docker endpoint's -p ports with cnm's NAT (replacing earlier ones). */
  publishHandoff(dockerEndpointId: string, publish: PublishedPortRequest[]): Promise<PortBindingRecord[]> {
    return this.mutate(() => publishHandoff(this.ctx, dockerEndpointId, publish));
  }

  revokeHandoff(dockerEndpointId: string): Promise<void> {
    return this.mutate(() => revokeHandoff(this.ctx, dockerEndpointId));
  }

  /** Idempotent, and removes the network's remaining Docker endpoints first. */
  deleteDockerNetwork(dockerNetworkId: string): Promise<boolean> {
    return this.mutate(() => deleteDockerNetwork(this.ctx, dockerNetworkId));
  }

  /**
   * Docker removals that waited for the cluster store (handoffs.ts), tried again once it answers:
   * a read outside the queue first, so an unreachable store holds no other operation up.
   */
  async retryDockerRemovals(): Promise<void> {
    if (!this.ctx.cluster || !hasPendingDockerRemovals(this.ctx)) return;
    await this.ctx.cluster.usedSubnets();
    await this.mutate(() => retryDockerRemovals(this.ctx));
  }

  // ---- Docker's IPAM plugin protocol (docker-ipam.ts): changes nothing the services follow ----

  requestDockerPool(req: DockerPoolRequest): Promise<DockerPool> {
    return this.queue.run(async () => requestDockerPool(this.ctx, req));
  }

  releaseDockerPool(poolId: string): Promise<void> {
    return this.queue.run(async () => releaseDockerPool(this.ctx, poolId));
  }

  requestDockerAddress(poolId: string, preferred?: string): Promise<string> {
    return this.queue.run(async () => requestDockerAddress(this.ctx, poolId, preferred));
  }

  releaseDockerAddress(poolId: string, address: string): Promise<void> {
    return this.queue.run(async () => releaseDockerAddress(this.ctx, poolId, address));
  }


  /**
   * Journals a program start before the spawn (see ProcessStartEntry); `noteStarted` adds the
   * pid once known and `setProcess(..., journal)` ends the entry with the record.
   */
  beginProcessStart(sandbox: SandboxRecord): { id: number; entry: ProcessStartEntry } {
    const entry: ProcessStartEntry = { op: 'startProcess', sandboxId: sandbox.id, ownNsPath: sandbox.mode.kind === 'own' ? nsPathOf(this.ctx, sandbox) : null, notBeforeTicks: ticksSinceBoot() };
    return { id: this.ctx.store.beginJournal(entry), entry };
  }

  noteProcessStarted(journal: { id: number; entry: ProcessStartEntry }, pid: number, startTicks: number): void {
    journal.entry = { ...journal.entry, pid, startTicks };
    this.ctx.store.updateJournal(journal.id, journal.entry);
  }

  /** A start that spawned nothing: nothing to undo. */
  abandonProcessStart(journalId: number): void {
    this.ctx.store.endJournal(journalId);
  }

  /** Records the state of a sandbox's main process (the runtime reports it), ending its start's journal entry. */
  setProcess(sandboxId: string, process: ProcessState, journalId?: number): Promise<void> {
    return this.queue.run(async () => {
      const s = this.state.sandboxes.get(sandboxId);
      const next = s ? { ...s, process } : undefined;
      this.ctx.store.transaction((tx) => {
        if (next) tx.putSandbox(next);
        if (journalId !== undefined) tx.endJournal(journalId);
      });
      if (next) this.state.sandboxes.set(sandboxId, next);
    });
  }

  /** Upstreams changed (host resolv.conf edited): sandboxes without embedded DNS get new files. */
  refreshFiles(): Promise<void> {
    return this.queue.run(async () => {
      for (const s of this.state.sandboxes.values()) writeFiles(this.ctx, s);
    });
  }

  private mutate<T>(fn: () => Promise<T>): Promise<T> {
    return this.queue.run(async () => {
      const result = await fn();
      await this.notify();
      return result;
    });
  }

  private async notify(): Promise<void> {
    for (const l of this.ctx.listeners) {
      const start = process.hrtime.bigint();
      try {
        await l.stateChanged(this.state);
      } catch (err) {
        this.ctx.log.log('error', 'a service failed to follow a state change', { service: l.name, error: String(err) });
      }
      this.ctx.log.log('debug', 'service followed the change', { service: l.name, ms: Number(process.hrtime.bigint() - start) / 1e6 });
    }
  }
}
