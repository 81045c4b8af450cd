/**
 * The cluster store on etcd (see cluster.ts for the contract, etcd-keys.ts for the layout).
 * Every call carries a deadline: with quorum lost etcd never answers, and the caller gets
 * CnmError('unavailable') instead. Writes that must not collide are transactions that compare
 * before they write, retried with a fresh read when another host won the race; each retry is
 * safe when an earlier attempt did commit (a token or the object's own id tells it apart).
 */
import crypto from 'node:crypto';
import { EtcdLeaseInvalidError, type Etcd3, type IKeyValue, type Namespace, type Watcher } from 'etcd3';
import type { NetworkRecord } from '../controller/model';
import { CnmError, forbidden, messageOf, notFound } from '../errors';
import { ADDRESS_IN_USE, type PoolConfig, stripPrefixLength } from '../ipam';
import { canonicalIp, parseIp } from '../ipam/cidr';
import { silentLogger, type Logger } from '../log';
import type { ClusterEndpoint, ClusterHost, ClusterSnapshot, ClusterStore } from './cluster';
import { chooseAddress, planNetwork, vniOf } from './cluster-plan';
import { ClusterView, type KeyEvent } from './cluster-view';
import {
  addressesOf,
  addressKey,
  checkKeySegment,
  DEFAULT_PREFIX,
  endpointKey,
  endpointsOf,
  holdKey,
  holdsOf,
  hostKey,
  membersGuardKey,
  networkKey,
  NETWORKS,
  NETWORKS_GUARD,
} from './etcd-keys';
import { createEtcdClient, type EtcdClient } from './etcd-client';
import { HostLease } from './etcd-lease';
import { parseClusterStoreUrl } from './etcd-url';

export interface EtcdClusterOptions {
  /** the --cluster-store value: etcd://HOST:PORT[,HOST:PORT...] */
  url: string;
  /** the --cluster-advertise address: where other hosts send this host's VXLAN traffic */
  advertise: string;
  /** this host's id, kept by the caller across restarts */
  hostId: string;
  /** key prefix of every object (default /cnm/v1/) */
  prefix?: string;
  /** deadline of every operation (default 5000 ms: a leader election fits in it) */
  timeoutMs?: number;
  /** deadline of one RPC attempt inside an operation, retried while the operation has time (default 1000 ms) */
  attemptMs?: number;
  /** this host's lease: a dead host's objects vanish this long after its last keepalive (default 4 s) */
  leaseTtlSec?: number;
  /** full re-read of the prefix, in case a watch silently missed something (default 5000 ms) */
  resyncMs?: number;
  log?: Logger;
}

/** What this host holds under its lease, kept to re-attach it to a new lease. */
interface HeldAddress {
  networkId: string;
  address: string;
  /** the value written (holder and token): a release compares it instead of reading first */
  value: string;
}

interface AddressHolder {
  hostId: string;
  /** tells the holder's own retried transaction from another host's reservation */
  token: string;
}

export class EtcdClusterStore implements ClusterStore {
  readonly host: ClusterHost;
  private readonly client: Etcd3;
  private readonly within: EtcdClient['within'];
  private readonly ns: Namespace;
  private readonly timeoutMs: number;
  private readonly resyncMs: number;
  private readonly log: Logger;
  private readonly lease: HostLease;
  private readonly view = new ClusterView();
  private readonly listeners: ((snapshot: ClusterSnapshot) => void)[] = [];
  private readonly heldAddresses = new Map<string, HeldAddress>();
  private readonly published = new Map<string, ClusterEndpoint>();
  /** one allocation per network at a time on this host: the others race only other hosts */
  private readonly allocationQueues = new Map<string, Promise<unknown>>();
  private watcher: Watcher | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private resyncing: Promise<void> | undefined;
  private starting: Promise<void> | undefined;
  private watchCreation: Promise<void> | undefined;
  private started = false;
  private closed = false;

  constructor(opts: EtcdClusterOptions) {
    const hosts = parseClusterStoreUrl(opts.url);
    if (!parseIp(opts.advertise)) throw new CnmError('invalid', `invalid --cluster-advertise "${opts.advertise}": use this host's IP address on the underlay`);
    this.host = { id: checkKeySegment('host id', opts.hostId), advertise: canonicalIp(opts.advertise) };
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.resyncMs = opts.resyncMs ?? 5000;
    this.log = opts.log ?? silentLogger;
    const etcd = createEtcdClient(hosts, { attemptMs: opts.attemptMs ?? 1000, dialTimeoutMs: this.timeoutMs });
    this.client = etcd.client;
    this.within = etcd.within;
    this.ns = this.client.namespace(opts.prefix ?? DEFAULT_PREFIX);
    this.lease = new HostLease(this.client.leaseClient, {
      ttlSec: opts.leaseTtlSec ?? 4,
      timeoutMs: this.timeoutMs,
      onGranted: (id) => this.reattach(id),
      log: this.log,
    });
  }

  /**
   * Safe to call again after it failed (etcd unreachable at daemon start): every step keeps what
   * an earlier attempt achieved, and calls made while one is in progress wait for it.
   */
  async start(): Promise<void> {
    if (this.started) return;
    this.starting ??= this.withDeadline('connect to the cluster store', async () => {
      const lease = await this.lease.start();
      await this.ns.put(hostKey(this.host.id)).value(JSON.stringify(this.host)).lease(lease).exec();
      await this.resync();
      if (!this.watcher && !this.closed) await this.watch();
    }).finally(() => {
      this.starting = undefined;
    });
    await this.starting;
    if (this.started || this.closed) return;
    this.started = true;
    this.resyncTimer = setInterval(() => void this.resync().catch(() => undefined), this.resyncMs);
    this.resyncTimer.unref();
  }

  snapshot(): ClusterSnapshot {
    return this.view.snapshot();
  }

  onChange(listener: (snapshot: ClusterSnapshot) => void): void {
    this.listeners.push(listener);
  }

  async createNetwork(network: NetworkRecord): Promise<NetworkRecord> {
    checkKeySegment('network id', network.id);
    return this.withDeadline(`create network ${network.name}`, async () => {
      for (;;) {
        const guard = await this.modRevision(NETWORKS_GUARD);
        const existing = await this.readNetworks();
        // Our own earlier attempt committed (its reply was lost to a leader change).
        const mine = existing.find((n) => n.id === network.id);
        if (mine && mine.name === network.name && vniOf(mine) !== undefined) return mine;
        const { stored } = planNetwork(network, existing);
        const res = await this.ns
          .if(NETWORKS_GUARD, 'Mod', '==', guard)
          .then(this.ns.put(networkKey(network.id)).value(JSON.stringify(stored)), this.ns.put(NETWORKS_GUARD).value(`create ${network.id}`))
          .commit();
        if (res.succeeded) return stored;
      }
    }, () => this.deleteNetwork(network.id));
  }

  async deleteNetwork(networkId: string): Promise<void> {
    await this.withDeadline(`delete network ${this.networkName(networkId)}`, async () => {
      for (;;) {
        const members = await this.modRevision(membersGuardKey(networkId));
        const record = await this.ns.get(networkKey(networkId)).string();
        if (record === null) return;
        const name = (JSON.parse(record) as NetworkRecord).name;
        const endpoints = await this.ns.getAll().prefix(endpointsOf(networkId)).count();
        if (endpoints > 0) throw forbidden(`error while removing network: network ${name} id ${networkId} has active endpoints`);
        const holds = await this.ns.getAll().prefix(holdsOf(networkId)).count();
        if (holds > 0) throw forbidden(`error while removing network: network ${name} id ${networkId} is used by ${holds} Docker network(s): docker network rm them first`);
        const res = await this.ns
          .if(membersGuardKey(networkId), 'Mod', '==', members)
          .then(
            this.ns.delete().key(networkKey(networkId)),
            this.ns.delete().key(membersGuardKey(networkId)),
            this.ns.delete().prefix(addressesOf(networkId)),
            this.ns.delete().prefix(holdsOf(networkId)),
            this.ns.put(NETWORKS_GUARD).value(`delete ${networkId}`),
          )
          .commit();
        if (res.succeeded) break;
      }
      for (const [key, held] of this.heldAddresses) if (held.networkId === networkId) this.heldAddresses.delete(key);
    });
  }

  async holdNetwork(networkId: string, holderId: string): Promise<void> {
    const key = holdKey(checkKeySegment('network id', networkId), checkKeySegment('holder id', holderId));
    await this.withDeadline(`hold network ${this.networkName(networkId)}`, async () => {
      const res = await this.ns
        .if(networkKey(networkId), 'Version', '>', 0)
        .then(this.ns.put(key).value(JSON.stringify({ hostId: this.host.id })), this.ns.put(membersGuardKey(networkId)).value(`hold ${holderId}`))
        .commit();
      if (!res.succeeded) throw notFound(`network ${networkId} not found`);
    });
  }

  async releaseNetwork(networkId: string, holderId: string): Promise<void> {
    await this.withDeadline(`release network ${this.networkName(networkId)}`, async () => {
      await this.ns.delete().key(holdKey(networkId, holderId)).exec();
    });
  }

  async usedSubnets(): Promise<string[]> {
    return this.withDeadline('list global networks', async () => (await this.readNetworks()).flatMap((n) => n.pools.map((p) => p.subnet)));
  }

  requestAddress(networkId: string, pool: PoolConfig, preferred?: string): Promise<string> {
    return this.withDeadline(
      `reserve an address on network ${this.networkName(networkId)}`,
      () => this.serialized(networkId, () => this.reserve(networkId, pool, preferred)),
      (address) => this.releaseAddress(networkId, address),
    );
  }

  async releaseAddress(networkId: string, address: string): Promise<void> {
    const bare = canonicalIp(stripPrefixLength(address));
    const key = addressKey(networkId, bare);
    await this.withDeadline(`release address ${bare}`, async () => {
      const held = this.heldAddresses.get(key);
      const fast = held && (await this.ns.if(key, 'Value', '==', held.value).then(this.ns.delete().key(key)).commit()).succeeded;
      // Not known here (before a re-claim after restart) or rewritten meanwhile: read, then delete if ours.
      while (!fast) {
        const kv = await this.readKey(key);
        if (!kv || holderOf(kv)?.hostId !== this.host.id) break;
        const res = await this.ns.if(key, 'Mod', '==', kv.mod_revision).then(this.ns.delete().key(key)).commit();
        if (res.succeeded) break;
      }
      this.heldAddresses.delete(key);
    });
  }

  async reclaimAddresses(networkId: string, addresses: string[]): Promise<string[]> {
    return this.withDeadline(`reclaim addresses on network ${this.networkName(networkId)}`, async () => {
      const taken: string[] = [];
      for (const address of addresses) {
        const bare = canonicalIp(stripPrefixLength(address));
        if (!(await this.claim(networkId, bare))) taken.push(address);
      }
      return taken;
    });
  }

  async publishEndpoint(endpoint: ClusterEndpoint): Promise<void> {
    const record: ClusterEndpoint = { ...endpoint, hostId: this.host.id };
    const key = endpointKey(checkKeySegment('network id', endpoint.networkId), checkKeySegment('endpoint id', endpoint.id));
    await this.withDeadline(
      `publish endpoint ${endpoint.id}`,
      async () => {
        await this.putEndpoint(key, record, this.lease.current);
        this.published.set(key, record);
      },
      () => this.withdrawEndpoint(endpoint.networkId, endpoint.id),
    );
  }

  async withdrawEndpoint(networkId: string, endpointId: string): Promise<void> {
    const key = endpointKey(networkId, endpointId);
    await this.withDeadline(`withdraw endpoint ${endpointId}`, async () => {
      await this.ns.delete().key(key).exec();
      this.published.delete(key);
    });
  }

  async close(opts: { revoke?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    const watcher = this.watcher;
    this.watcher = undefined;
    try {
      await this.withDeadline('leave the cluster store', async () => {
        await watcher?.cancel();
        await this.lease.stop({ revoke: opts.revoke ?? false });
      });
    } catch (err) {
      this.log.log('warn', 'could not leave the cluster store cleanly', { error: messageOf(err) });
    } finally {
      this.client.close();
    }
  }

  /** Picks and reserves an address, retrying with what the winner took when another host races us. */
  private async reserve(networkId: string, pool: PoolConfig, preferred?: string): Promise<string> {
    const takenMeanwhile = new Set<string>();
    for (;;) {
      const used = (await this.ns.getAll().prefix(addressesOf(networkId)).keys()).map((k) => k.slice(addressesOf(networkId).length));
      const address = chooseAddress(pool, [...used, ...takenMeanwhile], preferred);
      if (await this.claim(networkId, address, { mustBeNew: true })) return address;
      if (preferred !== undefined) throw forbidden(ADDRESS_IN_USE);
      takenMeanwhile.add(address);
    }
  }

  /**
   * Puts an address under this host's lease if it is free (or already this host's, unless
   * mustBeNew); false when another host holds it. The network must exist.
   */
  private async claim(networkId: string, address: string, opts: { mustBeNew?: boolean } = {}): Promise<boolean> {
    const key = addressKey(networkId, address);
    const holder: AddressHolder = { hostId: this.host.id, token: crypto.randomBytes(8).toString('hex') };
    for (;;) {
      const existing = opts.mustBeNew ? undefined : await this.readKey(key);
      const mine = existing !== undefined && holderOf(existing)?.hostId === this.host.id;
      if (existing && !mine) return false;
      const res = await this.ns
        .if(networkKey(networkId), 'Version', '>', 0)
        .and(key, 'Mod', '==', existing?.mod_revision ?? 0)
        .then(this.ns.put(key).value(JSON.stringify(holder)).lease(this.lease.current))
        .else(this.ns.get(networkKey(networkId)), this.ns.get(key))
        .commit();
      if (res.succeeded) {
        this.heldAddresses.set(key, { networkId, address, value: JSON.stringify(holder) });
        return true;
      }
      const [networkRange, addressRange] = res.responses.map((r) => r.response_range);
      if (!networkRange?.kvs.length) throw notFound(`network ${networkId} not found`);
      const now = addressRange?.kvs[0];
      // An earlier attempt of this very call committed before its reply was lost.
      if (now && holderOf(now)?.token === holder.token) {
        this.heldAddresses.set(key, { networkId, address, value: now.value.toString() });
        return true;
      }
      if (opts.mustBeNew || (now && holderOf(now)?.hostId !== this.host.id)) return false;
    }
  }

  private async putEndpoint(key: string, record: ClusterEndpoint, lease: string): Promise<void> {
    const res = await this.ns
      .if(networkKey(record.networkId), 'Version', '>', 0)
      .then(this.ns.put(key).value(JSON.stringify(record)).lease(lease), this.ns.put(membersGuardKey(record.networkId)).value(this.host.id))
      .commit();
    if (!res.succeeded) throw notFound(`network ${record.networkId} not found`);
  }

  /** After a new lease (this host was cut off past its TTL): the host, its addresses and endpoints again. */
  private async reattach(lease: string): Promise<void> {
    await this.withDeadline('re-publish this host', async () => {
      await this.ns.put(hostKey(this.host.id)).value(JSON.stringify(this.host)).lease(lease).exec();
      for (const [key, held] of [...this.heldAddresses]) {
        const kept = await this.claim(held.networkId, held.address).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)));
        if (kept) continue;
        this.heldAddresses.delete(key);
        if (kept === false) this.log.log('error', 'an address this host used was taken by another host while this host was cut off from the cluster store', { ...held });
      }
      for (const [key, record] of [...this.published]) {
        await this.putEndpoint(key, record, lease).catch((err: unknown) => (isNotFound(err) ? this.published.delete(key) : Promise.reject(err)));
      }
    });
    this.log.log('info', 're-published this host in the cluster store', { lease, addresses: this.heldAddresses.size, endpoints: this.published.size });
  }

  /** Re-reads the whole prefix (at start, after a watch reconnects, and periodically). */
  private resync(): Promise<void> {
    this.resyncing ??= this.withDeadline('read the cluster store', async () => {
      const res = await this.ns.getAll().prefix('').exec();
      const kvs = res.kvs.map((kv) => ({ key: kv.key.toString(), value: kv.value.toString() }));
      const revision = BigInt(res.header.revision);
      // A linearizable read never goes back in time, unless etcd's data was replaced.
      const rewound = revision < this.view.appliedRevision;
      if (this.view.reset(kvs, revision, { rewound })) this.emitChange();
      if (rewound && !this.closed) {
        this.log.log('warn', "the cluster store's revision went back (its data was restored or replaced): watching again from there", { revision: String(revision) });
        const old = this.watcher;
        this.watcher = undefined;
        await old?.cancel();
        await this.watch();
      }
    }).finally(() => {
      this.resyncing = undefined;
    });
    return this.resyncing;
  }

  /** Starts the watch of the prefix; one creation at a time (a start retried while one hangs). */
  private watch(): Promise<void> {
    this.watchCreation ??= this.createWatcher().finally(() => {
      this.watchCreation = undefined;
    });
    return this.watchCreation;
  }

  private async createWatcher(): Promise<void> {
    const watcher = await this.ns
      .watch()
      .prefix('')
      .startRevision(String(this.view.appliedRevision + 1n))
      .create();
    if (this.closed) {
      await watcher.cancel();
      return;
    }
    this.watcher = watcher;
    watcher.on('data', (res) => {
      const events: KeyEvent[] = res.events.map((e) => ({
        type: e.type === 'Delete' ? 'delete' : 'put',
        key: e.kv.key.toString(),
        value: e.kv.value.toString(),
        revision: BigInt(e.kv.mod_revision),
      }));
      if (this.view.apply(events)) this.emitChange();
    });
    // The watch resumes where it stopped; the re-read covers a member that was cut off meanwhile.
    watcher.on('connected', () => void this.resync().catch(() => undefined));
    watcher.on('error', (err) => {
      // etcd cancelled the watch (its start revision was compacted): start over from a fresh read.
      this.log.log('warn', 'cluster store watch cancelled; re-reading', { error: messageOf(err) });
      if (this.watcher === watcher) this.watcher = undefined;
      void this.rewatch();
    });
  }

  private async rewatch(): Promise<void> {
    while (!this.closed && !this.watcher) {
      try {
        await this.withDeadline('watch the cluster store', async () => {
          await this.resync();
          await this.watch();
        });
      } catch {
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private emitChange(): void {
    const snapshot = this.view.snapshot();
    for (const listener of this.listeners) {
      try {
        listener(snapshot);
      } catch (err) {
        this.log.log('error', 'cluster store listener failed', { error: messageOf(err) });
      }
    }
  }

  /** For messages: the network's name as last seen, else its id. */
  private networkName(networkId: string): string {
    return this.view.snapshot().networks.find((n) => n.id === networkId)?.name ?? networkId;
  }

  private async readNetworks(): Promise<NetworkRecord[]> {
    const values = await this.ns.getAll().prefix(NETWORKS).strings();
    return Object.values(values).map((v) => JSON.parse(v) as NetworkRecord);
  }

  private async readKey(key: string): Promise<IKeyValue | undefined> {
    const res = await this.ns.get(key).exec();
    return res.kvs[0];
  }

  /** mod_revision of a key, 0 when absent (etcd compares an absent key's as 0). */
  private async modRevision(key: string): Promise<string> {
    return (await this.readKey(key))?.mod_revision ?? '0';
  }

  private serialized<T>(networkId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.allocationQueues.get(networkId) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(fn);
    const tail = run.catch(() => undefined);
    this.allocationQueues.set(networkId, tail);
    void tail.then(() => {
      if (this.allocationQueues.get(networkId) === tail) this.allocationQueues.delete(networkId);
    });
    return run;
  }

  /**
   * Runs an operation against etcd within the deadline; etcd's failures become 'unavailable'.
   * An operation that completes after its caller was told it failed is undone (`undo`), so a
   * reported failure leaves nothing behind in the cluster.
   */
  private async withDeadline<T>(what: string, fn: () => Promise<T>, undo?: (result: T) => Promise<unknown>): Promise<T> {
    const deadline = Date.now() + this.timeoutMs;
    const timedOut = (): CnmError =>
      new CnmError('unavailable', `cluster store unavailable: could not ${what} within ${this.timeoutMs / 1000} s (is a quorum of etcd members reachable?)`);
    let timer: NodeJS.Timeout | undefined;
    let expiredAlready = false;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        expiredAlready = true;
        reject(timedOut());
      }, this.timeoutMs);
    });
    const work = this.within(deadline, fn);
    if (undo) {
      void work.then(
        (result) => (expiredAlready ? undo(result).catch((err: unknown) => this.log.log('warn', `could not undo a late ${what}`, { error: messageOf(err) })) : undefined),
        () => undefined,
      );
    }
    try {
      return await Promise.race([work, expired]);
    } catch (err) {
      if (err instanceof CnmError) throw err;
      // The last attempt's own deadline is the operation's: its error may beat the timer.
      if (Date.now() >= deadline - 100) throw timedOut();
      throw new CnmError('unavailable', `cluster store unavailable: could not ${what}: ${describe(err)}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }
}

function holderOf(kv: IKeyValue): AddressHolder | undefined {
  try {
    const v = JSON.parse(kv.value.toString()) as Partial<AddressHolder>;
    return typeof v.hostId === 'string' && typeof v.token === 'string' ? { hostId: v.hostId, token: v.token } : undefined;
  } catch {
    return undefined;
  }
}

/** A network deleted while this host was cut off: nothing of it to re-attach. */
function isNotFound(err: unknown): boolean {
  return err instanceof CnmError && err.kind === 'notFound';
}

function describe(err: unknown): string {
  if (err instanceof EtcdLeaseInvalidError) return "this host's lease expired";
  return messageOf(err);
}
