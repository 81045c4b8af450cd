/**
 * What one resolver update costs with N sandboxes live, with the native table and without it,
 * in one run (the same namespaces, the same machine minute): CPU and wall time of an update
 * where nothing changed, one alias was added, one sandbox connected, one disconnected.
 *   node --expose-gc dist/bench/dns/update-cost.js [--sandboxes 1000] [--rounds 30] [--modes native,js]
 * Prints one line per mode with the medians (of the rounds after the first five) and leaves no
 * namespace or mount behind (checked at the end).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createNetns, deleteNetns } from '../../src/os/native';
import { Resolver, type DnsState } from '../../src/resolver';
import { benchState } from './lab-state';
import { nsfsMountsUnder } from './mounts';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 || process.argv[i + 1] === undefined ? fallback : process.argv[i + 1]!;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

type Kind = 'unchanged' | 'alias' | 'connect' | 'disconnect';
const KINDS: Kind[] = ['unchanged', 'alias', 'connect', 'disconnect'];

async function measureMode(native: boolean, n: number, rounds: number, nsPathOf: (i: number) => string, upstreamDir: string): Promise<Record<string, number>> {
  const resolver = new Resolver({ upstreams: ['127.0.0.1:53'], resolvConfPath: path.join(upstreamDir, 'resolv.conf'), nativeResponder: native });
  try {
    const state = benchState(n, nsPathOf);
    const network = state.networks[0]!;
    const withAlias: DnsState = {
      ...state,
      networks: [{ ...network, endpoints: network.endpoints.map((e, i) => (i === n >> 1 ? { ...e, names: [...e.names, 'extra-alias'] } : e)) }],
    };
    const extra = benchState(n + 1, nsPathOf);
    const next: Record<Kind, DnsState> = { unchanged: state, alias: withAlias, connect: extra, disconnect: state };
    await resolver.update(state);
    gc();
    const cpu: Record<Kind, number[]> = { unchanged: [], alias: [], connect: [], disconnect: [] };
    const wall: Record<Kind, number[]> = { unchanged: [], alias: [], connect: [], disconnect: [] };
    for (let r = 0; r < rounds; r++) {
      for (const kind of KINDS) {
        const c = process.cpuUsage();
        const t = performance.now();
        await resolver.update(next[kind]);
        const used = process.cpuUsage(c);
        if (r >= 5) {
          wall[kind].push(performance.now() - t);
          cpu[kind].push((used.user + used.system) / 1000);
        }
      }
    }
    const out: Record<string, number> = {};
    for (const kind of KINDS) {
      out[`${kind}Cpu`] = Number(median(cpu[kind]).toFixed(3));
      out[`${kind}Wall`] = Number(median(wall[kind]).toFixed(3));
    }
    return out;
  } finally {
    await resolver.close();
  }
}

async function main(): Promise<void> {
  const n = Number(option('sandboxes', '1000'));
  const rounds = Number(option('rounds', '30'));
  const modes = option('modes', 'native,js').split(',');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cnm-dnsupdate-'));
  const namespaces: string[] = [];
  try {
    for (let i = 0; i <= n; i++) {
      const ns = path.join(dir, `ns-${i}`);
      createNetns(ns);
      namespaces.push(ns);
    }
    const nsPathOf = (i: number): string => namespaces[i]!;
    for (const mode of modes) {
      const result = await measureMode(mode === 'native', n, Math.max(rounds, 6), nsPathOf, dir);
      console.log(JSON.stringify({ mode, sandboxes: n, loadAverage: os.loadavg().map((l) => Number(l.toFixed(1))), ...result }));
    }
  } finally {
    for (const ns of namespaces) deleteNetns(ns);
    const left = nsfsMountsUnder(dir);
    rmSync(dir, { recursive: true, force: true });
    if (left > 0) {
      console.error(`update-cost left ${left} namespace mounts under ${dir}`);
      process.exitCode = 1;
    }
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
