/**
 * An integration-test lab: a private "host" network namespace with a real cnmd inside it, its
 * own root and run directories under a temp dir, and helpers to drive it through the CLI and the
 * API. close() removes everything the lab made, also after a failed test.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { runCli } from '../../src/cli/main';
import { createNetns, deleteNetns, isNetnsMount } from '../../src/os/native';

const execFileP = promisify(execFile);
const REPO = path.resolve(__dirname, '..', '..', '..');

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export interface LabOptions {
  /** extra cnmd flags */
  daemonArgs?: string[];
  /** content of the resolv.conf the daemon follows (never the machine's own) */
  resolvConf?: string;
  /** run cnmd in this existing "host" namespace (made and removed by the caller) instead of a new one */
  hostNs?: string;
  /** run cnmd in this mount namespace (a private one shared with container runtimes, see runtimes.ts) */
  mountNs?: string;
}

export class Lab {
  readonly id = `cnmt${crypto.randomBytes(3).toString('hex')}`;
  readonly dir: string;
  readonly hostNs: string;
  readonly root: string;
  readonly execRoot: string;
  readonly socket: string;
  readonly resolvConf: string;
  private daemon: ChildProcess | undefined;
  daemonLog = '';
  private readonly extraNs: string[] = [];

  private constructor(private readonly opts: LabOptions) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `${this.id}-`));
    this.hostNs = opts.hostNs ?? path.join(this.dir, 'hostns');
    this.root = path.join(this.dir, 'root');
    this.execRoot = path.join(this.dir, 'run');
    this.socket = path.join(this.execRoot, 'cnm.sock');
    this.resolvConf = path.join(this.dir, 'resolv.conf');
  }

  static async start(opts: LabOptions = {}): Promise<Lab> {
    const lab = new Lab(opts);
    fs.writeFileSync(lab.resolvConf, opts.resolvConf ?? 'nameserver 127.0.0.1\n');
    if (!opts.hostNs) createNetns(lab.hostNs);
    try {
      await lab.startDaemon();
    } catch (err) {
      await lab.close();
      throw err;
    }
    return lab;
  }

  /** Starts cnmd inside the lab's host namespace and waits until it answers. */
  async startDaemon(extraArgs: string[] = []): Promise<void> {
    const args = [
      `--net=${this.hostNs}`,
      ...(this.opts.mountNs ? [`--mount=${this.opts.mountNs}`] : []),
      process.execPath,
      // e.g. CNM_DAEMON_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the daemon
      ...(process.env.CNM_DAEMON_NODE_ARGS ? process.env.CNM_DAEMON_NODE_ARGS.split(' ') : []),
      path.join(REPO, 'bin', 'cnmd'),
      '--root', this.root,
      '--exec-root', this.execRoot,
      '--resolv-conf', this.resolvConf,
      '--log-level', 'debug',
      ...(this.opts.daemonArgs ?? []),
      ...extraArgs,
    ];
    const child = spawn('nsenter', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (d: Buffer) => (this.daemonLog += d.toString()));
    this.daemon = child;
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`cnmd exited with ${child.exitCode}:\n${this.daemonLog}`);
      try {
        await this.api('GET', '/_ping');
        return;
      } catch {
        await sleep(50);
      }
    }
    throw new Error(`cnmd did not become ready:\n${this.daemonLog}`);
  }

  get daemonPid(): number | undefined {
    return this.daemon?.pid;
  }

  /** SIGTERM (graceful) or SIGKILL; resolves when the process is gone. */
  async stopDaemon(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.daemon;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
    this.daemon = undefined;
  }

  /** Runs the cnm CLI in-process against this lab's daemon. */
  async cli(...argv: string[]): Promise<CliResult> {
    let out = '';
    let err = '';
    const code = await runCli(['-H', `unix://${this.socket}`, ...argv], { out: (t) => (out += t), err: (t) => (err += t), confirm: async () => false });
    return { code, out, err };
  }

  /** Runs the cnm CLI as a separate process (for run/exec, which hand the terminal to a program). */
  async cliProcess(argv: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [path.join(REPO, 'bin', 'cnm'), '-H', `unix://${this.socket}`, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, out, err });
      });
      child.stdin.end(opts.input ?? '');
    });
  }

  /** One API call over the socket. */
  api(method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown; headers: http.IncomingHttpHeaders; raw: string }> {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        { socketPath: this.socket, method, path: urlPath, headers: { ...(payload !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers } },
        (res) => {
          let raw = '';
          res.on('data', (d: Buffer) => (raw += d.toString()));
          res.on('end', () => {
            let parsed: unknown = raw;
            try {
              parsed = raw ? JSON.parse(raw) : undefined;
            } catch {
              // text body
            }
            resolve({ status: res.statusCode ?? 0, body: parsed, headers: res.headers, raw });
          });
        },
      );
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** Runs a command inside the lab's host namespace. */
  async inHost(cmd: string[], opts: { allowFail?: boolean } = {}): Promise<string> {
    return this.inNs(this.hostNs, cmd, opts);
  }

  inNs(nsPath: string, cmd: string[], opts: InNsOptions = {}): Promise<string> {
    return inNs(nsPath, cmd, opts);
  }

  /** The namespace file of a sandbox (by name or id). */
  async sandboxNs(ref: string): Promise<string> {
    const r = await this.api('GET', `/containers/${ref}/json`);
    if (r.status !== 200) throw new Error(`no sandbox ${ref}: ${r.raw}`);
    return (r.body as { NetworkSettings: { SandboxKey: string } }).NetworkSettings.SandboxKey;
  }

  /** An extra namespace for the test (a LAN, an external client...), removed by close(). */
  newNamespace(name: string): string {
    const p = path.join(this.dir, `ns-${name}`);
    createNetns(p);
    this.extraNs.push(p);
    return p;
  }

  /** Everything the lab made: sandboxes (and their processes), the daemon, namespaces, files. */
  async close(): Promise<void> {
    try {
      if (this.daemon) {
        const list = await this.api('GET', '/containers/json?all=1').catch(() => undefined);
        for (const c of (list?.body as { Id: string }[] | undefined) ?? []) await this.api('DELETE', `/containers/${c.Id}?force=1`).catch(() => undefined);
      }
    } finally {
      await this.stopDaemon('SIGTERM').catch(() => undefined);
      killProcessesIn(this.dir);
      const netnsDir = path.join(this.execRoot, 'netns');
      for (const f of safeReaddir(netnsDir)) deleteNetns(path.join(netnsDir, f));
      for (const p of this.extraNs) deleteNetns(p);
      if (!this.opts.hostNs && isNetnsMount(this.hostNs)) deleteNetns(this.hostNs);
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/** Any process still inside one of the lab's namespaces (a sandbox program left running). */
function killProcessesIn(dir: string): void {
  const inodes = new Set<number>();
  const candidates = [path.join(dir, 'hostns'), ...safeReaddir(path.join(dir, 'run', 'netns')).map((f) => path.join(dir, 'run', 'netns', f))];
  for (const p of candidates) {
    try {
      if (isNetnsMount(p)) inodes.add(fs.statSync(p).ino);
    } catch {
      // gone
    }
  }
  for (const pid of safeReaddir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      if (inodes.has(fs.statSync(`/proc/${pid}/ns/net`).ino)) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone or not ours to see
    }
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface InNsOptions {
  /** Return stdout+stderr of a failed command instead of throwing. */
  allowFail?: boolean;
  timeoutMs?: number;
}

/** Runs a command inside the network namespace at nsPath (nsenter); its stdout. */
export async function inNs(nsPath: string, cmd: string[], opts: InNsOptions = {}): Promise<string> {
  try {
    const { stdout } = await execFileP('nsenter', [`--net=${nsPath}`, ...cmd], { timeout: opts.timeoutMs ?? 20000 });
    return stdout;
  } catch (err) {
    if (opts.allowFail) return `${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}`;
    throw err;
  }
}

/** Polls `check` until it returns a value other than undefined/false; returns it with the time taken. */
export async function until<T>(check: () => Promise<T | undefined | false>, timeoutMs = 10000, what = 'condition'): Promise<{ value: T; ms: number }> {
  const start = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return { value, ms: Date.now() - start };
    } catch (err) {
      last = err;
    }
    if (Date.now() - start > timeoutMs) throw new Error(`${what} not met after ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await sleep(25);
  }
}
