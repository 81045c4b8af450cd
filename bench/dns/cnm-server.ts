/**
 * cnm's resolver as a server under test: constructs `Resolver` directly (the daemon is not needed),
 * loads N sandboxes on one network whose namespaces the bench made, and reports what an update
 * costs and how much memory the sandboxes take. Run inside the client namespace:
 *   node --expose-gc dist/bench/dns/cnm-server.js --dir DIR --sandboxes N --upstream IP
 * Prints one JSON line once serving, then serves until SIGTERM.
 */
import path from 'node:path';
import { Resolver, type DnsState } from '../../src/resolver';
import { benchState } from './lab-state';

function option(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0 || process.argv[i + 1] === undefined) throw new Error(`missing --${name}`);
  return process.argv[i + 1]!;
}

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

function memory(): { rss: number; heap: number; external: number } {
  gc();
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed, external: m.external + m.arrayBuffers };
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const dir = option('dir');
  const n = Number(option('sandboxes'));
  const resolver = new Resolver({ upstreams: [option('upstream')] });
  const state = benchState(n, (i) => path.join(dir, `ns-${i}`));

  // First load: includes code compiled and heap grown on first use, so RSS growth is an upper bound.
  const empty: DnsState = { networks: [], sandboxes: [] };
  const before = memory();
  const initialMs = await timed(() => resolver.update(state));
  const first = memory();
  // Steady state: the same sandboxes removed and added again.
  await resolver.update(empty);
  await new Promise((r) => setTimeout(r, 500));
  const emptied = memory();
  await resolver.update(state);
  const again = memory();

  // What later updates cost with N sandboxes live: nothing changed, one alias, one connect/disconnect.
  const network = state.networks[0]!;
  const withAlias: DnsState = {
    ...state,
    networks: [{ ...network, endpoints: network.endpoints.map((e, i) => (i === n >> 1 ? { ...e, names: [...e.names, 'extra-alias'] } : e)) }],
  };
  const extra = benchState(n + 1, (i) => path.join(dir, `ns-${i}`));
  const costs = { unchangedMs: [] as number[], aliasMs: [] as number[], connectMs: [] as number[], disconnectMs: [] as number[] };
  for (let i = 0; i < 7; i++) {
    costs.unchangedMs.push(await timed(() => resolver.update(state)));
    costs.aliasMs.push(await timed(() => resolver.update(withAlias)));
    costs.connectMs.push(await timed(() => resolver.update(extra)));
    costs.disconnectMs.push(await timed(() => resolver.update(state)));
  }

  console.log(
    JSON.stringify({
      ready: true,
      pid: process.pid,
      sandboxes: n,
      initialUpdateMs: initialMs,
      update: Object.fromEntries(Object.entries(costs).map(([k, v]) => [k, median(v)])),
      bytesPerSandbox: {
        retained: (again.heap + again.external - emptied.heap - emptied.external) / n,
        rssFirstLoad: (first.rss - before.rss) / n,
        rssSteady: (again.rss - emptied.rss) / n,
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
