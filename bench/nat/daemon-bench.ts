/**
 * bench/nat through the real daemon (as root; a private lab host namespace with cnmd inside,
 * test/integration/nat-daemon-lab.ts, removed at the end):
 *
 * 1. `cnm run -d -p P:80` (sandbox create + start, ending in one whole-ruleset apply) and
 *    `cnm rm -f` while 1, 100 and 1,000 ports are published, and one `cnm run` publishing a
 *    1,000-port range at once.
 * 2. TCP connect latency from the external client namespace through a daemon-made mapping
 *    (client → host:8080 → sandbox) with 1 and with 1,000 ports published.
 *
 * Usage: node dist/bench/nat/daemon-bench.js [--rounds N] [--connects N] [--connect-rounds N]
 */
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { HOST_IP, NatDaemonLab } from '../../test/integration/nat-daemon-lab';

const exec = promisify(execFile);

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const ROUNDS = option('--rounds', 9);
const CONNECTS = option('--connects', 300);
const CONNECT_ROUNDS = option('--connect-rounds', 5);

const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);
const percentile = (xs: number[], p: number): number => sorted(xs)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const median = (xs: number[]): number => percentile(xs, 0.5);
const fmt = (x: number, digits = 1): string => x.toFixed(digits);

async function timed(fn: () => Promise<{ code: number; err: string }>): Promise<number> {
  const t0 = performance.now();
  const r = await fn();
  const ms = performance.now() - t0;
  if (r.code !== 0) throw new Error(r.err);
  return ms;
}

async function main(): Promise<void> {
  const cleanups: (() => unknown)[] = [];
  try {
    const lab = await NatDaemonLab.start({ teardown: (fn) => cleanups.push(fn) });
    const must = async (r: Promise<{ code: number; err: string }>): Promise<void> => {
      const done = await r;
      if (done.code !== 0) throw new Error(done.err);
    };
    await must(lab.cli('network', 'create', '--subnet', '10.65.0.0/16', 'web'));
    await must(lab.runServer('srv', ['--network', 'web', '-p', '8080:80'], ['tcp:80']));
    /** Publishes `count` more ports (one sandbox, one-to-one range), or none. */
    const bulk = async (count: number): Promise<number> => {
      if (count === 0) return 0;
      const range = `${20000}-${20000 + count - 1}`;
      return timed(() => lab.cli('run', '-d', '--name', 'bulk', '--network', 'web', '-p', `${range}:${range}`, 'sleep', 'infinity'));
    };
    const unbulk = async (count: number): Promise<void> => {
      if (count > 0) await must(lab.cli('rm', '-f', 'bulk'));
    };

    console.log(`bench/nat through cnmd on ${os.cpus().length} cores, node ${process.version}`);
    console.log(`\nsandbox life while N ports are published, median of ${ROUNDS}, ms`);
    console.log('published   cnm run -d -p P:80   cnm rm -f   (run publishing the extra ports at once)');
    for (const total of [1, 100, 1000]) {
      const bulkMs = await bulk(total - 1);
      const run: number[] = [];
      const rm: number[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        run.push(await timed(() => lab.cli('run', '-d', '--name', 'probe', '--network', 'web', '-p', '8090:80', 'sleep', 'infinity')));
        rm.push(await timed(() => lab.cli('rm', '-f', 'probe')));
      }
      const extra = total > 1 ? `${fmt(bulkMs)} (${total - 1} ports)` : '';
      console.log(`${String(total).padEnd(12)}${fmt(median(run)).padEnd(21)}${fmt(median(rm)).padEnd(12)}${extra}`);
      await unbulk(total - 1);
    }

    const client = path.join(__dirname, 'connect-client.js');
    const measure = async (): Promise<number[]> => {
      const { stdout } = await exec('nsenter', [`--net=${lab.client}`, process.execPath, client, HOST_IP, '8080', String(CONNECTS)]);
      return JSON.parse(stdout) as number[];
    };
    const scenarios: [string, number][] = [
      ['1 port published', 0],
      ['1,000 ports published', 999],
    ];
    const results = new Map<string, number[]>(scenarios.map(([name]) => [name, []]));
    // Interleaved rounds: background load on a shared machine hits both scenarios alike.
    for (let round = 0; round < CONNECT_ROUNDS; round++) {
      for (const [name, extra] of scenarios) {
        await bulk(extra);
        await measure(); // warm-up: neighbour entries, JIT
        results.get(name)!.push(...(await measure()));
        await unbulk(extra);
      }
    }
    console.log(`\nTCP connect, external client → ${HOST_IP}:8080 → sandbox (mapping made by cnmd), ${CONNECT_ROUNDS} interleaved rounds of ${CONNECTS} connects, µs`);
    console.log('scenario                  p50      p90      p99');
    for (const [name, times] of results) {
      console.log(`${name.padEnd(26)}${fmt(median(times), 0).padEnd(9)}${fmt(percentile(times, 0.9), 0).padEnd(9)}${fmt(percentile(times, 0.99), 0)}`);
    }
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
