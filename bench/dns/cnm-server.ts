/**
 * cnm's resolver as a server under test: constructs `Resolver` directly (the daemon is not needed),
 * loads N sandboxes on one network whose namespaces the bench made, and reports what an update
 * costs and how much memory the sandboxes take. Run inside the client namespace:
 *   node --expose-gc dist/bench/dns/cnm-server.js --dir DIR --sandboxes N --upstream IP [--ns-prefix P]
 * Sandbox i listens in DIR/<P>ns-<i> (two harnesses, with and without the native responder, each
 * have their own namespaces: both listen on 127.0.0.11).
 * Prints one JSON line once serving, then serves until SIGTERM.
 */
import path from 'node:path';
import { Resolver, type DnsState } from '../../src/resolver';
import { benchState } from './lab-state';

function option(name: string, fallback?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0 || process.argv[i + 1] === undefined) {
    if (fallback !== undefined) return fallback;
    throw new Error(`missing --${name}`);
  }
  return process.argv[i + 1]!;
}

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

function memory(): { rss: number; heap: number; external: number } {
  gc();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed, external: m.external + m.arrayBuffers };
}

/** Process CPU time (ms) of the last timed() call: on a loaded machine wall time is mostly waiting. */
let lastCpuMs = 0;

async function timed(fn: () => Promise<void>): Promise<number> {
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  await fn();
  const used = process.cpuUsage(cpu);
  lastCpuMs = (used.user + used.system) / 1000;
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const dir = option('dir');
  const prefix = option('ns-prefix', '');
  const n = Number(option('sandboxes'));
  // A resolv.conf of the bench's own (missing: empty), never the machine's.
  const resolver = new Resolver({ upstreams: [option('upstream')], resolvConfPath: path.join(dir, 'resolv.conf') });
  const state = benchState(n, (i) => path.join(dir, `${prefix}ns-${i}`));

  // Baseline: the resolver warmed up (its code compiled) but holding no sandbox.
  const empty: DnsState = { networks: [], sandboxes: [] };
  await resolver.update(benchState(2, (i) => path.join(dir, `${prefix}ns-${i}`)));
  await resolver.update(empty);
  const before = memory();
  const initialMs = await timed(() => resolver.update(state));
  const loaded = memory();
  // V8 keeps the heap it grew while loading until it has been idle a while (its memory reducer).
  await new Promise((r) => setTimeout(r, 15_000));
  const settled = memory();

  // What later updates cost with N sandboxes live: nothing changed, one alias, one connect/disconnect.
  const network = state.networks[0]!;
  const withAlias: DnsState = {
    ...state,
    networks: [{ ...network, endpoints: network.endpoints.map((e, i) => (i === n >> 1 ? { ...e, names: [...e.names, 'extra-alias'] } : e)) }],
  };
  const extra = benchState(n + 1, (i) => path.join(dir, `${prefix}ns-${i}`));
  const costs = { unchangedMs: [] as number[], aliasMs: [] as number[], connectMs: [] as number[], disconnectMs: [] as number[] };
  const cpu = { unchangedMs: [] as number[], aliasMs: [] as number[], connectMs: [] as number[], disconnectMs: [] as number[] };
  // The first round after the idle wait runs cold (code not optimized yet, or flushed while
  // idle): reported on its own; the medians are of the rounds after the first five.
  const first = { unchangedMs: 0, aliasMs: 0, connectMs: 0, disconnectMs: 0 };
  const measure = async (round: number, key: keyof typeof costs, next: DnsState): Promise<void> => {
    const wall = await timed(() => resolver.update(next));
    if (round === 0) first[key] = lastCpuMs;
    if (round < 5) return;
    costs[key].push(wall);
    cpu[key].push(lastCpuMs);
  };
  for (let round = 0; round < 30; round++) {
    await measure(round, 'unchangedMs', state);
    await measure(round, 'aliasMs', withAlias);
    await measure(round, 'connectMs', extra);
    await measure(round, 'disconnectMs', state);
  }

  console.log(
    JSON.stringify({
      ready: true,
      pid: process.pid,
      sandboxes: n,
      initialUpdateMs: initialMs,
      update: Object.fromEntries(Object.entries(costs).map(([k, v]) => [k, median(v)])),
      updateCpu: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, median(v)])),
      updateCpuFirst: first,
      bytesPerSandbox: {
        retained: (settled.heap + settled.external - before.heap - before.external) / n,
        rssLoaded: (loaded.rss - before.rss) / n,
        rssSettled: (settled.rss - before.rss) / n,
      },
    }),
  );
  process.on('SIGTERM', () => {
    void resolver.close().then(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
