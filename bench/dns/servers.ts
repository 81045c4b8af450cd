/**
 * The DNS servers the benchmark compares, each loaded with the same names (lab-state.ts) and
 * started inside the client sandbox's namespace, pinned to the server core. Each is reached by
 * dnsperf over that namespace's loopback, as a container reaches 127.0.0.11. The real daemon
 * (cnmd-server.ts) brings its own sandboxes and says where dnsperf runs (Running.clientNs).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NETWORK, aardvarkConfig, hostsFile, unboundLocalData } from './lab-state';

export interface Lab {
  dir: string;
  /** The client sandbox's namespace (sandbox 0): dnsperf, the servers and the upstream stub live here. */
  clientNs: string;
  sandboxes: number;
  serverCpu: number;
  /** Where forwarded names go (the stub, port 53). */
  upstream: string;
  /** Source address of the asking container (aardvark-dns answers per source address). */
  containerAddress: string;
  /**
   * Told as soon as a server has a directory of namespaces of its own (before it is ready, which
   * for a daemon with 1,000 containers takes minutes): the bench's cleanup removes it with this
   * even when interrupted while the server starts. Calling it twice must be harmless.
   */
  adopt?(dir: string, remove: () => Promise<void>): void;
}

export interface Running {
  pid: number;
  /** Where dnsperf runs for this server, when not in the bench's client namespace (a sandbox of cnmd's own). */
  clientNs?: string;
  /** What the server printed when ready (cnm reports update costs and memory). */
  report: Record<string, unknown>;
  stop(): Promise<void>;
  /**
   * Keeps the server's control plane busy (cnmd: a loop creating and removing sandboxes through
   * its API) until the returned function is called, which resolves with the operations done.
   */
  busy?: () => () => Promise<number>;
}

export interface ServerUnderTest {
  name: string;
  /** Where dnsperf sends queries (inside the client namespace). */
  address: string;
  /** dnsperf -a, when the server needs queries from a container address. */
  source?: string;
  start(lab: Lab): Promise<Running>;
}

const NODE_DIST = path.resolve(__dirname);

function inClient(lab: Lab, argv: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  // nsenter and taskset exec the program: the child's pid is the server's pid.
  return spawn('nsenter', [`--net=${lab.clientNs}`, 'taskset', '-c', String(lab.serverCpu), ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env });
}

/** Resolves with the first JSON line the child prints that has `ready`. */
function readyLine(child: ChildProcess, name: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${name} not ready after 120 s: ${err}`)), 120_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      for (const line of out.split('\n')) {
        if (!line.startsWith('{')) continue;
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (parsed.ready) {
          clearTimeout(timer);
          resolve(parsed);
        }
      }
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}: ${err}`));
    });
  });
}

/** Waits until something answers on address:53 inside the namespace ns. */
export async function answering(ns: string, address: string, source?: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const dig = spawn('nsenter', [`--net=${ns}`, 'dig', `@${address}`, ...(source ? ['-b', source] : []), '+time=1', '+tries=1', 'c0']);
      let out = '';
      dig.stdout.on('data', (d: Buffer) => (out += d.toString()));
      dig.on('exit', () => resolve(/status: NOERROR/.test(out) && /ANSWER: [1-9]/.test(out)));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`nothing answers on ${address}`);
}

export function stopper(pid: number): () => Promise<void> {
  return async () => {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return;
    }
    for (let i = 0; i < 50; i++) {
      try {
        process.kill(pid, 0);
      } catch {
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  };
}

/** cnm's resolver in the harness: `cnm` with its native responder (the default), `cnm js` without. */
function cnmHarness(name: string, native: boolean): ServerUnderTest {
  // Both listen on 127.0.0.11: the one without the responder in namespaces of its own (js-ns-<i>,
  // made by run.ts), while it runs, like the other, in the client namespace where the stub is.
  const prefix = native ? '' : 'js-';
  return {
    name,
    address: '127.0.0.11',
    async start(lab) {
      const argv = [process.execPath, '--expose-gc', path.join(NODE_DIST, 'cnm-server.js'), '--dir', lab.dir, '--sandboxes', String(lab.sandboxes), '--upstream', lab.upstream, '--ns-prefix', prefix];
      const child = inClient(lab, argv, { ...process.env, CNM_DNS_NATIVE: native ? '1' : '0' });
      const report = await readyLine(child, name);
      const clientNs = path.join(lab.dir, `${prefix}ns-0`);
      await answering(clientNs, '127.0.0.11');
      return { pid: child.pid!, clientNs, report, stop: stopper(child.pid!) };
    },
  };
}

export const cnm = cnmHarness('cnm', true);
export const cnmJs = cnmHarness('cnm js', false);

/** The C floor (c-floor.c, built by node-gyp next to the addon): the kernel's and machine's limit. */
export const cFloor: ServerUnderTest = {
  name: 'C floor',
  address: '127.0.0.15',
  async start(lab) {
    const child = inClient(lab, [path.join(NODE_DIST, '..', '..', '..', 'build', 'Release', 'dns-c-floor'), '127.0.0.15']);
    const report = await readyLine(child, 'C floor');
    return { pid: child.pid!, report, stop: stopper(child.pid!) };
  },
};

export const nodeFloor: ServerUnderTest = {
  name: 'node floor',
  address: '127.0.0.12',
  async start(lab) {
    const child = inClient(lab, [process.execPath, path.join(NODE_DIST, 'floor-server.js'), '127.0.0.12']);
    const report = await readyLine(child, 'node floor');
    return { pid: child.pid!, report, stop: stopper(child.pid!) };
  },
};

export const dnsmasq: ServerUnderTest = {
  name: 'dnsmasq',
  address: '127.0.0.13',
  async start(lab) {
    const hosts = path.join(lab.dir, 'dnsmasq.hosts');
    writeFileSync(hosts, hostsFile(lab.sandboxes));
    const child = inClient(lab, [
      'dnsmasq',
      '--conf-file=/dev/null',
      '--no-hosts',
      '--no-resolv',
      `--addn-hosts=${hosts}`,
      '--user=root',
      '-k',
      '--log-facility=-',
      '--listen-address=127.0.0.13',
      '--bind-interfaces',
      '--port=53',
      `--server=${lab.upstream}`,
      '--cache-size=10000',
      '--local-ttl=600',
      `--pid-file=${path.join(lab.dir, 'dnsmasq.pid')}`,
    ]);
    await answering(lab.clientNs, '127.0.0.13');
    return { pid: child.pid!, report: {}, stop: stopper(child.pid!) };
  },
};

export const unbound: ServerUnderTest = {
  name: 'unbound',
  address: '127.0.0.14',
  async start(lab) {
    const conf = path.join(lab.dir, 'unbound.conf');
    writeFileSync(
      conf,
      [
        'server:',
        '  interface: 127.0.0.14',
        '  port: 53',
        '  do-daemonize: no',
        '  username: ""',
        '  chroot: ""',
        `  pidfile: "${path.join(lab.dir, 'unbound.pid')}"`,
        '  num-threads: 1',
        '  use-syslog: no',
        '  logfile: ""',
        '  verbosity: 0',
        '  do-ip6: no',
        '  module-config: "iterator"',
        '  do-not-query-localhost: no',
        '  access-control: 127.0.0.0/8 allow',
        unboundLocalData(lab.sandboxes, 600),
        'forward-zone:',
        '  name: "."',
        `  forward-addr: ${lab.upstream}`,
        '',
      ].join('\n'),
    );
    const child = inClient(lab, ['unbound', '-d', '-c', conf]);
    await answering(lab.clientNs, '127.0.0.14');
    return { pid: child.pid!, report: {}, stop: stopper(child.pid!) };
  },
};

export const aardvark: ServerUnderTest = {
  name: 'aardvark-dns',
  address: '10.99.0.1',
  source: '10.99.0.2',
  async start(lab) {
    const configDir = path.join(lab.dir, 'aardvark');
    mkdirSync(configDir, { recursive: true });
    writeFileSync(path.join(configDir, NETWORK), aardvarkConfig(lab.sandboxes, lab.upstream));
    const resolvConf = path.join(lab.dir, 'aardvark-resolv.conf');
    writeFileSync(resolvConf, `nameserver ${lab.upstream}\n`);
    // Its own mount namespace, so that it reads our resolv.conf (never the machine's resolver).
    const script = `mount --bind ${resolvConf} /etc/resolv.conf && exec /usr/lib/podman/aardvark-dns --config ${configDir} -p 53 run`;
    const child = spawn('nsenter', [`--net=${lab.clientNs}`, 'unshare', '-m', 'taskset', '-c', String(lab.serverCpu), 'sh', '-c', script], { stdio: 'ignore' });
    await new Promise((r) => child.on('exit', r));
    await answering(lab.clientNs, '10.99.0.1', '10.99.0.2');
    const pid = Number(readFileSync(path.join(configDir, 'aardvark.pid'), 'utf8').trim());
    return { pid, report: {}, stop: stopper(pid) };
  },
};
