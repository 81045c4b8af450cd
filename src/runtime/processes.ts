/**
 * A sandbox's main process: a host program run inside the sandbox through cnm-exec. Detached
 * runs (-d) are the daemon's children, logging to a file; foreground runs are the CLI's children
 * and are reported to the daemon. Either way the process is known by pid and start time, so it
 * is found again after a daemon restart and a recycled pid is never mistaken for it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Controller } from '../controller/controller';
import { nowRfc3339Nano } from '../controller/ids';
import type { ProcessState, SandboxRecord } from '../controller/model';
import { sandboxPaths } from '../controller/sandbox-files';
import { CnmError } from '../errors';
import type { Logger } from '../log';
import { CNM_EXEC_PATH } from '../os/native';
import { isLiveProcess, killProcesses, procStat, processesInNetns } from '../os/proc';

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
  private readonly starting = new Map<string, Promise<void>>();

  constructor(
    private readonly ctl: Controller,
    private readonly execRoot: string,
    private readonly log: Logger,
  ) {}

  /** How to run a program inside the sandbox (used by run, start and exec). */
  execSpec(sandbox: SandboxRecord): ExecSpec {
    const paths = sandboxPaths(this.execRoot, sandbox.id);
    const argv = [CNM_EXEC_PATH, '--net', this.ctl.nsPath(sandbox)];
    argv.push('--bind', `${paths.resolvConf}:/etc/resolv.conf`);
    if (sandbox.mode.kind !== 'host') {
      argv.push('--bind', `${paths.hosts}:/etc/hosts`, '--bind', `${paths.hostname}:/etc/hostname`, '--hostname', sandbox.hostname, '--sysfs');
    }
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
    const logFile = path.join(sandboxPaths(this.execRoot, sandbox.id).dir, 'output.log');
    const out = fs.openSync(logFile, 'a');
    const spec = this.execSpec(sandbox);
    const journal = this.ctl.beginProcessStart(sandbox);
    let child: ChildProcess;
    try {
      child = spawn(spec.argv[0]!, [...spec.argv.slice(1), ...sandbox.cmd], { detached: true, stdio: ['ignore', out, out] });
    } catch (err) {
      this.ctl.abandonProcessStart(journal.id);
      throw err;
    } finally {
      fs.closeSync(out);
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
    child.once('exit', (code, signal) => void this.exited(sandbox.id, pid, code ?? (signal ? 128 + signalNumber(signal) : 255)));
    await this.running(sandbox.id, pid, journal.id);
  }

  /** A foreground run: the CLI started the process itself and tells us its pid. */
  async adopt(sandbox: SandboxRecord, pid: number): Promise<void> {
    if (processStartTicks(pid) === 0) throw new CnmError('invalid', `process ${pid} does not exist`);
    await this.running(sandbox.id, pid);
    this.poll(sandbox.id, pid);
  }

  /** The CLI saw its foreground process exit. */
  async reportExit(sandbox: SandboxRecord, code: number): Promise<void> {
    if (sandbox.process.status !== 'running') return;
    await this.exited(sandbox.id, sandbox.process.pid, code);
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
      else await this.exited(s.id, s.process.pid, 255);
    }
  }

  close(): void {
    for (const t of this.pollers.values()) clearInterval(t);
    this.pollers.clear();
  }

  private async running(sandboxId: string, pid: number, journalId?: number): Promise<void> {
    const process: ProcessState = { status: 'running', pid, startTicks: processStartTicks(pid), exitCode: 0, startedAt: nowRfc3339Nano(), finishedAt: '0001-01-01T00:00:00Z' };
    await this.ctl.setProcess(sandboxId, process, journalId);
  }

  private async exited(sandboxId: string, pid: number, code: number): Promise<void> {
    const timer = this.pollers.get(sandboxId);
    if (timer) clearInterval(timer);
    this.pollers.delete(sandboxId);
    const s = this.ctl.state.sandboxes.get(sandboxId);
    if (s && s.process.status === 'running' && s.process.pid === pid) {
      await this.ctl.setProcess(sandboxId, { ...s.process, status: 'exited', exitCode: code, finishedAt: nowRfc3339Nano() });
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
      void this.exited(sandboxId, pid, 255);
    }, 250);
    timer.unref();
    this.pollers.set(sandboxId, timer);
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
