/**
 * The etcd client as the cluster store uses it. Each store operation has one deadline; inside
 * it every RPC attempt gets at most `attemptMs` and is retried on another member while time is
 * left. A single deadline per attempt would not do: after the leader dies, a request a follower
 * forwarded to it is lost and waits out its whole deadline although the next attempt, once a new
 * leader is elected (1-2 s with etcd's defaults), succeeds in milliseconds.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ExponentialBackoff, handleWhen, noop, retry, type IBackoff } from 'cockatiel';
import { Etcd3, isRecoverableError } from 'etcd3';

export interface EtcdClient {
  client: Etcd3;
  /** Runs fn with every etcd call it makes bounded by `deadline` (epoch ms). */
  within<T>(deadline: number, fn: () => Promise<T>): Promise<T>;
}

export function createEtcdClient(hosts: string[], opts: { attemptMs: number; dialTimeoutMs: number }): EtcdClient {
  const operationDeadline = new AsyncLocalStorage<number>();
  /** Outside an operation (streams, the lease's own calls) a call gets one attempt of attemptMs. */
  const timeLeft = (): number | undefined => {
    const deadline = operationDeadline.getStore();
    return deadline === undefined ? undefined : deadline - Date.now();
  };
  const client = new Etcd3({
    hosts,
    dialTimeout: opts.dialTimeoutMs,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + Math.max(1, Math.min(opts.attemptMs, timeLeft() ?? opts.attemptMs)) }),
    faultHandling: {
      // No circuit breaker per member: a live follower timing out during an election is not
      // broken, and with every member's breaker open nothing would be tried at all.
      host: () => noop,
      global: retry(
        handleWhen((err) => isRecoverableError(err) && (timeLeft() ?? 0) > 50),
        { maxAttempts: 1000, backoff: new ExponentialBackoff({ initialDelay: 25, maxDelay: 250 }) },
      ),
      // etcd3 types this as a backoff state but uses it as cockatiel's factory (its default is one).
      watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1000 }) as unknown as IBackoff<unknown>,
    },
  });
  return { client, within: (deadline, fn) => operationDeadline.run(deadline, fn) };
}
