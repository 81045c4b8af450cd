/**
 * Real container runtimes around a lab's cnmd: podman (CNI backend) and containerd with `ctr`,
 * with private roots and state. ctr and podman read /etc/cni/net.d, /opt/cni/bin and /var/lib/cni
 * and have no flag to move them, so everything (cnmd, the runtimes, their containers) runs in a
 * private mount namespace, held by a keeper process, where those directories are throw-away
 * overlays: the host's files never change, and the runtimes' mounts (podman's /run/netns files,
 * container root filesystems) vanish with the namespace. Also ctr only reads the first file in
 * /etc/cni/net.d, where Debian's podman puts 87-podman-bridge.conflist: `cnm cni install` names
 * its file to sort first, which these tests rely on.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createNetns, deleteNetns } from '../../src/os/native';
import { REPO } from './cni';
import { Lab, sleep } from './lab';

const execFileP = promisify(execFile);

export interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface RunResult {
  code: number;
  out: string;
  err: string;
}

/** Overlays on the directories runtimes write outside their roots; writes land in a tmpfs. */
const SETUP_MOUNTS = `set -e
d=$1; shift
tops=$1; shift
mount -t tmpfs cnm-lab "$d/ovl"
for top in $tops; do
  n=$(echo "$top" | tr / _)
  mkdir -p "$d/ovl/$n.up" "$d/ovl/$n.work"
  mount -t overlay cnm-lab -o "lowerdir=$top,upperdir=$d/ovl/$n.up,workdir=$d/ovl/$n.work" "$top"
done
if [ "$1" = docker ]; then
  # dockerd writes /run/docker (its plugin directory too) and /etc/docker/key.json.
  mount -t tmpfs cnm-lab /run
  mkdir -p /run/netns /run/docker/plugins /etc/docker/plugins
fi
mountpoint -q /run/netns || mount -t tmpfs cnm-lab /run/netns
mkdir -p /opt/cni/bin /etc/cni/net.d /var/lib/cni
echo ready
exec sleep infinity
`;

/** Where cnmd serves the Docker plugin in a docker lab: Docker calls the plugin "cnm". */
export const DOCKER_PLUGIN_SOCKET = '/run/docker/plugins/cnm.sock';

export class RuntimeLab {
  private containerd: ChildProcess | undefined;
  containerdLog = '';

  private constructor(
    readonly lab: Lab,
    readonly dir: string,
    readonly hostNs: string,
    private readonly keeper: ChildProcess,
    private readonly ownNs = true,
  ) {}

  get mountNs(): string {
    return `/proc/${this.keeper.pid}/ns/mnt`;
  }

  /** The busybox image (scripts/busybox-image.sh), podman's config, containerd running. */
  /**
   * `docker`: for dockerd, /etc is an overlay and /run a tmpfs in the lab's mount namespace (it
   * writes /etc/docker and /run/docker, which have no flag), and cnmd serves the Docker plugin
   * socket at /run/docker/plugins/cnm.sock there; podman is not set up.
   */
  static async start(t: Teardown, opts: { docker?: boolean; daemonArgs?: string[]; hostNs?: string } = {}): Promise<RuntimeLab> {
    const image = (await execFileP(path.join(REPO, 'scripts', 'busybox-image.sh'))).stdout.trim();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `cnmrt${crypto.randomBytes(3).toString('hex')}-`));
    // A host namespace given by the caller (a host of a multi-host lab) is the caller's to remove.
    const ownNs = !opts.hostNs;
    const hostNs = opts.hostNs ?? path.join(dir, 'hostns');
    if (ownNs) createNetns(hostNs);
    fs.mkdirSync(path.join(dir, 'ovl'));
    fs.writeFileSync(path.join(dir, 'mounts.sh'), SETUP_MOUNTS);
    const keeper = spawn('nsenter', [`--net=${hostNs}`, 'unshare', '-m', '--propagation', 'private', 'sh', path.join(dir, 'mounts.sh'), dir, opts.docker ? '/var/lib /opt /etc' : '/var/lib /opt /etc/cni', opts.docker ? 'docker' : 'cni'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let keeperOut = '';
    await new Promise<void>((resolve, reject) => {
      keeper.stdout!.on('data', (d: Buffer) => {
        keeperOut += d.toString();
        if (keeperOut.includes('ready')) resolve();
      });
      keeper.stderr!.on('data', (d: Buffer) => (keeperOut += d.toString()));
      keeper.once('exit', (code) => reject(new Error(`the mount namespace could not be set up (${code}): ${keeperOut}`)));
    });
    let lab: Lab | undefined;
    let rl: RuntimeLab | undefined;
    t.teardown(async () => {
      if (rl) await rl.close();
      else {
        keeper.kill('SIGKILL');
        if (ownNs) deleteNetns(hostNs);
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
    lab = await Lab.start({ hostNs, mountNs: `/proc/${keeper.pid}/ns/mnt`, daemonArgs: [...(opts.docker ? ['--docker-plugin', DOCKER_PLUGIN_SOCKET] : []), ...(opts.daemonArgs ?? [])] });
    rl = new RuntimeLab(lab, dir, hostNs, keeper, ownNs);
    fs.writeFileSync(path.join(dir, 'containers.conf'), podmanConf(dir));
    fs.cpSync(path.join(image, 'rootfs'), path.join(dir, 'rootfs'), { recursive: true, verbatimSymlinks: true });
    fs.copyFileSync(path.join(image, 'bb-rootfs.tar'), path.join(dir, 'bb-rootfs.tar'));
    if (!opts.docker) {
      const imported = await rl.podman(['import', path.join(image, 'bb-rootfs.tar'), 'localhost/bb:latest']);
      if (imported.code !== 0) throw new Error(`podman import: ${imported.err}`);
    }
    await rl.startContainerd();
    return rl;
  }

  /** Runs a command in the lab's mount namespace and host network namespace (or another). */
  run(cmd: string[], opts: { net?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<RunResult> {
    return new Promise((resolve) => {
      // Two steps: a sandbox's namespace file is a mount that exists only in the lab's mount namespace.
      const child = spawn('nsenter', [`--mount=${this.mountNs}`, 'nsenter', `--net=${opts.net ?? this.hostNs}`, ...cmd], { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, out, err });
      });
    });
  }

  /** The cnm CLI as a process inside the mount namespace (cni install writes there). */
  cnm(...argv: string[]): Promise<RunResult> {
    return this.run([process.execPath, path.join(REPO, 'bin', 'cnm'), '-H', `unix://${this.lab.socket}`, ...argv]);
  }

  podman(argv: string[]): Promise<RunResult> {
    return this.run(['podman', '--root', path.join(this.dir, 'podman', 'root'), '--runroot', path.join(this.dir, 'podman', 'run'), ...argv], { env: { CONTAINERS_CONF: path.join(this.dir, 'containers.conf') } });
  }

  get containerdSocket(): string {
    return path.join(this.dir, 'containerd', 'sock');
  }

  ctr(argv: string[]): Promise<RunResult> {
    return this.run(['ctr', '-a', this.containerdSocket, ...argv]);
  }

  /** `ctr` as a child process that stays (a foreground `ctr run`), to kill it like a crashed runtime. */
  spawnCtr(argv: string[]): ChildProcess {
    return spawn('nsenter', [`--mount=${this.mountNs}`, `--net=${this.hostNs}`, 'ctr', '-a', this.containerdSocket, ...argv], { stdio: 'ignore' });
  }

  /** A root filesystem of its own for one ctr container (ctr run --rootfs writes into it). */
  rootfs(name: string): string {
    const target = path.join(this.dir, `rootfs-${name}`);
    fs.cpSync(path.join(this.dir, 'rootfs'), target, { recursive: true, verbatimSymlinks: true });
    return target;
  }

  async startContainerd(): Promise<void> {
    const c = path.join(this.dir, 'containerd');
    fs.mkdirSync(c, { recursive: true });
    const config = [
      'version = 2',
      `root = "${c}/root"`,
      `state = "${c}/state"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `address = "${this.containerdSocket}"`,
      '[ttrpc]',
      `address = "${this.containerdSocket}.ttrpc"`,
      '[plugins."io.containerd.internal.v1.opt"]',
      `path = "${c}/opt"`,
      '',
    ].join('\n');
    fs.writeFileSync(path.join(c, 'config.toml'), config);
    const child = spawn('nsenter', [`--mount=${this.mountNs}`, `--net=${this.hostNs}`, 'containerd', '--config', path.join(c, 'config.toml')], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (d: Buffer) => (this.containerdLog = (this.containerdLog + d.toString()).slice(-20000)));
    this.containerd = child;
    const deadline = Date.now() + 20000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`containerd exited: ${this.containerdLog}`);
      if (await connects(this.containerdSocket)) return;
      await sleep(50);
    }
    throw new Error(`containerd did not start: ${this.containerdLog}`);
  }

  /** Containers, tasks, containerd, cnmd, the mount namespace and every file: also after a failure. */
  async close(): Promise<void> {
    try {
      await this.podman(['rm', '-a', '-f', '-t', '0']).catch(() => undefined);
      if (this.containerd && this.containerd.exitCode === null) {
        const tasks = await this.ctr(['tasks', 'ls', '-q']);
        for (const id of tasks.out.split('\n').filter(Boolean)) {
          await this.ctr(['tasks', 'kill', '-s', 'SIGKILL', id]);
          await this.ctr(['tasks', 'delete', '-f', id]);
        }
        const containers = await this.ctr(['containers', 'ls', '-q']);
        for (const id of containers.out.split('\n').filter(Boolean)) await this.ctr(['containers', 'rm', id]);
        const exited = new Promise<void>((resolve) => this.containerd!.once('exit', () => resolve()));
        this.containerd.kill('SIGTERM');
        await Promise.race([exited, sleep(5000)]);
        this.containerd.kill('SIGKILL');
      }
    } finally {
      await this.lab.close();
      killProcessesInNetns(this.hostNs);
      this.keeper.kill('SIGKILL');
      if (this.ownNs) deleteNetns(this.hostNs);
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

function podmanConf(dir: string): string {
  return [
    '[containers]',
    // root's defaults fail here: "setting rlimit type 7: operation not permitted"
    'default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]',
    '[network]',
    'network_backend = "cni"',
    '[engine]',
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    `events_logfile_path = "${dir}/podman/events.log"`,
    `tmp_dir = "${dir}/podman/tmp"`,
    `static_dir = "${dir}/podman/root/libpod"`,
    `volume_path = "${dir}/podman/root/volumes"`,
    '',
  ].join('\n');
}

function connects(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(socket);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Processes left in the lab's host network namespace (shims, conmon): killed by pid. */
function killProcessesInNetns(nsPath: string): void {
  let ino: number;
  try {
    ino = fs.statSync(nsPath).ino;
  } catch {
    return;
  }
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      if (fs.statSync(`/proc/${pid}/ns/net`).ino === ino) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone
    }
  }
}
