/**
 * A sandbox's main process: a host program run inside the sandbox through cnm-exec, whose
 * supervisor writes the program's output to the sandbox's log (so it outlives a daemon restart)
 * and holds its terminal. The process is known by pid and start time, so it is found again after
 * a daemon restart and a recycled pid is never mistaken for it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import type { Writable } from 'node:stream';
import type { Controller } from '../controller/controller';
import { nowRfc3339Nano } from '../controller/ids';
import type { ProcessState, SandboxRecord } from '../controller/model';
import { sandboxPaths } from '../controller/sandbox-files';
import { CnmError } from '../errors';
import type { Logger } from '../log';
import { CNM_EXEC_PATH } from '../os/native';
import { isLiveProcess, killProcesses, procStat, processesInNetns } from '../os/proc';
import { lastExitStatus, logPath } from './log-file';
import { checkProgram, programEnv, searchPath } from './program';

export interface ExecOptions {
  cwd?: string;
  tty?: boolean;
  /** initial terminal size */
  size?: { rows: number; cols: number };
  /** a fd the daemon writes "ROWS COLS" lines to */
  controlFd?: number;
  /** framed output to this file */
  log?: string;
}

export interface ExecSpec {
  /** the cnm-exec binary and its arguments up to and including "--" */
  argv: string[];
}

/** /proc/PID/stat field 22 (start time in clock ticks), or 0 if the process is gone. */
export function processStartTicks(pid: number): number {
  return Number(procStat(pid)?.[19] ?? 0);
}

export class ProcessRuntime {
  private readonly waiters = new Map<string, ((code: number) => void)[]>();
  private readonly pollers = new Map<string, NodeJS.Timeout>();
  /** the running main processes' stdin (OpenStdin) and terminal control pipes, while we hold them */
  private readonly pipes = new Map<string, { stdin?: Writable; control?: Writable }>();
  private readonly listeners: (() => void)[] = [];
  private readonly starting = new Map<string, Promise<void>>();

  constructor(
    private readonly ctl: Controller,
    private readonly execRoot: string,
    private readonly log: Logger,
  ) {}

  /** How to run a program inside the sandbox (used by run, start and exec). */
  execSpec(sandbox: SandboxRecord, opts: ExecOptions = {}): ExecSpec {
    const paths = sandboxPaths(this.execRoot, sandbox.id);
    const argv = [CNM_EXEC_PATH, '--net', this.ctl.nsPath(sandbox)];
    argv.push('--bind', `${paths.resolvConf}:/etc/resolv.conf`);
    if (sandbox.mode.kind !== 'host') {
      argv.push('--bind', `${paths.hosts}:/etc/hosts`, '--bind', `${paths.hostname}:/etc/hostname`, '--hostname', sandbox.hostname, '--sysfs');
    }
    argv.push('--cwd', opts.cwd || sandbox.workingDir || '/');
    if (opts.tty) argv.push('--tty');
    if (opts.size && opts.size.rows > 0 && opts.size.cols > 0) argv.push('--size', `${opts.size.rows}x${opts.size.cols}`);
    if (opts.controlFd !== undefined) argv.push('--control', String(opts.controlFd));
    if (opts.log) argv.push('--log', opts.log);
    argv.push('--');
    return { argv };
  }

  isRunning(sandbox: SandboxRecord): boolean {
    const p = sandbox.process;
    return p.status === 'running' && p.pid > 0 && processStartTicks(p.pid) === p.startTicks && isLiveProcess(p.pid);
  }

  /**
   * Starts the sandbox's command detached from any client (run -d, start). Journalled (see
   * ProcessStartEntry): if the daemon dies before the program is recorded, the next start kills
   * it, so a sandbox never has a program the daemon does not know. Concurrent starts of one
   * sandbox share one spawn: never a second copy.
   */
  start(sandbox: SandboxRecord): Promise<void> {
    const inProgress = this.starting.get(sandbox.id);
    if (inProgress) return inProgress;
    const started = this.startOnce(sandbox).finally(() => this.starting.delete(sandbox.id));
    this.starting.set(sandbox.id, started);
    return started;
  }

  private async startOnce(given: SandboxRecord): Promise<void> {
    const sandbox = this.ctl.state.sandboxes.get(given.id) ?? given;
    if (this.isRunning(sandbox)) return;
    if (!sandbox.cmd.length) throw new CnmError('invalid', `sandbox ${sandbox.name} has no command to run`);
    const cwd = sandbox.workingDir || '/';
    checkProgram(sandbox.cmd[0]!, cwd, searchPath(sandbox.env));
    // fd 3: the terminal's size, for a sandbox with a tty
    const size = sandbox.consoleSize ? { rows: sandbox.consoleSize[0], cols: sandbox.consoleSize[1] } : undefined;
    const spec = this.execSpec(sandbox, { tty: sandbox.tty, size, log: logPath(this.execRoot, sandbox.id), ...(sandbox.tty ? { controlFd: 3 } : {}) });
    const journal = this.ctl.beginProcessStart(sandbox);
    let child: ChildProcess;
    try {
      child = spawn(spec.argv[0]!, [...spec.argv.slice(1), ...sandbox.cmd], {
        detached: true,
        env: programEnv(sandbox.env, sandbox.tty),
        // stderr: the supervisor's own complaints (a namespace it cannot join), for the daemon's log
        stdio: [sandbox.openStdin ? 'pipe' : 'ignore', 'ignore', 'pipe', ...(sandbox.tty ? (['pipe'] as const) : [])],
      });
    } catch (err) {
      this.ctl.abandonProcessStart(journal.id);
      throw err;
    }
    // The pid exists from here on (spawn forks synchronously): note it before anything else.
    if (child.pid !== undefined) this.ctl.noteProcessStarted(journal, child.pid, processStartTicks(child.pid));
    let pid: number;
    try {
      pid = await new Promise<number>((resolve, reject) => {
        child.once('spawn', () => resolve(child.pid!));
        child.once('error', reject);
      });
    } catch (err) {
      this.ctl.abandonProcessStart(journal.id);
      throw err;
    }
    child.unref();
    child.stderr?.on('data', (d: Buffer) => this.log.log('warn', 'sandbox supervisor', { sandbox: sandbox.name, message: d.toString().trim() }));
    (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
    const control = child.stdio[3] as Writable | undefined;
    for (const pipe of [child.stdin, control]) {
      pipe?.on('error', () => undefined); // the program is gone: nothing to tell it any more
      (pipe as unknown as { unref?: () => void } | null)?.unref?.();
    }
    this.pipes.set(sandbox.id, { stdin: child.stdin ?? undefined, control });
    child.once('exit', (code, signal) => void this.exited(sandbox.id, pid, code ?? (signal ? 128 + signalNumber(signal) : 255)));
    await this.running(sandbox.id, pid, journal.id);
  }

  /** Called after each recorded change of a main process (start, exit): events, attach, wait. */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** The running program's stdin, when it was created with OpenStdin and the daemon started it. */
  stdinOf(sandbox: SandboxRecord): Writable | undefined {
    return this.pipes.get(sandbox.id)?.stdin;
  }

  /** Sets the terminal size of a sandbox with a tty (docker run -t; ignored without one). */
  resize(sandbox: SandboxRecord, rows: number, cols: number): void {
    this.pipes.get(sandbox.id)?.control?.write(`${rows} ${cols}\n`);
  }

  async kill(sandbox: SandboxRecord, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.isRunning(sandbox)) return;
    try {
      process.kill(sandbox.process.pid, signal);
    } catch {
      // already gone
    }
    if (signal === 'SIGKILL') await this.waitExit(sandbox.id, 5000);
  }

  /**
   * Before a sandbox is removed (rm, rm -f): its program and every other process in its own
   * namespace (children, programs started with exec, anything left by a crash) are killed, so
   * none outlives the sandbox. A namespace shared with other sandboxes (container:) is left to
   * its owner, whose removal waits for them.
   */
  async killAll(sandbox: SandboxRecord): Promise<void> {
    await this.kill(sandbox, 'SIGKILL');
    if (sandbox.mode.kind !== 'own' || this.ctl.state.dependentsOf(sandbox.id).length > 0) return;
    const nsPath = this.ctl.nsPath(sandbox);
    for (let i = 0; i < 100; i++) {
      const left = processesInNetns(nsPath).map((p) => p.pid);
      if (left.length === 0) return;
      killProcesses(left);
      await new Promise((r) => setTimeout(r, 20));
    }
    this.log.log('warn', 'processes of a removed sandbox did not die within 2 s of SIGKILL', { sandbox: sandbox.name });
  }

  /** SIGTERM, then SIGKILL if the program is still running after timeoutSec (docker stop). */
  async stop(sandbox: SandboxRecord, timeoutSec: number): Promise<void> {
    if (!this.isRunning(sandbox)) return;
    await this.kill(sandbox, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutSec * 1000)));
    const stopped = await Promise.race([this.wait(sandbox).then(() => true), grace]);
    clearTimeout(timer);
    if (!stopped) await this.kill(sandbox, 'SIGKILL');
  }

  /** Resolves with the exit code once the main process is gone. */
  wait(sandbox: SandboxRecord): Promise<number> {
    if (!this.isRunning(sandbox)) return Promise.resolve(sandbox.process.status === 'created' ? 0 : sandbox.process.exitCode);
    return new Promise((resolve) => {
      const list = this.waiters.get(sandbox.id) ?? [];
      list.push(resolve);
      this.waiters.set(sandbox.id, list);
      this.poll(sandbox.id, sandbox.process.pid);
    });
  }

  /** After a daemon restart: processes that died while we were away are marked exited. */
  async reconcile(): Promise<void> {
    for (const s of this.ctl.sandboxes()) {
      if (s.process.status !== 'running') continue;
      if (this.isRunning(s)) this.poll(s.id, s.process.pid);
      else await this.exited(s.id, s.process.pid, this.exitStatusFromLog(s.id));
    }
  }

  close(): void {
    for (const t of this.pollers.values()) clearInterval(t);
    this.pollers.clear();
  }

  private async running(sandboxId: string, pid: number, journalId?: number): Promise<void> {
    const process: ProcessState = { status: 'running', pid, startTicks: processStartTicks(pid), exitCode: 0, startedAt: nowRfc3339Nano(), finishedAt: '0001-01-01T00:00:00Z' };
    await this.ctl.setProcess(sandboxId, process, journalId);
    for (const l of this.listeners) l();
  }

  private async exited(sandboxId: string, pid: number, code: number): Promise<void> {
    const timer = this.pollers.get(sandboxId);
    if (timer) clearInterval(timer);
    this.pollers.delete(sandboxId);
    this.pipes.delete(sandboxId);
    const s = this.ctl.state.sandboxes.get(sandboxId);
    if (s && s.process.status === 'running' && s.process.pid === pid) {
      await this.ctl.setProcess(sandboxId, { ...s.process, status: 'exited', exitCode: code, finishedAt: nowRfc3339Nano() });
      for (const l of this.listeners) l();
    }
    for (const resolve of this.waiters.get(sandboxId) ?? []) resolve(code);
    this.waiters.delete(sandboxId);
    const after = this.ctl.state.sandboxes.get(sandboxId);
    if (after?.autoRemove && after.process.status === 'exited') {
      await this.killAll(after);
      await this.ctl.removeSandbox(sandboxId).catch((err) => this.log.log('warn', 'auto-remove failed', { sandbox: after.name, error: String(err) }));
    }
  }

  /** Processes that are not our children are watched through /proc. */
  private poll(sandboxId: string, pid: number): void {
    if (this.pollers.has(sandboxId)) return;
    const ticks = processStartTicks(pid);
    const timer = setInterval(() => {
      if (processStartTicks(pid) === ticks && isLiveProcess(pid)) return;
      void this.exited(sandboxId, pid, this.exitStatusFromLog(sandboxId));
    }, 250);
    timer.unref();
    this.pollers.set(sandboxId, timer);
  }

  /** Not our child (started before a daemon restart): its supervisor logged the status, unless it was killed. */
  private exitStatusFromLog(sandboxId: string): number {
    const startedAt = Date.parse(this.ctl.state.sandboxes.get(sandboxId)?.process.startedAt ?? '') || 0;
    return lastExitStatus(logPath(this.execRoot, sandboxId), startedAt) ?? 255;
  }

  private waitExit(sandboxId: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timeout = setTimeout(resolve, timeoutMs);
      const list = this.waiters.get(sandboxId) ?? [];
      list.push(() => {
        clearTimeout(timeout);
        resolve();
      });
      this.waiters.set(sandboxId, list);
      const s = this.ctl.state.sandboxes.get(sandboxId);
      if (s) this.poll(sandboxId, s.process.pid);
    });
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  return os.constants.signals[signal] ?? 0;
}
