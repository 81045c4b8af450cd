/**
 * Deleting a network device is slow in the kernel (~20 ms: it waits for an RCU grace period
 * inside the netlink call), and that call blocks the thread that makes it. On the daemon's main
 * thread it would stall every DNS query in flight, so deletions run on a worker thread with its
 * own rtnetlink sockets.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';

interface Request {
  id: number;
  name: string;
  nsPath?: string;
}

interface Reply {
  id: number;
  deleted?: boolean;
  error?: string;
}

export class LinkReaper {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (deleted: boolean) => void; reject: (err: Error) => void }>();

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(path.join(__dirname, 'link-reaper-worker.js'));
    worker.on('message', (reply: Reply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (reply.error !== undefined) p.reject(new Error(reply.error));
      else p.resolve(Boolean(reply.deleted));
    });
    worker.on('error', (err) => this.failAll(err));
    worker.on('exit', () => {
      this.worker = undefined;
      this.failAll(new Error('the link reaper thread exited'));
    });
    // Idle, the worker must not keep the daemon alive.
    worker.unref();
    this.worker = worker;
    return worker;
  }

  /** Deletes a link by name (in nsPath, or the daemon's namespace); false if it was not there. */
  delete(name: string, nsPath?: string): Promise<boolean> {
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref();
      const request: Request = { id, name, ...(nsPath ? { nsPath } : {}) };
      worker.postMessage(request);
    }).finally(() => {
      if (this.pending.size === 0) this.worker?.unref();
    }) as Promise<boolean>;
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

/** One reaper per process: the drivers and the controller share it. */
export const linkReaper = new LinkReaper();
