/**
 * The DNS resolution benchmark (root; see README.md):
 *   node dist/bench/dns/run.js [--sandboxes 1000] [--rounds 3] [--seconds 5] [--rate 5000] [--servers cnm,dnsmasq,...] [--svg FILE]
 * Builds its own lab (N sandbox namespaces, nothing in the host's), starts every server inside
 * the client sandbox pinned to core 0, runs dnsperf from that sandbox pinned to core 1, rounds of
 * interleaved runs (A, B, C, …, A, B, C, …), and prints one table of medians with ratios to cnm.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createNetns, deleteNetns } from '../../src/os/native';
import { nsfsMountsUnder } from './mounts';
import { GATEWAY_V4, GATEWAY_V6, queryFile, type Mix } from './lab-state';
import { cnmd, cnmdJs } from './cnmd-server';
import { aardvark, cFloor, cnm, cnmJs, dnsmasq, nodeFloor, unbound, type Lab, type Running, type ServerUnderTest } from './servers';
import { cnmDns } from './podman-dns';
import { benchSvg, type Cdf } from './svg';

/**
 * cnm is the resolver in a harness, cnmd the real daemon with its sandboxes made through the API,
 * both with the native responder; `cnm js` and `cnmd js` the same with CNM_DNS_NATIVE=0.
 */
const ALL_SERVERS = [cnm, cnmJs, cnmd, cnmdJs, cFloor, nodeFloor, dnsmasq, unbound, aardvark, cnmDns];

const run = promisify(execFile);
const SERVER_CPU = 0;
const CLIENT_CPU = 1;
const STUB_ADDRESS = '127.0.0.53';
const MIXES: Mix[] = ['local', 'mixed'];

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

/** utime + stime of a process (all its threads), in microseconds. */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100; // CLK_TCK is 100 on Linux
}

function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

interface Sample {
  qps: number;
  cpuPerQuery: number;
  p50: number;
  p99: number;
  lost: number;
  /** Lost in the unthrottled run (saturation). */
  floodLost: number;
  /** Every latency of the paced run, ms, sorted. */
  latencies: number[];
}

/** dnsperf pinned to the client core, in the namespace the server is asked from. */
async function dnsperf(lab: Lab, server: ServerUnderTest, running: Running, file: string, seconds: number, extra: string[]): Promise<string> {
  const args = [`--net=${running.clientNs ?? lab.clientNs}`, 'taskset', '-c', String(CLIENT_CPU), 'dnsperf', '-s', server.address, '-d', file, '-l', String(seconds), ...extra];
  if (server.source) args.push('-a', server.source);
  const { stdout } = await run('nsenter', args, { maxBuffer: 512 * 1024 * 1024 });
  return stdout;
}

async function measure(lab: Lab, server: ServerUnderTest, running: Running, file: string, seconds: number, rate: number): Promise<Sample> {
  // Unthrottled: the most it answers, and what each answer costs it.
  const cpuBefore = cpuMicros(running.pid);
  const flood = await dnsperf(lab, server, running, file, seconds, ['-c', '8', '-q', '500']);
  const cpu = cpuMicros(running.pid) - cpuBefore;
  const completed = Number(/Queries completed:\s+(\d+)/.exec(flood)?.[1] ?? 0);
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(flood)?.[1] ?? 0);

  // A fixed rate every server can sustain: latency as a container sees it.
  const paced = await dnsperf(lab, server, running, file, seconds, ['-c', '8', '-Q', String(rate), '-v']);
  const { latencies, lost, p50, p99 } = latencyOf(paced);
  const floodLost = Number(/Queries lost:\s+(\d+)/.exec(flood)?.[1] ?? 0);
  return { qps, cpuPerQuery: completed > 0 ? cpu / completed : NaN, p50, p99, lost, floodLost, latencies };
}

/** The latencies dnsperf -v printed, sorted (ms), their p50 and p99, and the queries lost. */
function latencyOf(paced: string): { latencies: number[]; lost: number; p50: number; p99: number } {
  const latencies = [...paced.matchAll(/^> \S+ \S+ \S+ ([\d.]+)$/gm)].map((m) => Number(m[1]) * 1000).sort((a, b) => a - b);
  const lost = Number(/Queries lost:\s+(\d+)/.exec(paced)?.[1] ?? 0);
  const pick = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  return { latencies, lost, p50: pick(0.5), p99: pick(0.99) };
}

/**
 * The daemon's latency at the fixed rate, quiet and while its API is kept busy (running.busy),
 * alternated `rounds` times. Returns the two sets of latencies and the API operations done.
 */
async function busyRuns(lab: Lab, server: ServerUnderTest, running: Running, file: string, seconds: number, rate: number, rounds: number): Promise<{ quiet: number[]; busy: number[]; operations: number }> {
  const quiet: number[] = [];
  const busy: number[] = [];
  let operations = 0;
  for (let round = 1; round <= rounds; round++) {
    const calm = latencyOf(await dnsperf(lab, server, running, file, seconds, ['-c', '8', '-Q', String(rate), '-v']));
    const stop = running.busy!();
    const loaded = latencyOf(await dnsperf(lab, server, running, file, seconds, ['-c', '8', '-Q', String(rate), '-v']));
    const done = await stop();
    operations += done;
    quiet.push(...calm.latencies);
    busy.push(...loaded.latencies);
    console.log(
      `busy ${round} ${server.name.padEnd(9)} quiet p50 ${calm.p50.toFixed(3)} p99 ${calm.p99.toFixed(3)} ms lost ${calm.lost} | API busy (${done} create/remove calls) p50 ${loaded.p50.toFixed(3)} p99 ${loaded.p99.toFixed(3)} ms lost ${loaded.lost}`,
    );
  }
  return { quiet: quiet.sort((a, b) => a - b), busy: busy.sort((a, b) => a - b), operations };
}

/**
 * cnm and another server loaded at the same time, at the same fixed rate, both on the server
 * core: whatever else the machine does affects both alike, so their CPU per query compares
 * better than across runs. Returns [cnm, other] in µs per query.
 */
interface Pair {
  /** CPU µs per query: cnm, the other. */
  cpu: [number, number];
  /** p99 latency (ms) in the same window: whatever descheduling the machine caused hit both. */
  p99: [number, number];
}

async function paired(lab: Lab, cnm: [ServerUnderTest, Running], other: [ServerUnderTest, Running], file: string, seconds: number, rate: number): Promise<Pair> {
  const before = [cpuMicros(cnm[1].pid), cpuMicros(other[1].pid)];
  const outputs = await Promise.all([cnm, other].map(([server, running]) => dnsperf(lab, server, running, file, seconds, ['-c', '8', '-Q', String(rate), '-v'])));
  const completed = outputs.map((out) => Number(/Queries completed:\s+(\d+)/.exec(out)?.[1] ?? 0));
  const p99 = outputs.map((out) => latencyOf(out).p99);
  return {
    cpu: [(cpuMicros(cnm[1].pid) - before[0]!) / completed[0]!, (cpuMicros(other[1].pid) - before[1]!) / completed[1]!],
    p99: [p99[0]!, p99[1]!],
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function table(servers: ServerUnderTest[], results: Map<string, Sample[]>, rss: Map<string, number>): string {
  const ratio = (value: number, base: number): string => (Number.isFinite(value / base) ? `${(value / base).toFixed(2)}×` : '–');
  const header = ['server', ...MIXES.flatMap((m) => [`${m}: max QPS`, 'CPU µs/q', 'p50 ms', 'p99 ms']), 'lost', 'RSS MB'];
  const rows = servers.map((s) => {
    const cells = [s.name];
    for (const mix of MIXES) {
      const samples = results.get(`${s.name}/${mix}`) ?? [];
      const base = results.get(`cnm/${mix}`) ?? [];
      for (const key of ['qps', 'cpuPerQuery', 'p50', 'p99'] as const) {
        const value = median(samples.map((x) => x[key]));
        const reference = median(base.map((x) => x[key]));
        const shown = key === 'qps' ? value.toFixed(0) : key === 'cpuPerQuery' ? value.toFixed(1) : value.toFixed(3);
        cells.push(`${shown} (${ratio(value, reference)})`);
      }
    }
    const lost = MIXES.flatMap((mix) => (results.get(`${s.name}/${mix}`) ?? []).map((x) => x.floodLost + x.lost)).reduce((a, b) => a + b, 0);
    cells.push(String(lost));
    const mb = (rss.get(s.name) ?? NaN) / 1048576;
    cells.push(`${mb.toFixed(1)} (${ratio(mb, (rss.get('cnm') ?? NaN) / 1048576)})`);
    return cells;
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const sandboxes = Number(option('sandboxes', '1000'));
  const rounds = Number(option('rounds', '3'));
  const seconds = Number(option('seconds', '5'));
  const rate = Number(option('rate', '5000'));
  const wanted = option('servers', ALL_SERVERS.map((s) => s.name).join(',')).split(',');
  const svgPath = option('svg', 'dns-bench.svg');
  const servers = ALL_SERVERS.filter((s) => wanted.includes(s.name));

  const dir = mkdtempSync(path.join(os.tmpdir(), 'cnm-dnsbench-'));
  const namespaces: string[] = [];
  const running = new Map<string, Running>();
  /** Directories of namespaces the servers made (the daemons' labs), with how to remove each. */
  const adopted = new Map<string, () => Promise<void>>();
  let stubPid = 0;
  let cleaning: Promise<void> | null = null;
  // Every step is tried even when one fails, and the bench's own namespaces go first: a server
  // keeps a namespace it has sockets in alive without the mount, and an interrupted cleanup (the
  // daemons' take longest) must not leave the 2,002 mounts behind.
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      const step = async (what: string, fn: () => unknown): Promise<void> => {
        try {
          await fn();
        } catch (err) {
          console.error(`cleanup: ${what}: ${err instanceof Error ? err.message : String(err)}`);
        }
      };
      for (const ns of namespaces) await step(`delete ${ns}`, () => deleteNetns(ns));
      for (const [name, r] of running) await step(`stop ${name}`, () => r.stop());
      // Also those of a server interrupted while it started (removing twice is harmless).
      for (const [labDir, remove] of adopted) await step(`remove ${labDir}`, remove);
      if (stubPid > 0) await step('stop the upstream stub', () => process.kill(stubPid, 'SIGTERM'));
      const dirs = [dir, ...adopted.keys()];
      const left = dirs.reduce((n, d) => n + nsfsMountsUnder(d), 0);
      await step(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
      if (left > 0) {
        console.error(`bench/dns left ${left} namespace mounts under ${dirs.join(', ')}`);
        process.exitCode = 1;
      } else {
        console.log('cleanup: no namespace mount left');
      }
    })());
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void cleanup().then(() => process.exit(130)));

  try {
    const started = Date.now();
    // One more namespace than sandboxes: cnm measures connecting a new sandbox with it. `cnm js`
    // listens on the same address in a set of its own.
    for (const prefix of servers.includes(cnmJs) ? ['', 'js-'] : ['']) {
      for (let i = 0; i <= sandboxes; i++) {
        const ns = path.join(dir, `${prefix}ns-${i}`);
        createNetns(ns);
        namespaces.push(ns);
      }
    }
    console.log(`${sandboxes + 1} sandbox namespaces in ${Date.now() - started} ms`);
    const lab: Lab = {
      dir,
      clientNs: namespaces[0]!,
      sandboxes,
      serverCpu: SERVER_CPU,
      upstream: STUB_ADDRESS,
      containerAddress: '10.99.0.2',
      adopt: (labDir, remove) => void adopted.set(labDir, remove),
    };
    // aardvark-dns listens on the network gateway and answers per container source address.
    for (const [family, address] of [['-4', `${GATEWAY_V4}/32`], ['-4', `${lab.containerAddress}/32`], ['-6', `${GATEWAY_V6}/128`]] as const) {
      await run('ip', ['-n', lab.clientNs, family, 'addr', 'add', address, 'dev', 'lo']).catch(() => run('nsenter', [`--net=${lab.clientNs}`, 'ip', family, 'addr', 'add', address, 'dev', 'lo']));
    }
    const stub = spawn('nsenter', [`--net=${lab.clientNs}`, process.execPath, path.join(__dirname, 'upstream-stub.js'), STUB_ADDRESS, '53'], { stdio: 'ignore' });
    stubPid = stub.pid!;
    const files = Object.fromEntries(MIXES.map((mix) => [mix, path.join(dir, `queries-${mix}.txt`)])) as Record<Mix, string>;
    for (const mix of MIXES) writeFileSync(files[mix], queryFile(sandboxes, mix));

    for (const server of servers) {
      const r = await server.start(lab);
      running.set(server.name, r);
      console.log(`${server.name} ready (pid ${r.pid})${Object.keys(r.report).length > 2 ? ` ${JSON.stringify(r.report)}` : ''}`);
      for (const mix of MIXES) await dnsperf(lab, server, r, files[mix], 1, ['-c', '8', '-q', '100']); // warm caches and JIT
    }

    const results = new Map<string, Sample[]>();
    for (let round = 1; round <= rounds; round++) {
      for (const mix of MIXES) {
        // Interleaved, in an order rotated every round: no server always follows the same one.
        const order = servers.map((_, i) => servers[(i + round - 1) % servers.length]!);
        for (const server of order) {
          const sample = await measure(lab, server, running.get(server.name)!, files[mix], seconds, rate);
          const key = `${server.name}/${mix}`;
          results.set(key, [...(results.get(key) ?? []), sample]);
          console.log(
            `round ${round} ${mix.padEnd(5)} ${server.name.padEnd(12)} ${sample.qps.toFixed(0).padStart(6)} QPS  ${sample.cpuPerQuery.toFixed(1).padStart(6)} µs/q  p50 ${sample.p50.toFixed(3)} ms  p99 ${sample.p99.toFixed(3)} ms  lost ${sample.lost}`,
          );
        }
      }
    }
    // Paired runs: each other server against cnm, simultaneously, at the latency rate.
    const pairs = new Map<string, Pair[]>();
    const cnmServer = servers.find((s) => s.name === 'cnm');
    for (let round = 1; cnmServer !== undefined && round <= rounds; round++) {
      for (const mix of MIXES) {
        for (const other of servers.filter((s) => s !== cnmServer)) {
          const pair = await paired(lab, [cnmServer, running.get('cnm')!], [other, running.get(other.name)!], files[mix], seconds, rate);
          pairs.set(`${other.name}/${mix}`, [...(pairs.get(`${other.name}/${mix}`) ?? []), pair]);
          console.log(`paired ${round} ${mix.padEnd(5)} cnm ${pair.cpu[0].toFixed(1)} µs/q p99 ${pair.p99[0].toFixed(3)} ms, ${other.name} ${pair.cpu[1].toFixed(1)} µs/q p99 ${pair.p99[1].toFixed(3)} ms`);
        }
      }
    }

    // The daemon's latency while its API is busy, with and without the native responder.
    const busy = new Map<string, { quiet: number[]; busy: number[]; operations: number }>();
    for (const server of servers) {
      const r = running.get(server.name)!;
      if (r.busy !== undefined) busy.set(server.name, await busyRuns(lab, server, r, files.local, seconds, rate, rounds));
    }

    const rss = new Map([...running].map(([name, r]) => [name, rssBytes(r.pid)]));
    console.log(`\n${sandboxes} sandboxes, ${rounds} interleaved rounds of ${seconds} s, latency at ${rate} QPS, medians (ratio to cnm)\n`);
    console.log(table(servers, results, rss));
    if (pairs.size > 0) {
      console.log(`\nPaired: server CPU µs/query and p99 latency with cnm and the server loaded at the same time, ${rate} QPS each (medians; the ratio is the median of the pairs' other/cnm)\n`);
      for (const [key, list] of pairs) {
        const [name, mix] = key.split('/');
        const cnmCost = median(list.map((p) => p.cpu[0]));
        const otherCost = median(list.map((p) => p.cpu[1]));
        const cnmP99 = median(list.map((p) => p.p99[0]));
        const otherP99 = median(list.map((p) => p.p99[1]));
        console.log(
          `  ${mix!.padEnd(5)} ${name!.padEnd(12)} ${otherCost.toFixed(1).padStart(6)} vs cnm ${cnmCost.toFixed(1).padStart(6)} µs/q (${median(list.map((p) => p.cpu[1] / p.cpu[0])).toFixed(2)}×)` +
            `  p99 ${otherP99.toFixed(3).padStart(7)} vs cnm ${cnmP99.toFixed(3).padStart(7)} ms (${median(list.map((p) => p.p99[1] / p.p99[0])).toFixed(2)}×)`,
        );
      }
    }
    if (busy.size > 0) {
      console.log(`\nThe daemon at ${rate} QPS (local), quiet and with its API busy creating/removing sandboxes, ${rounds} alternated runs of ${seconds} s each\n`);
      const pick = (xs: number[], q: number): number => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? NaN;
      for (const [name, b] of busy) {
        console.log(
          `  ${name.padEnd(9)} quiet p50 ${pick(b.quiet, 0.5).toFixed(3)} p99 ${pick(b.quiet, 0.99).toFixed(3)} p99.9 ${pick(b.quiet, 0.999).toFixed(3)} ms | busy p50 ${pick(b.busy, 0.5).toFixed(3)} p99 ${pick(b.busy, 0.99).toFixed(3)} p99.9 ${pick(b.busy, 0.999).toFixed(3)} ms (${b.operations} API calls)`,
        );
      }
    }
    for (const name of ['cnm', 'cnm js', 'cnmd', 'cnmd js']) {
      const report = running.get(name)?.report;
      if (report) console.log(`\n${name}: ${JSON.stringify(report)}`);
    }

    const cpu = servers.map((s) => ({ server: s.name, local: median((results.get(`${s.name}/local`) ?? []).map((x) => x.cpuPerQuery)), mixed: median((results.get(`${s.name}/mixed`) ?? []).map((x) => x.cpuPerQuery)) }));
    const latency: Cdf[] = servers.map((s) => ({ label: s.name, sorted: (results.get(`${s.name}/local`) ?? []).flatMap((x) => x.latencies).sort((a, b) => a - b) }));
    const busyCurves: Cdf[] = [...busy].flatMap(([name, b]) => [
      { label: `${name}, quiet`, sorted: b.quiet },
      { label: `${name}, API busy`, sorted: b.busy, dashed: true },
    ]);
    const caption = `bench/dns: ${sandboxes} sandboxes, ${rounds} rounds of ${seconds} s, ${new Date().toISOString().slice(0, 16)} UTC, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`;
    writeFileSync(svgPath, benchSvg(caption, cpu, latency, rate, busyCurves));
    console.log(`\npicture: ${svgPath}`);
  } finally {
    await cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
