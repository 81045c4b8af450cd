/**
 * A real dockerd 20.10 (Debian 12's, extracted by scripts/docker-engine.sh) in a docker
 * RuntimeLab: in the lab's network and mount namespaces, with private data and exec roots, the
 * lab's containerd, no iptables and no default bridge. It finds cnmd's plugin socket at
 * /run/docker/plugins/cnm.sock (a tmpfs of the lab). The busybox image is `docker import`ed as bb.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO } from './cni';
import { sleep } from './lab';
import type { RunResult, RuntimeLab } from './runtimes';

const execFileP = promisify(execFile);

export class DockerHost {
  log = '';

  private daemon!: ChildProcess;

  private constructor(
    private readonly rl: RuntimeLab,
    private readonly engine: string,
    private readonly dir: string,
  ) {}

  get socket(): string {
    return path.join(this.dir, 'docker.sock');
  }

  static async start(rl: RuntimeLab): Promise<DockerHost> {
    const engine = (await execFileP(path.join(REPO, 'scripts', 'docker-engine.sh'))).stdout.trim();
    const dir = path.join(rl.dir, 'docker');
    fs.mkdirSync(dir, { recursive: true });
    const host = new DockerHost(rl, engine, dir);
    await host.startDaemon();
    const imported = await host.docker('import', path.join(rl.dir, 'bb-rootfs.tar'), 'bb');
    if (imported.code !== 0) throw new Error(`docker import: ${imported.err}`);
    return host;
  }

  /** Starts dockerd (again) and waits until it answers. */
  async startDaemon(): Promise<void> {
    const { rl, engine, dir } = this;
    const args = [
      `--mount=${rl.mountNs}`,
      `--net=${rl.hostNs}`,
      path.join(engine, 'usr/sbin/dockerd'),
      '--iptables=false',
      '--ip6tables=false',
      '--bridge=none',
      '--userland-proxy=false',
      '--data-root', path.join(dir, 'data'),
      '--exec-root', path.join(dir, 'exec'),
      '--pidfile', path.join(dir, 'docker.pid'),
      '-H', `unix://${path.join(dir, 'docker.sock')}`,
      '--containerd', rl.containerdSocket,
      '--exec-opt', 'native.cgroupdriver=cgroupfs',
      '--default-ulimit', 'nofile=4096:4096',
      '--default-ulimit', 'nproc=4096:4096',
      '--storage-driver', 'vfs',
    ];
    const child = spawn('nsenter', args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PATH: `${path.join(engine, 'usr/bin')}:${path.join(engine, 'usr/sbin')}:${process.env.PATH ?? ''}` } });
    this.daemon = child;
    child.stderr!.on('data', (d: Buffer) => (this.log = (this.log + d.toString()).slice(-30000)));
    const deadline = Date.now() + 60000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`dockerd exited: ${this.log}`);
      if ((await this.docker('version', '--format', '{{.Server.Version}}')).code === 0) return;
      if (Date.now() > deadline) throw new Error(`dockerd did not start: ${this.log}`);
      await sleep(250);
    }
  }

  /** dockerd killed (SIGKILL): its containers' tasks stay in containerd until it starts again. */
  async killDaemon(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.daemon.once('exit', () => resolve()));
    this.daemon.kill('SIGKILL');
    await exited;
  }

  docker(...argv: string[]): Promise<RunResult> {
    return this.rl.run([path.join(this.engine, 'usr/bin/docker'), '-H', `unix://${this.socket}`, ...argv], { timeoutMs: 90000 });
  }

  /** Containers removed, then dockerd stopped (before the lab's containerd and cnmd go). */
  async stop(): Promise<void> {
    if (this.daemon.exitCode !== null) return;
    const ids = (await this.docker('ps', '-aq')).out.split('\n').filter(Boolean);
    if (ids.length) await this.docker('rm', '-f', ...ids);
    const exited = new Promise<void>((resolve) => this.daemon.once('exit', () => resolve()));
    this.daemon.kill('SIGTERM');
    await Promise.race([exited, sleep(15000)]);
    if (this.daemon.exitCode === null) this.daemon.kill('SIGKILL');
  }
}
