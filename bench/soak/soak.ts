/**
 * Soak: the real daemon under everything at once for a given time, sampling its memory, heap,
 * descriptors and latencies, so that a leak shows as a slope (root):
 *   node dist/bench/soak/soak.js [--minutes 12] [--sample 15] [--rate 1500]
 * cnmd runs in a lab of its own (test/helpers/lab: a private host namespace, its own root and
 * run directories) with `--dns` pointing at bench/dns's upstream stub in that namespace. At the
 * same time, until the end:
 *  - DNS load: dnsperf inside sandbox c0 at --rate queries/s, local names and forwarded ones;
 *  - churn through the API: create a sandbox with an alias, connect it to a second network with
 *    another alias and ask for that alias at once from another sandbox (it must answer with the
 *    new address), add an alias live, disconnect, remove;
 *  - fuzz: rounds of hostile UDP messages and TCP connections (bench/dns/fuzz-packets) in c2;
 *  - abusive clients (abusers.ts) in c3: a TCP client that pipelines and never reads, 64 slow
 *    TCP clients, a UDP flood of forwarded names.
 * Every --sample seconds one line: RSS, V8 heap used, external memory, open fds, DNS rate and
 * latency, churn cycles and their median latency. At the end, least-squares slopes of RSS and
 * heap (MB per hour) over the whole run and over each half: a leak keeps its slope in the second
 * half, a plateau's slope falls to about zero.
 */
import { execFile, spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Lab } from '../../test/helpers/lab';
import { fuzzClientScript } from '../dns/fuzz-packets';
import { stopper } from '../dns/servers';
import { nonReaderScript, slowClientsScript, udpForwardFloodScript } from './abusers';

const run = promisify(execFile);
const UPSTREAM = '127.0.0.53';
const NET_A = 'soaknet';
const NET_B = 'soakalt';
const BASE_SANDBOXES = 8;

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]): number => (xs.length === 0 ? NaN : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!);

async function api(lab: Lab, method: string, url: string, body: unknown, expected: number): Promise<unknown> {
  const r = await lab.api(method, url, body);
  if (r.status !== expected) throw new Error(`${method} ${url}: ${r.status} ${r.raw}`);
  return r.body;
}

/** A Node script inside a sandbox, with this repository's node_modules; its last stdout line as JSON. */
async function nodeIn(nsPath: string, script: string, timeoutMs: number): Promise<unknown> {
  const prelude = `module.paths.unshift(${JSON.stringify(path.resolve(__dirname, '..', '..', '..', 'node_modules'))});`;
  const { stdout } = await run('nsenter', [`--net=${nsPath}`, process.execPath, '-e', prelude + script], { timeout: timeoutMs, maxBuffer: 1 << 24 });
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] || 'null');
}

async function digShort(nsPath: string, name: string): Promise<string> {
  const { stdout } = await run('nsenter', [`--net=${nsPath}`, 'dig', '@127.0.0.11', '+short', '+time=2', '+tries=1', name]).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  return stdout.trim();
}

function metricValue(text: string, name: string): number {
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}

/** Least-squares slope of y over x. */
function slope(points: { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return num / den;
}

interface Sample {
  t: number;
  rssMb: number;
  heapMb: number;
  heapTotalMb: number;
  externalMb: number;
  fds: number;
  tcpConnections: number;
  dnsQps: number;
  dnsAvgMs: number;
  dnsLost: number;
  churnCycles: number;
  churnMedianMs: number;
  aliasMisses: number;
  load: string;
}

async function main(): Promise<void> {
  const minutes = option('minutes', 12);
  const sampleSeconds = option('sample', 15);
  const rate = option('rate', 1500);
  const end = Date.now() + minutes * 60_000;
  const lab = await Lab.start({ daemonArgs: ['--dns', UPSTREAM, '--log-level', 'warn'] });
  const stub = spawn('nsenter', [`--net=${lab.hostNs}`, process.execPath, path.join(__dirname, '..', 'dns', 'upstream-stub.js'), UPSTREAM, '53'], { stdio: 'ignore' });
  const stopStub = stopper(stub.pid!);
  let failure: unknown;
  try {
    await api(lab, 'POST', '/networks/create', { Name: NET_A, IPAM: { Config: [{ Subnet: '10.77.0.0/16' }] } }, 201);
    await api(lab, 'POST', '/networks/create', { Name: NET_B, IPAM: { Config: [{ Subnet: '10.78.0.0/16' }] } }, 201);
    for (let i = 0; i < BASE_SANDBOXES; i++) {
      await api(lab, 'POST', `/containers/create?name=c${i}`, { HostConfig: { NetworkMode: NET_A }, NetworkingConfig: { EndpointsConfig: { [NET_A]: {} } } }, 201);
    }
    // c1 asks for the churned aliases: it is on both networks.
    await api(lab, 'POST', `/networks/${NET_B}/connect`, { Container: 'c1' }, 200);
    const ns = await Promise.all(Array.from({ length: 4 }, (_, i) => lab.sandboxNs(`c${i}`)));
    const queryFile = path.join(lab.dir, 'queries.txt');
    const names = [...Array.from({ length: BASE_SANDBOXES }, (_, i) => `c${i} A`), ...Array.from({ length: 200 }, (_, i) => `fwd${i}.soak.test A`), 'c1.soaknet AAAA'];
    writeFileSync(queryFile, names.join('\n') + '\n');

    const pid = lab.daemonPid!;
    const stats = { dnsQps: NaN, dnsAvgMs: NaN, dnsLost: 0, churnCycles: 0, churnMs: [] as number[], aliasMisses: 0, aliasTimeouts: 0, aliasLost: 0, aliasChecks: 0, fuzzRounds: 0, abuseRounds: 0, errors: [] as string[] };
    const running = (): boolean => Date.now() < end && failure === undefined;
    const note = (what: string, err: unknown): void => {
      stats.errors.push(`${new Date().toISOString()} ${what}: ${err instanceof Error ? err.message : String(err)}`);
    };

    const dnsLoad = (async () => {
      while (running()) {
        const seconds = Math.max(1, Math.min(20, Math.floor((end - Date.now()) / 1000)));
        try {
          const { stdout } = await run('nsenter', [`--net=${ns[0]}`, 'dnsperf', '-s', '127.0.0.11', '-d', queryFile, '-l', String(seconds), '-Q', String(rate), '-t', '2'], { maxBuffer: 1 << 22 });
          stats.dnsQps = Number(/Queries per second:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN);
          stats.dnsAvgMs = Number(/Average Latency \(s\):\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN) * 1000;
          stats.dnsLost += Number(/Queries lost:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
        } catch (err) {
          note('dnsperf', err);
          await sleep(1000);
        }
      }
    })();

    const churn = (async () => {
      for (let n = 0; running(); n++) {
        const name = `churn${n}`;
        const t0 = performance.now();
        try {
          const created = (await api(lab, 'POST', `/containers/create?name=${name}`, { HostConfig: { NetworkMode: NET_A }, NetworkingConfig: { EndpointsConfig: { [NET_A]: { Aliases: [`svc${n}`] } } } }, 201)) as { Id: string };
          await api(lab, 'POST', `/networks/${NET_B}/connect`, { Container: name, EndpointConfig: { Aliases: [`alt${n}`] } }, 200);
          // Asked the moment connect returned: the resolver must already have it. A query lost
          // under load (dig times out) is asked again and counted apart: it is not a wrong answer.
          let answer = await digShort(ns[1]!, `alt${n}`);
          if (answer.includes('timed out')) {
            stats.aliasTimeouts++;
            answer = await digShort(ns[1]!, `alt${n}`);
          }
          const inspect = (await api(lab, 'GET', `/containers/${created.Id}/json`, undefined, 200)) as { NetworkSettings: { Networks: Record<string, { IPAddress: string }> } };
          stats.aliasChecks++;
          if (answer.includes('timed out')) stats.aliasLost++;
          else if (answer !== inspect.NetworkSettings.Networks[NET_B]!.IPAddress) {
            stats.aliasMisses++;
            note('alias check', `alt${n}: answered "${answer}", expected ${inspect.NetworkSettings.Networks[NET_B]!.IPAddress}`);
          }
          await api(lab, 'POST', `/cnm/networks/${NET_A}/aliases`, { Container: name, Add: [`extra${n}`] }, 200);
          await api(lab, 'POST', `/networks/${NET_B}/disconnect`, { Container: name }, 200);
          await api(lab, 'DELETE', `/containers/${name}?force=1`, undefined, 204);
          stats.churnCycles++;
          stats.churnMs.push(performance.now() - t0);
        } catch (err) {
          note('churn', err);
          await api(lab, 'DELETE', `/containers/${name}?force=1`, undefined, 204).catch(() => undefined);
          await sleep(500);
        }
      }
    })();

    const fuzz = (async () => {
      for (let seed = 1; running(); seed++) {
        try {
          await nodeIn(ns[2]!, fuzzClientScript(seed, 20_000, 50), 120_000);
          stats.fuzzRounds++;
        } catch (err) {
          note('fuzz', err);
        }
        await sleep(2000);
      }
    })();

    const abuse = (async () => {
      while (running()) {
        try {
          await Promise.all([
            nodeIn(ns[3]!, nonReaderScript(8, 'c0'), 60_000),
            nodeIn(ns[3]!, slowClientsScript(8), 60_000),
            nodeIn(ns[3]!, udpForwardFloodScript(8), 60_000),
          ]);
          stats.abuseRounds++;
        } catch (err) {
          note('abuse', err);
        }
        await sleep(4000);
      }
    })();

    const samples: Sample[] = [];
    const started = Date.now();
    console.log('t(s)  rss(MB) heap-used(MB) heap-total(MB) ext(MB) fds tcp  dns(q/s) dns-avg(ms) lost  churn churn-p50(ms) alias-miss  load');
    while (running()) {
      await sleep(Math.min(sampleSeconds * 1000, Math.max(0, end - Date.now())));
      const text = (await lab.api('GET', '/metrics')).raw;
      const s: Sample = {
        t: Math.round((Date.now() - started) / 1000),
        rssMb: metricValue(text, 'process_resident_memory_bytes') / 2 ** 20,
        heapMb: metricValue(text, 'nodejs_heap_size_used_bytes') / 2 ** 20,
        heapTotalMb: metricValue(text, 'nodejs_heap_size_total_bytes') / 2 ** 20,
        externalMb: metricValue(text, 'nodejs_external_memory_bytes') / 2 ** 20,
        fds: readdirSync(`/proc/${pid}/fd`).length,
        tcpConnections: metricValue(text, 'cnm_dns_tcp_connections'),
        dnsQps: stats.dnsQps,
        dnsAvgMs: stats.dnsAvgMs,
        dnsLost: stats.dnsLost,
        churnCycles: stats.churnCycles,
        churnMedianMs: median(stats.churnMs),
        aliasMisses: stats.aliasMisses,
        load: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
      };
      stats.churnMs = [];
      samples.push(s);
      console.log(
        [s.t, s.rssMb.toFixed(1), s.heapMb.toFixed(1), s.heapTotalMb.toFixed(1), s.externalMb.toFixed(1), s.fds, s.tcpConnections, s.dnsQps.toFixed(0), s.dnsAvgMs.toFixed(2), s.dnsLost, s.churnCycles, s.churnMedianMs.toFixed(0), s.aliasMisses, s.load]
          .map(String)
          .join('  '),
      );
    }
    await Promise.all([dnsLoad, churn, fuzz, abuse]);

    const perHour = (key: 'rssMb' | 'heapMb' | 'heapTotalMb' | 'fds', from: number, to: number): string => slope(samples.slice(from, to).map((s) => ({ x: s.t / 3600, y: s[key] }))).toFixed(1);
    const half = Math.floor(samples.length / 2);
    console.log('');
    console.log(`slopes per hour      whole run   first half   second half`);
    console.log(`RSS (MB/h)           ${perHour('rssMb', 0, samples.length)}   ${perHour('rssMb', 0, half)}   ${perHour('rssMb', half, samples.length)}`);
    console.log(`heap used (MB/h)     ${perHour('heapMb', 0, samples.length)}   ${perHour('heapMb', 0, half)}   ${perHour('heapMb', half, samples.length)}`);
    console.log(`heap total (MB/h)    ${perHour('heapTotalMb', 0, samples.length)}   ${perHour('heapTotalMb', 0, half)}   ${perHour('heapTotalMb', half, samples.length)}`);
    console.log(`open fds (per hour)  ${perHour('fds', 0, samples.length)}   ${perHour('fds', 0, half)}   ${perHour('fds', half, samples.length)}`);
    const last = samples[samples.length - 1];
    console.log(
      `totals: ${last?.churnCycles ?? 0} churn cycles, ${stats.aliasChecks} alias checks (${stats.aliasMisses} wrong answers; ${stats.aliasTimeouts} first queries timed out under load, of which ${stats.aliasLost} timed out again), ${stats.fuzzRounds} fuzz rounds, ${stats.abuseRounds} abuse rounds, ${stats.dnsLost} DNS queries lost`,
    );
    if (stats.errors.length > 0) console.log(`errors (${stats.errors.length}):\n  ${stats.errors.slice(0, 20).join('\n  ')}`);
  } catch (err) {
    failure = err;
  } finally {
    await stopStub();
    await lab.close();
  }
  if (failure !== undefined) {
    console.error(failure);
    process.exitCode = 1;
  }
}

void main();
