/**
 * bench/nat: what cnm's NAT layer costs, measured in private namespaces (as root).
 *
 * 1. Applying the whole ruleset (one atomic batch) with 1, 100 and 1,000 published ports:
 *    render time, Firewall.apply through in-process libnftables, the same text through a
 *    spawned `nft -f FILE` (the transport not chosen), and one `list table` (what a periodic
 *    health check would cost instead of the netlink watch).
 * 2. TCP connect latency from an external client namespace through a published port with 1 and
 *    with 1,000 ports published (it should not grow: maps, not rules), and, for reference, with
 *    1,000 Docker-style one-rule-per-port DNAT rules in front.
 *
 * Usage: node dist/bench/nat/nat-bench.js [--rounds N] [--connects N]
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Firewall, renderRuleset, type NatPortMapping, type NatState } from '../../src/nat';
import { Nft } from '../../src/nat/nft';
import { createNetns, deleteNetns } from '../../src/os/native';
import { HOST_IP, makeNatLab, NETWORKS } from '../../test/integration/nat-lab';

const exec = promisify(execFile);

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const ROUNDS = option('--rounds', 15);
const CONNECTS = option('--connects', 300);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const percentile = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const fmt = (x: number, digits = 2): string => x.toFixed(digits);

/** State with `count` published ports: 8080 → A1:80, the rest to other (absent) containers. */
function stateWith(count: number): NatState {
  const ports: NatPortMapping[] = [
    { networkId: 'neta', bridge: 'bra', proto: 'tcp', hostIp: '0.0.0.0', hostPort: 8080, containerIp: '10.77.1.2', containerPort: 80 },
  ];
  for (let i = 1; i < count; i++) {
    ports.push({
      networkId: 'neta',
      bridge: 'bra',
      proto: i % 2 ? 'tcp' : 'udp',
      hostIp: '0.0.0.0',
      hostPort: 20000 + i,
      containerIp: `10.77.1.${10 + (i % 200)}`,
      containerPort: 80,
    });
  }
  return { networks: NETWORKS, ports };
}

async function applyBench(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cnmt-bench-'));
  const ns = path.join(dir, 'host');
  createNetns(ns);
  const firewall = Firewall.open({ netnsPath: ns });
  const nft = Nft.open(ns);
  try {
    console.log(`\napply the whole ruleset (one atomic batch), median of ${ROUNDS}, ms`);
    console.log('ports   render   apply (libnftables)   nft -f (spawn)   list table');
    for (const count of [1, 100, 1000]) {
      const state = stateWith(count);
      const render: number[] = [];
      const apply: number[] = [];
      const spawn: number[] = [];
      const list: number[] = [];
      const file = path.join(dir, `rules-${count}.nft`);
      writeFileSync(file, renderRuleset(state));
      // Firewall.apply skips a state it has in force: every round changes one host port, as a
      // controller change would, so each apply is a whole replacement of the same size.
      const variant = (r: number): NatState => ({ ...state, ports: state.ports.map((p, i) => (i === 0 ? { ...p, hostPort: 8080 + (r % 2) } : p)) });
      for (let r = 0; r < ROUNDS; r++) {
        let t0 = performance.now();
        renderRuleset(state);
        render.push(performance.now() - t0);
        const next = variant(r + 1);
        t0 = performance.now();
        await firewall.apply(next);
        apply.push(performance.now() - t0);
        t0 = performance.now();
        await exec('nsenter', [`--net=${ns}`, 'nft', '-f', file]);
        spawn.push(performance.now() - t0);
        t0 = performance.now();
        await nft.listJson('list table inet cnm');
        list.push(performance.now() - t0);
      }
      console.log(
        `${String(count).padEnd(8)}${fmt(median(render)).padEnd(9)}${fmt(median(apply)).padEnd(22)}${fmt(median(spawn)).padEnd(17)}${fmt(median(list))}`,
      );
    }
  } finally {
    nft.close();
    await firewall.teardown();
    deleteNetns(ns);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** 1,000 `tcp dport P dnat` rules evaluated before cnm's table, none matching 8080. */
function linearRules(count: number): string {
  const rules = Array.from({ length: count }, (_, i) => `\t\ttcp dport ${20000 + i} dnat to 10.77.1.${10 + (i % 200)}:80`);
  return [
    'table ip cnmtlinear {',
    '\tchain pre {',
    '\t\ttype nat hook prerouting priority -101; policy accept;',
    ...rules,
    '\t}',
    '}',
    '',
  ].join('\n');
}

async function connectBench(): Promise<void> {
  const cleanups: (() => unknown)[] = [];
  try {
    const lab = await makeNatLab({ teardown: (fn) => cleanups.push(fn) });
    const firewall = Firewall.open({ netnsPath: lab.ns('H') });
    cleanups.push(() => firewall.close());
    const client = path.join(__dirname, 'connect-client.js');
    const measure = async (): Promise<number[]> => {
      const { stdout } = await exec('nsenter', [`--net=${lab.ns('X')}`, process.execPath, client, HOST_IP, '8080', String(CONNECTS)]);
      return JSON.parse(stdout) as number[];
    };
    const scenarios: [string, () => Promise<unknown>][] = [
      ['1 port published', () => firewall.apply(stateWith(1))],
      ['1,000 ports published', () => firewall.apply(stateWith(1000))],
      [
        '1,000 ports + 1,000 Docker-style rules',
        async () => {
          await firewall.apply(stateWith(1000));
          await lab.sh('H', 'nft', ['-f', writeTemp(linearRules(1000))]);
        },
      ],
    ];
    const results = new Map<string, number[]>(scenarios.map(([name]) => [name, []]));
    // Interleaved rounds: background load on a shared machine hits every scenario alike.
    for (let round = 0; round < 3; round++) {
      for (const [name, setUp] of scenarios) {
        await lab.sh('H', 'nft', ['add table ip cnmtlinear; delete table ip cnmtlinear']);
        await setUp();
        await measure(); // warm-up: neighbour entries, JIT
        results.get(name)!.push(...(await measure()));
      }
    }
    console.log(`\nTCP connect through a published port, external client → host:8080 → sandbox, ${3 * CONNECTS} connects, µs`);
    console.log('scenario                                  p50      p90      p99');
    for (const [name, times] of results) {
      console.log(`${name.padEnd(42)}${fmt(median(times), 0).padEnd(9)}${fmt(percentile(times, 0.9), 0).padEnd(9)}${fmt(percentile(times, 0.99), 0)}`);
    }
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
}

let tempDir: string | undefined;
function writeTemp(text: string): string {
  tempDir ??= mkdtempSync(path.join(os.tmpdir(), 'cnmt-bench-'));
  const file = path.join(tempDir, 'linear.nft');
  writeFileSync(file, text);
  return file;
}

async function main(): Promise<void> {
  console.log(`bench/nat on ${os.cpus().length} cores, node ${process.version}`);
  await applyBench();
  await connectBench();
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
