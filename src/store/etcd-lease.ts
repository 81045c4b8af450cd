/**
 * This host's lease in etcd: granted at start, kept alive every third of its TTL, and granted
 * again if etcd lets it expire (this host was cut off longer than the TTL). Every key the host
 * owns hangs off the lease, so they vanish from the others when the host dies; after a new grant
 * the owner re-attaches them (onGranted).
 */
import type { LeaseClient } from 'etcd3';
import type { Logger } from '../log';
import { messageOf } from '../errors';

export interface LeaseOptions {
  ttlSec: number;
  /** deadline of each grant/keepalive call */
  timeoutMs: number;
  /** re-attaches the host's keys to a new lease; retried on the next tick if it throws */
  onGranted: (leaseId: string) => Promise<void>;
  log: Logger;
}

export class HostLease {
  private id: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private pendingAttach = false;
  private stopped = false;

  constructor(
    private readonly client: LeaseClient,
    private readonly opts: LeaseOptions,
  ) {}

  /** The current lease; throws while there is none (cut off from etcd for longer than the TTL). */
  get current(): string {
    if (!this.id) throw new Error('this host has no lease in the cluster store');
    return this.id;
  }

  /**
   * Grants the first lease (its keys are put by the caller) and keeps it alive from then on.
   * Called again after a failed start, it keeps the lease it already has.
   */
  async start(): Promise<string> {
    const id = this.id ?? (await this.grant());
    if (!this.timer) {
      this.timer = setInterval(() => void this.tick(), Math.max(200, (this.opts.ttlSec * 1000) / 3));
      this.timer.unref();
    }
    return id;
  }

  async stop(opts: { revoke: boolean }): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    const id = this.id;
    this.id = undefined;
    if (opts.revoke && id) await this.client.leaseRevoke({ ID: id }, { deadline: Date.now() + this.opts.timeoutMs });
  }

  private async grant(): Promise<string> {
    const res = await this.client.leaseGrant({ TTL: this.opts.ttlSec, ID: 0 }, { deadline: Date.now() + this.opts.timeoutMs });
    this.id = res.ID;
    return res.ID;
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.stopped) return;
    this.ticking = true;
    try {
      const alive = this.id !== undefined && (await this.keepAlive(this.id));
      if (!alive) {
        this.opts.log.log('warn', 'the cluster store lease expired: taking a new one and re-publishing this host', { lease: this.id });
        this.id = undefined;
        await this.grant();
        this.pendingAttach = true;
      }
      if (this.pendingAttach && this.id) {
        await this.opts.onGranted(this.id);
        this.pendingAttach = false;
      }
    } catch (err) {
      // etcd unreachable or without quorum: the lease lives on in etcd until its TTL; try again.
      this.opts.log.log('debug', 'cluster store keepalive failed', { error: messageOf(err) });
    } finally {
      this.ticking = false;
    }
  }

  /** One keepalive round trip; false when etcd no longer knows the lease. */
  private async keepAlive(id: string): Promise<boolean> {
    const stream = await this.client.leaseKeepAlive({ deadline: Date.now() + this.opts.timeoutMs });
    try {
      const res = await new Promise<{ TTL: string }>((resolve, reject) => {
        stream.on('data', resolve);
        stream.on('error', reject);
        stream.on('end', () => reject(new Error('keepalive stream ended')));
        stream.write({ ID: id });
      });
      return Number(res.TTL) > 0;
    } finally {
      stream.end();
    }
  }
}
