/**
 * The embedded DNS through the real daemon: a lab (cnmd in a private host namespace, see
 * test/helpers/lab.ts) plus upstream stubs listening inside that host namespace, where the
 * daemon dials its upstreams from (never the machine's resolver, never the machine's loopback),
 * and the clients the tests ask with: dig (resolver-lab's parser), glibc through `cnm exec`,
 * dns2 and raw sockets in Node scripts run inside a sandbox.
 */
import { Lab, type LabOptions } from '../helpers/lab';
import { dig, type DigResult } from './resolver-lab';
import { startStub, type Stub, type StubBehaviour } from './resolver-stub';

interface Teardown {
  teardown(fn: () => unknown): void;
  comment(...message: unknown[]): void;
}

export class DnsLab {
  private readonly namespaces = new Map<string, string>();

  private constructor(readonly lab: Lab) {}

  /** A lab whose daemon follows a resolv.conf naming 127.0.0.1 (unless opts say otherwise). */
  static async start(t: Teardown, opts: LabOptions = {}): Promise<DnsLab> {
    const lab = await Lab.start(opts);
    t.teardown(async () => {
      await lab.close();
      // A crash or an error the daemon logged explains a failure better than the failed assertion.
      const worrying = lab.daemonLog.split('\n').filter((l) => l.trim() !== '' && !/^\{.*"level":"(debug|info|warn)"/.test(l));
      if (worrying.length > 0) t.comment(`cnmd said:\n${worrying.slice(0, 40).join('\n')}`);
    });
    return new DnsLab(lab);
  }

  /** An upstream stub on address:53 of the lab's host namespace; lo answers 127/8 already, others are added to lo. */
  async stub(t: Teardown, behaviour: StubBehaviour, address = '127.0.0.1'): Promise<Stub> {
    if (!address.startsWith('127.')) await this.lab.inHost(['ip', 'addr', 'add', `${address}/32`, 'dev', 'lo']);
    const stub = await startStub(behaviour, { address, port: 53, netns: this.lab.hostNs });
    t.teardown(() => stub.close());
    return stub;
  }

  /** `cnm run -d --name NAME FLAGS... sleep infinity`; throws with the CLI's message on failure. */
  async run(name: string, ...flags: string[]): Promise<string> {
    const r = await this.lab.cli('run', '-d', '--name', name, ...flags, 'sleep', 'infinity');
    if (r.code !== 0) throw new Error(`cnm run ${name}: ${r.err}`);
    return r.out.trim();
  }

  async cli(...argv: string[]): Promise<string> {
    const r = await this.lab.cli(...argv);
    if (r.code !== 0) throw new Error(`cnm ${argv.join(' ')}: ${r.err}`);
    return r.out;
  }

  /** A sandbox's network namespace (looked up once: it does not change while the sandbox lives). */
  async ns(sandbox: string): Promise<string> {
    let ns = this.namespaces.get(sandbox);
    if (ns === undefined) {
      ns = await this.lab.sandboxNs(sandbox);
      this.namespaces.set(sandbox, ns);
    }
    return ns;
  }

  /** dig @127.0.0.11 from inside the sandbox, one try of 3 s. */
  async dig(sandbox: string, ...args: string[]): Promise<DigResult> {
    return dig(await this.ns(sandbox), ...args);
  }

  /** The A records dig gets for name, sorted. */
  async addresses(sandbox: string, name: string): Promise<string[]> {
    return (await this.dig(sandbox, name)).answers.filter((a) => a.type === 'A').map((a) => a.data).sort();
  }

  async ip(sandbox: string, network: string): Promise<string> {
    return (await this.cli('inspect', '-f', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, sandbox)).trim();
  }

  /** A program run inside the sandbox by `cnm exec` (its own /etc/resolv.conf and /etc/hosts). */
  exec(sandbox: string, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    return this.lab.cliProcess(['exec', sandbox, ...argv]);
  }

  async metrics(): Promise<Metrics> {
    const r = await this.lab.api('GET', '/metrics');
    if (r.status !== 200) throw new Error(`GET /metrics: ${r.status} ${r.raw}`);
    return new Metrics(r.raw);
  }
}

/** A Prometheus text exposition, read back. */
export class Metrics {
  constructor(readonly text: string) {}

  /** The value of one series, e.g. `cnm_dns_cache_hits_total` or `x{a="b"}`; 0 when absent. */
  value(series: string): number {
    const line = this.text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? 0 : Number(line.slice(series.length + 1));
  }

  /** Metric families declared by `# TYPE` lines, with their types. */
  families(): Record<string, string> {
    return Object.fromEntries([...this.text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
  }
}

/** Milliseconds fn took, with its result. */
export async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const value = await fn();
  return [value, Math.round(performance.now() - start)];
}

/** Polls until check() passes or timeoutMs has passed; returns the last value either way. */
export async function eventually<T>(fn: () => Promise<T>, check: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (check(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `1.2.3.4` → `4.3.2.1.in-addr.arpa` */
export const reverse4 = (ip: string): string => `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
