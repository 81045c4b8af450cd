/**
 * bench/cni: what a container runtime waits for per container, measured the way runtimes run
 * plugins (exec with the CNI environment, config on stdin), in a lab namespace with a real cnmd:
 *
 *   cnm    the `cnm` plugin (cnmd does the work): one exec per ADD/DEL
 *   stock  bridge + host-local + portmap from containernetworking-plugins (/usr/lib/cni), the
 *          chain a user would otherwise configure: two execs per ADD/DEL (bridge, which execs
 *          host-local, then portmap), as libcni runs a conflist
 *
 * Same subnet (each side in its own "host" namespace), one published port per container, N
 * containers (default 200) added, then deleted in order. Prints median and p99 of ADD and DEL,
 * the 1st against the Nth container, and the plugin's start-up alone (VERSION, answered without
 * cnmd) against the same in Node.
 *
 *   node dist/bench/cni/cni.js [N]
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createNetns, deleteNetns, runInNetns } from '../../src/os/native';
import { CNM_PLUGIN, pluginConfig } from '../../test/helpers/cni';
import { Lab } from '../../test/helpers/lab';

const SUBNET = '10.62.0.0/20';
const STOCK = '/usr/lib/cni';

interface Exec {
  plugin: string;
  env: Record<string, string>;
  config: unknown;
}

/** Runs a plugin synchronously inside nsPath (its host namespace: bridge creates its bridge there). */
function execPlugin(nsPath: string, e: Exec): Record<string, unknown> {
  const r = runInNetns(nsPath, () => spawnSync(e.plugin, [], { env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...e.env }, input: JSON.stringify(e.config) }));
  if (r.status !== 0) throw new Error(`${path.basename(e.plugin)} ${e.env.CNI_COMMAND} failed (${r.status}): ${r.stdout}${r.stderr}`);
  const out = r.stdout.toString().trim();
  return out ? (JSON.parse(out) as Record<string, unknown>) : {};
}

function timedMs(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const median = (xs: number[]): number => quantile([...xs].sort((a, b) => a - b), 0.5);

function env(command: string, id: string, netns: string, cniPath: string): Record<string, string> {
  return { CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: netns, CNI_IFNAME: 'eth0', CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAME=${id}`, CNI_PATH: cniPath };
}

function portMapping(i: number): { hostPort: number; containerPort: number; protocol: string; hostIP: string }[] {
  return [{ hostPort: 20000 + i, containerPort: 80, protocol: 'tcp', hostIP: '' }];
}

/** The stock conflist's two plugin configs, as libcni hands them over. */
function stockConfigs(dir: string, i: number, prevResult?: unknown): { bridge: unknown; portmap: unknown } {
  const base = { cniVersion: '1.0.0', name: 'stock' };
  return {
    bridge: {
      ...base,
      type: 'bridge',
      bridge: 'cnibench0',
      isGateway: true,
      ipMasq: true,
      hairpinMode: true,
      // host-local's state in the lab, not /var/lib/cni
      ipam: { type: 'host-local', ranges: [[{ subnet: SUBNET, gateway: '10.62.0.1' }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: path.join(dir, 'host-local') },
      ...(prevResult ? { prevResult } : {}),
    },
    portmap: { ...base, type: 'portmap', snat: true, capabilities: { portMappings: true }, runtimeConfig: { portMappings: portMapping(i) }, ...(prevResult ? { prevResult } : {}) },
  };
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 200);
  const lab = await Lab.start();
  const stockHost = lab.newNamespace('stock-host');
  const containers: string[] = [];
  try {
    const created = await lab.api('POST', '/networks/create', { Name: 'bench', IPAM: { Config: [{ Subnet: SUBNET }] } });
    if (created.status !== 201) throw new Error(created.raw);
    runInNetns(stockHost, () => spawnSync('ip', ['link', 'set', 'lo', 'up']));
    const nsDir = path.join(lab.dir, 'containers');
    fs.mkdirSync(nsDir);
    const newContainer = (name: string): string => {
      const p = path.join(nsDir, name);
      createNetns(p);
      containers.push(p);
      return p;
    };

    const times = { cnmAdd: [] as number[], cnmDel: [] as number[], stockAdd: [] as number[], stockDel: [] as number[] };
    const cnmNs: string[] = [];
    const stockNs: string[] = [];
    for (let i = 0; i < n; i++) {
      cnmNs.push(newContainer(`cnm${i}`));
      stockNs.push(newContainer(`stock${i}`));
    }
    const stockResults: unknown[] = [];
    // Interleaved, so both sides see the same machine load.
    for (let i = 0; i < n; i++) {
      const id = `bench${i}`;
      times.cnmAdd.push(
        timedMs(() => execPlugin(lab.hostNs, { plugin: CNM_PLUGIN, env: env('ADD', id, cnmNs[i]!, path.dirname(CNM_PLUGIN)), config: pluginConfig('bench', lab.socket, { runtimeConfig: { portMappings: portMapping(i) } }) })),
      );
      times.stockAdd.push(
        timedMs(() => {
          const c = stockConfigs(lab.dir, i);
          const result = execPlugin(stockHost, { plugin: `${STOCK}/bridge`, env: env('ADD', id, stockNs[i]!, STOCK), config: c.bridge });
          const final = execPlugin(stockHost, { plugin: `${STOCK}/portmap`, env: env('ADD', id, stockNs[i]!, STOCK), config: { ...(c.portmap as object), prevResult: result } });
          stockResults.push(final);
        }),
      );
    }
    for (let i = 0; i < n; i++) {
      const id = `bench${i}`;
      times.cnmDel.push(timedMs(() => execPlugin(lab.hostNs, { plugin: CNM_PLUGIN, env: env('DEL', id, cnmNs[i]!, path.dirname(CNM_PLUGIN)), config: pluginConfig('bench', lab.socket) })));
      times.stockDel.push(
        timedMs(() => {
          const c = stockConfigs(lab.dir, i, stockResults[i]);
          execPlugin(stockHost, { plugin: `${STOCK}/portmap`, env: env('DEL', id, stockNs[i]!, STOCK), config: c.portmap });
          execPlugin(stockHost, { plugin: `${STOCK}/bridge`, env: env('DEL', id, stockNs[i]!, STOCK), config: c.bridge });
        }),
      );
    }

    // Start-up alone: VERSION is answered by the plugin without cnmd; the same in Node.
    const nodePlugin = path.join(lab.dir, 'version-plugin.js');
    fs.writeFileSync(
      nodePlugin,
      "let s='';process.stdin.on('data',(d)=>s+=d).on('end',()=>{const v=JSON.parse(s).cniVersion;process.stdout.write(JSON.stringify({cniVersion:v,supportedVersions:['1.0.0']})+'\\n');});\n",
    );
    const startup = { c: [] as number[], node: [] as number[] };
    const versionEnv = { CNI_COMMAND: 'VERSION', PATH: process.env.PATH ?? '' };
    for (let i = 0; i < Math.min(n, 100); i++) {
      startup.c.push(timedMs(() => spawnSync(CNM_PLUGIN, [], { env: versionEnv, input: '{"cniVersion":"1.0.0"}' })));
      startup.node.push(timedMs(() => spawnSync(process.execPath, [nodePlugin], { env: versionEnv, input: '{"cniVersion":"1.0.0"}' })));
    }

    const row = (label: string, xs: number[]): string => {
      const sorted = [...xs].sort((a, b) => a - b);
      return [label.padEnd(30), quantile(sorted, 0.5).toFixed(1).padStart(8), quantile(sorted, 0.99).toFixed(1).padStart(8), xs[0]!.toFixed(1).padStart(8), xs[n - 1]!.toFixed(1).padStart(8)].join('');
    };
    console.log(`bench/cni: ${n} containers, one published port each, plugins exec'd as runtimes do (ms)`);
    console.log(['', 'median', 'p99', '#1', `#${n}`].map((h, i) => (i === 0 ? h.padEnd(30) : h.padStart(8))).join(''));
    console.log(row('ADD cnm', times.cnmAdd));
    console.log(row('ADD bridge+host-local+portmap', times.stockAdd));
    console.log(row('DEL cnm', times.cnmDel));
    console.log(row('DEL bridge+host-local+portmap', times.stockDel));
    const first20 = (xs: number[]): number => median(xs.slice(0, 20));
    const last20 = (xs: number[]): number => median(xs.slice(-20));
    console.log(`ADD median, cnm / stock: ${(median(times.cnmAdd) / median(times.stockAdd)).toFixed(2)}`);
    console.log(`DEL median, cnm / stock: ${(median(times.cnmDel) / median(times.stockDel)).toFixed(2)}`);
    console.log(`ADD, last 20 vs first 20 (median): cnm ${(last20(times.cnmAdd) / first20(times.cnmAdd)).toFixed(2)}x, stock ${(last20(times.stockAdd) / first20(times.stockAdd)).toFixed(2)}x`);
    console.log(`plugin start-up (VERSION, median): C ${median(startup.c).toFixed(2)} ms, Node ${median(startup.node).toFixed(2)} ms`);
  } finally {
    for (const p of containers) deleteNetns(p);
    await lab.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
