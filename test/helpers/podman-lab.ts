/**
 * A lab for the real Podman 4.3 + netavark 1.4 (netavark backend): a private network namespace
 * (the "host" the containers' bridges live in) and a private mount namespace kept open through a
 * file, in which /run, /usr/local and /etc/resolv.conf are the lab's own. Rootful netavark keeps
 * its state in the fixed /run/containers/networks and netavark looks for aardvark-dns in
 * /usr/local/libexec/podman first: both are private here, so nothing on the host changes. Podman
 * runs with its own root, runroot and containers.conf; the image is busybox-static, imported
 * offline. close() kills whatever still runs in the lab's mount namespace and removes everything,
 * also after a failed test.
 */
import { execFile, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createNetns, deleteNetns } from '../../src/os/native';
import { isLiveProcess } from '../../src/os/proc';

const execFileP = promisify(execFile);
export const REPO = path.resolve(__dirname, '..', '..', '..');
/** Where forwarded names go: the bench's stub (A → 192.0.2.1), on the lab namespace's loopback. */
export const STUB_ADDRESS = '10.77.0.53';

export interface PodmanLabOptions {
  /** containers.conf helper_binaries_dir; absent: Podman's default list (/usr/local/libexec/podman first). */
  helperBinariesDir?: string[];
}

export interface Result {
  code: number;
  out: string;
  err: string;
}

/** busybox-static as a rootfs tarball (scripts/busybox-image.sh, shared with the CNI runtime tests). */
export function busyboxImage(): string {
  const dir = execFileSync(path.join(REPO, 'scripts', 'busybox-image.sh'), { encoding: 'utf8' }).trim();
  return path.join(dir, 'bb-rootfs.tar');
}

export class PodmanLab {
  readonly id = `cnmpd${crypto.randomBytes(3).toString('hex')}`;
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), `${this.id}-`));
  readonly netns = path.join(this.dir, 'netns');
  private readonly nsDir = path.join(this.dir, 'ns');
  readonly mountNs = path.join(this.nsDir, 'mnt');
  readonly conf = path.join(this.dir, 'containers.conf');
  /** netavark's aardvark config directory (inside the lab's mount namespace). */
  readonly aardvarkDir = '/run/containers/networks/aardvark-dns';
  private stub: import('node:child_process').ChildProcess | undefined;

  static async start(opts: PodmanLabOptions = {}): Promise<PodmanLab> {
    const lab = new PodmanLab();
    try {
      await lab.setUp(opts);
    } catch (err) {
      await lab.close();
      throw err;
    }
    return lab;
  }

  private async setUp(opts: PodmanLabOptions): Promise<void> {
    const image = busyboxImage();
    createNetns(this.netns);
    await execFileP('nsenter', [`--net=${this.netns}`, 'ip', 'link', 'set', 'lo', 'up']);
    await execFileP('nsenter', [`--net=${this.netns}`, 'ip', 'addr', 'add', `${STUB_ADDRESS}/32`, 'dev', 'lo']);
    // A mount namespace that outlives its first process: bound to a file on a private mount.
    fs.mkdirSync(this.nsDir);
    await execFileP('mount', ['--bind', this.nsDir, this.nsDir]);
    await execFileP('mount', ['--make-private', this.nsDir]);
    fs.writeFileSync(this.mountNs, '');
    const resolvConf = path.join(this.dir, 'resolv.conf');
    fs.writeFileSync(resolvConf, `nameserver ${STUB_ADDRESS}\n`);
    await execFileP('unshare', [
      `--mount=${this.mountNs}`,
      '--propagation',
      'private',
      'sh',
      '-c',
      `mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /usr/local && mount --bind ${resolvConf} /etc/resolv.conf`,
    ]);
    this.configure(opts);
    this.stub = (await import('node:child_process')).spawn('nsenter', [`--net=${this.netns}`, process.execPath, path.join(REPO, 'dist', 'bench', 'dns', 'upstream-stub.js'), STUB_ADDRESS, '53'], { stdio: 'ignore' });
    const imported = await this.podman('import', image, 'localhost/bb:latest');
    if (imported.code !== 0) throw new Error(`podman import: ${imported.err}`);
  }

  /** (Re)writes the lab's containers.conf. */
  configure(opts: PodmanLabOptions): void {
    const helper = opts.helperBinariesDir ? `[engine]\nhelper_binaries_dir=${JSON.stringify(opts.helperBinariesDir)}\n` : '';
    fs.writeFileSync(
      this.conf,
      `[containers]\ndefault_ulimits=["nofile=4096:4096","nproc=4096:4096"]\n[network]\nnetwork_backend="netavark"\nnetwork_config_dir="${this.dir}/netconf"\n${helper}`,
    );
  }

  /** A command in the lab (both namespaces), with the lab's containers.conf. Never throws. */
  async sh(argv: string[], timeoutMs = 60_000): Promise<Result> {
    try {
      const { stdout, stderr } = await execFileP('nsenter', [`--mount=${this.mountNs}`, `--net=${this.netns}`, ...argv], {
        timeout: timeoutMs,
        env: { ...process.env, CONTAINERS_CONF: this.conf },
        maxBuffer: 16 * 1024 * 1024,
      });
      return { code: 0, out: stdout, err: stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string; message: string };
      return { code: typeof e.code === 'number' ? e.code : -1, out: e.stdout ?? '', err: e.stderr ?? e.message };
    }
  }

  podman(...args: string[]): Promise<Result> {
    return this.sh(['podman', '--root', path.join(this.dir, 'root'), '--runroot', path.join(this.dir, 'runroot'), ...args]);
  }

  /** A file's content inside the lab's mount namespace, or null. */
  async read(file: string): Promise<string | null> {
    const r = await this.sh(['cat', file]);
    return r.code === 0 ? r.out : null;
  }

  /** The pid netavark would signal (aardvark.pid), when that process is alive. */
  async serverPid(): Promise<number | null> {
    const text = await this.read(`${this.aardvarkDir}/aardvark.pid`);
    const pid = Number(text?.trim());
    return Number.isInteger(pid) && pid > 0 && isLiveProcess(pid) ? pid : null;
  }

  /** Processes whose mount namespace is the lab's. */
  private labProcesses(): number[] {
    let ino: number;
    try {
      ino = fs.statSync(this.mountNs).ino;
    } catch {
      return [];
    }
    const pids: number[] = [];
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (fs.readlinkSync(`/proc/${entry}/ns/mnt`) === `mnt:[${ino}]`) pids.push(Number(entry));
      } catch {
        // gone
      }
    }
    return pids;
  }

  async close(): Promise<void> {
    // Fails harmlessly when the namespace was never made.
    await this.podman('rm', '-a', '-f', '-t', '0');
    for (const pid of this.labProcesses()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    this.stub?.kill('SIGKILL');
    await execFileP('umount', [this.mountNs]).catch(() => undefined);
    await execFileP('umount', [this.nsDir]).catch(() => undefined);
    try {
      deleteNetns(this.netns);
    } catch {
      // never made
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
