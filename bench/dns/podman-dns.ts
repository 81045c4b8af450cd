/**
 * cnm-dns in the DNS benchmark: the same Podman-style network file aardvark-dns gets (the bench's
 * N containers, the stub as the network's DNS server), served by bin/cnm-dns started the way
 * netavark starts aardvark-dns (`--config DIR -p 53 run`, forking, aardvark.pid), on a gateway
 * address of its own beside aardvark-dns's, asked from the same container address. For run.js:
 * add `cnmDns` to ALL_SERVERS (its name is `cnm-dns`).
 *
 * Standalone, the start-up time netavark waits for (exec of `run` until it returns, the server
 * answering), cnm-dns against aardvark-dns, alternated. netavark starts the server with the first
 * container of a DNS network, hence one container by default:
 *   node dist/bench/dns/podman-dns.js [--starts 10] [--sandboxes 1]
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createNetns, deleteNetns } from '../../src/os/native';
import { GATEWAY_V4, GATEWAY_V6, aardvarkConfig, NETWORK } from './lab-state';
import { answering, stopper, type Lab, type ServerUnderTest } from './servers';

const run = promisify(execFile);
const CNM_DNS = path.resolve(__dirname, '..', '..', '..', 'bin', 'cnm-dns');
const AARDVARK_DNS = '/usr/lib/podman/aardvark-dns';
/** cnm-dns's gateway: in the bench network's subnet, no container's address (those end at 10.99.3.x for 1,000). */
export const CNM_DNS_GATEWAY = '10.99.255.254';

/** The network file aardvark-dns gets, with cnm-dns's gateway (IPv4 only) on line 1. */
function cnmDnsConfig(sandboxes: number, upstream: string): string {
  const [, ...containers] = aardvarkConfig(sandboxes, upstream).split('\n');
  return [`${CNM_DNS_GATEWAY} ${upstream}`, ...containers].join('\n');
}

/** Starts `binary --config dir -p 53 run` in its own mount namespace (our resolv.conf), pinned; resolves when run returns. */
function startLikeNetavark(ns: string, cpu: number | null, binary: string, configDir: string, resolvConf: string): Promise<number> {
  const script = `mount --bind ${resolvConf} /etc/resolv.conf && exec ${binary} --config ${configDir} -p 53 run`;
  const pin = cpu === null ? [] : ['taskset', '-c', String(cpu)];
  const child = spawn('nsenter', [`--net=${ns}`, 'unshare', '-m', ...pin, 'sh', '-c', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) =>
    child.on('exit', (code) => (code === 0 ? resolve(code) : reject(new Error(`${path.basename(binary)} run exited with ${code}: ${err}`)))),
  );
}

async function addAddress(ns: string, address: string): Promise<void> {
  await run('nsenter', [`--net=${ns}`, 'ip', 'addr', 'add', address, 'dev', 'lo']).catch((err: { stderr?: string }) => {
    if (!/exists/.test(err.stderr ?? '')) throw err;
  });
}

export const cnmDns: ServerUnderTest = {
  name: 'cnm-dns',
  address: CNM_DNS_GATEWAY,
  source: '10.99.0.2',
  async start(lab: Lab) {
    await addAddress(lab.clientNs, `${CNM_DNS_GATEWAY}/32`);
    const configDir = path.join(lab.dir, 'cnm-dns');
    mkdirSync(configDir, { recursive: true });
    writeFileSync(path.join(configDir, NETWORK), cnmDnsConfig(lab.sandboxes, lab.upstream));
    const resolvConf = path.join(lab.dir, 'cnm-dns-resolv.conf');
    writeFileSync(resolvConf, `nameserver ${lab.upstream}\n`);
    await startLikeNetavark(lab.clientNs, lab.serverCpu, CNM_DNS, configDir, resolvConf);
    await answering(lab.clientNs, CNM_DNS_GATEWAY, '10.99.0.2');
    const pid = Number(readFileSync(path.join(configDir, 'aardvark.pid'), 'utf8').trim());
    return { pid, report: {}, stop: stopper(pid) };
  },
};

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Start-up as netavark sees it: from exec of `run` to its exit, after which the server answers. */
async function startups(): Promise<void> {
  const arg = (name: string, fallback: number): number => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : fallback;
  };
  const starts = arg('starts', 10);
  const sandboxes = arg('sandboxes', 1);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cnm-dns-startup-'));
  const ns = path.join(dir, 'ns');
  createNetns(ns);
  try {
    await run('nsenter', [`--net=${ns}`, 'ip', 'link', 'set', 'lo', 'up']);
    for (const a of [`${GATEWAY_V4}/32`, `${CNM_DNS_GATEWAY}/32`, '10.99.0.2/32']) await addAddress(ns, a);
    await run('nsenter', [`--net=${ns}`, 'ip', '-6', 'addr', 'add', `${GATEWAY_V6}/128`, 'dev', 'lo', 'nodad']);
    const resolvConf = path.join(dir, 'resolv.conf');
    writeFileSync(resolvConf, 'nameserver 127.0.0.53\n');
    const servers = [
      { name: 'aardvark-dns', binary: AARDVARK_DNS, gateway: GATEWAY_V4, config: aardvarkConfig(sandboxes, '127.0.0.53') },
      { name: 'cnm-dns', binary: CNM_DNS, gateway: CNM_DNS_GATEWAY, config: cnmDnsConfig(sandboxes, '127.0.0.53') },
    ];
    const times = new Map<string, number[]>(servers.map((s) => [s.name, []]));
    for (let i = 0; i < starts; i++) {
      for (const s of i % 2 === 0 ? servers : [...servers].reverse()) {
        const configDir = path.join(dir, s.name);
        mkdirSync(configDir, { recursive: true });
        writeFileSync(path.join(configDir, NETWORK), s.config);
        const started = performance.now();
        await startLikeNetavark(ns, null, s.binary, configDir, resolvConf);
        times.get(s.name)!.push(performance.now() - started);
        await answering(ns, s.gateway, '10.99.0.2'); // it really serves
        const pid = Number(readFileSync(path.join(configDir, 'aardvark.pid'), 'utf8'));
        await stopper(pid)();
        rmSync(configDir, { recursive: true, force: true });
      }
    }
    console.log(`start-up with ${sandboxes} container(s) on one network, ${starts} starts each (exec of run until it returns serving), load ${os.loadavg()[0]!.toFixed(1)}:`);
    const base = median(times.get('aardvark-dns')!);
    for (const [name, list] of times) {
      console.log(`  ${name.padEnd(12)} median ${median(list).toFixed(0)} ms  min ${Math.min(...list).toFixed(0)} ms  max ${Math.max(...list).toFixed(0)} ms  (${(median(list) / base).toFixed(2)}× aardvark-dns)`);
    }
  } finally {
    deleteNetns(ns);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  startups().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
