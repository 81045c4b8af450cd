/**
 * A real etcd cluster for tests: one `etcd` process per member (Debian's etcd-server), each on
 * its own address, optionally inside a "host" namespace, with data under the caller's temp dir.
 * Members can be killed and restarted (same data, rejoining the cluster) to take the leader or
 * the quorum away. close() kills every process it started.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface MemberSpec {
  name: string;
  /** the address it listens on (client port 2379, peer port 2380) */
  address: string;
  /** the namespace it runs in; the caller's own when omitted */
  nsPath?: string;
}

interface Member extends MemberSpec {
  process: ChildProcess | undefined;
  log: string;
}

const CLIENT_PORT = 2379;
const PEER_PORT = 2380;

export class EtcdMembers {
  private readonly members: Member[];
  private token = `cnmt-${crypto.randomBytes(4).toString('hex')}`;

  private constructor(
    private readonly dir: string,
    specs: MemberSpec[],
  ) {
    this.members = specs.map((s) => ({ ...s, process: undefined, log: '' }));
  }

  /** Starts every member and waits until the cluster has a leader and answers. */
  static async start(dir: string, specs: MemberSpec[]): Promise<EtcdMembers> {
    const cluster = new EtcdMembers(dir, specs);
    // A test process that dies without its teardown must not leave etcd running.
    const killAll = (): void => cluster.members.forEach((m) => m.process?.kill('SIGKILL'));
    process.on('exit', killAll);
    try {
      for (const m of cluster.members) cluster.spawn(m, 'new');
      await cluster.waitHealthy(20000);
    } catch (err) {
      await cluster.close();
      throw err;
    }
    return cluster;
  }

  /** The --cluster-store value for cnmd. */
  get url(): string {
    return `etcd://${this.members.map((m) => `${m.address}:${CLIENT_PORT}`).join(',')}`;
  }

  get names(): string[] {
    return this.members.map((m) => m.name);
  }

  isRunning(name: string): boolean {
    const m = this.member(name);
    return m.process !== undefined && m.process.exitCode === null && m.process.signalCode === null;
  }

  /** Kills a member (SIGKILL by default) and waits for its exit. */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const m = this.member(name);
    const child = m.process;
    m.process = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }

  /** Starts a killed member again on its data dir: it rejoins the cluster it left. */
  restart(name: string): void {
    const m = this.member(name);
    if (this.isRunning(name)) return;
    this.spawn(m, 'existing');
  }

  /** Replaces the cluster with a new, empty one on the same addresses (all data lost, revisions start over). */
  async recreate(): Promise<void> {
    for (const m of this.members) await this.kill(m.name);
    for (const m of this.members) fs.rmSync(path.join(this.dir, `etcd-${m.name}`), { recursive: true, force: true });
    this.token = `cnmt-${crypto.randomBytes(4).toString('hex')}`;
    for (const m of this.members) this.spawn(m, 'new');
    await this.waitHealthy(20000);
  }

  /** The name of the current leader, asked from a running member (undefined without quorum). */
  async leader(): Promise<string | undefined> {
    for (const m of this.members.filter((x) => this.isRunning(x.name))) {
      try {
        // Member ids are uint64: JSON.parse would round them, so read them as text.
        const status = await this.etcdctl(m, ['endpoint', 'status', '-w', 'json']);
        const leader = /"leader":(\d+)/.exec(status)?.[1];
        if (!leader || leader === '0') continue;
        const list = await this.etcdctl(m, ['member', 'list', '-w', 'json']);
        const found = [...list.matchAll(/"ID":(\d+),"name":"([^"]*)"/g)].find((x) => x[1] === leader);
        if (found) return found[2];
      } catch {
        // this member cannot tell: try another
      }
    }
    return undefined;
  }

  /** Waits until a quorum answers a linearizable read. */
  async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      for (const m of this.members.filter((x) => this.isRunning(x.name))) {
        try {
          await this.etcdctl(m, ['get', '--consistency=l', 'health-probe']);
          return;
        } catch (err) {
          last = String((err as { stderr?: string }).stderr ?? err);
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`etcd cluster not healthy after ${timeoutMs} ms: ${last}\n${this.members.map((m) => `--- ${m.name}\n${m.log.slice(-2000)}`).join('\n')}`);
  }

  async close(): Promise<void> {
    for (const m of this.members) await this.kill(m.name).catch(() => undefined);
  }

  private member(name: string): Member {
    const m = this.members.find((x) => x.name === name);
    if (!m) throw new Error(`no etcd member ${name}`);
    return m;
  }

  private spawn(m: Member, state: 'new' | 'existing'): void {
    const dataDir = path.join(this.dir, `etcd-${m.name}`);
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const client = `http://${m.address}:${CLIENT_PORT}`;
    const peer = `http://${m.address}:${PEER_PORT}`;
    const args = [
      '--name', m.name,
      '--data-dir', dataDir,
      '--listen-client-urls', client,
      '--advertise-client-urls', client,
      '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer,
      '--initial-cluster', this.members.map((x) => `${x.name}=http://${x.address}:${PEER_PORT}`).join(','),
      '--initial-cluster-state', state,
      '--initial-cluster-token', this.token,
      '--logger', 'zap',
      '--log-level', 'warn',
    ];
    const [cmd, ...prefix] = m.nsPath ? ['nsenter', `--net=${m.nsPath}`, 'etcd'] : ['etcd'];
    const child = spawn(cmd!, [...prefix, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (d: Buffer) => {
      m.log = (m.log + d.toString()).slice(-20000);
    });
    m.process = child;
  }

  /** The keys under a prefix, read through the first running member (a test's look at what is left). */
  async keys(prefix: string): Promise<string[]> {
    const m = this.members.find((x) => this.isRunning(x.name));
    if (!m) throw new Error('no etcd member is running');
    return (await this.etcdctl(m, ['get', '--prefix', '--keys-only', prefix])).split('\n').filter(Boolean);
  }

  private async etcdctl(m: Member, args: string[]): Promise<string> {
    const argv = ['etcdctl', `--endpoints=http://${m.address}:${CLIENT_PORT}`, '--command-timeout=1s', '--dial-timeout=1s', ...args];
    const [cmd, ...rest] = m.nsPath ? ['nsenter', `--net=${m.nsPath}`, ...argv] : argv;
    const { stdout } = await execFileP(cmd!, rest, { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 5000 });
    return stdout;
  }
}
