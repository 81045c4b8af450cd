/**
 * Programs run in a running sandbox besides its own (docker exec): each an instance with an id,
 * created, then started with its stdio handed to whoever started it, and kept after it exits so
 * its exit code can be read. They are the daemon's children and die with their sandbox's removal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import os from 'node:os';
import type { Readable, Writable } from 'node:stream';
import type { SandboxRecord } from '../controller/model';
import { CnmError } from '../errors';
import type { ProcessRuntime } from './processes';
import { programEnv } from './program';

export interface ExecConfig {
  cmd: string[];
  tty: boolean;
  attachStdin: boolean;
  attachStdout: boolean;
  attachStderr: boolean;
  workingDir: string;
  env: string[];
  /** rows, cols; 0 when unknown */
  consoleSize: [number, number];
}

export interface ExecInstance {
  id: string;
  sandboxId: string;
  config: ExecConfig;
  running: boolean;
  /** null until the program exits */
  exitCode: number | null;
  pid: number;
}

/** What the starter gets: the program's output streams and stdin, and its end. */
export interface ExecIo {
  stdin: Writable | undefined;
  /** with a tty: everything the terminal shows, on stdout */
  stdout: Readable;
  stderr: Readable | undefined;
  /** resolves with the exit code once the program is gone and its output read */
  done: Promise<number>;
}

/** Finished instances kept per sandbox, for /exec/{id}/json after the fact. */
const KEEP_FINISHED = 64;

export class ExecStore {
  private readonly instances = new Map<string, ExecInstance>();
  private readonly children = new Map<string, ChildProcess>();

  constructor(private readonly runtime: ProcessRuntime) {}

  create(sandbox: SandboxRecord, config: ExecConfig): ExecInstance {
    if (!this.runtime.isRunning(sandbox)) throw new CnmError('conflict', `container ${sandbox.id} is not running`);
    if (!config.cmd.length) throw new CnmError('invalid', 'No exec command specified');
    const inst: ExecInstance = { id: crypto.randomBytes(32).toString('hex'), sandboxId: sandbox.id, config, running: false, exitCode: null, pid: 0 };
    this.instances.set(inst.id, inst);
    this.trim(sandbox.id);
    return inst;
  }

  get(id: string): ExecInstance {
    const inst = this.instances.get(id);
    if (!inst) throw new CnmError('notFound', `No such exec instance: ${id}`);
    return inst;
  }

  /** Pids of the running exec programs of a sandbox (for top). */
  pidsOf(sandboxId: string): number[] {
    return [...this.instances.values()].filter((i) => i.sandboxId === sandboxId && i.running && i.pid > 0).map((i) => i.pid);
  }

  /** Refuses a start that cannot happen: the instance ran already, or its sandbox stopped. */
  checkStartable(inst: ExecInstance, sandbox: SandboxRecord): void {
    if (inst.running || inst.exitCode !== null) throw new CnmError('conflict', `Error: Exec command ${inst.id} has already run`);
    if (!this.runtime.isRunning(sandbox)) throw new CnmError('conflict', `container ${sandbox.id} is not running`);
  }

  start(inst: ExecInstance, sandbox: SandboxRecord, detach: boolean): ExecIo {
    this.checkStartable(inst, sandbox);
    const { config } = inst;
    const spec = this.runtime.execSpec(sandbox, {
      cwd: config.workingDir || undefined,
      tty: config.tty,
      ...(config.tty ? { controlFd: 3, size: { rows: config.consoleSize[0], cols: config.consoleSize[1] } } : {}),
    });
    const child = spawn(spec.argv[0]!, [...spec.argv.slice(1), ...config.cmd], {
      env: programEnv([...(sandbox.env ?? []), ...config.env], config.tty),
      stdio: [detach || !config.attachStdin ? 'ignore' : 'pipe', detach ? 'ignore' : 'pipe', detach ? 'ignore' : 'pipe', config.tty ? 'pipe' : 'ignore'],
    });
    inst.running = true;
    inst.pid = child.pid ?? 0;
    this.children.set(inst.id, child);
    for (const s of [child.stdin, child.stdio[3] as Writable | null]) s?.on('error', () => undefined);
    const outputsClosed = Promise.all([child.stdout, child.stderr].map((s) => (s ? new Promise((r) => s.once('close', r)) : undefined)));
    const exited = new Promise<number>((resolve) => {
      child.once('error', () => resolve(126));
      child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? signalNumber(signal) : 0)));
    });
    const done = Promise.all([exited, outputsClosed]).then(([code]) => {
      inst.running = false;
      inst.exitCode = code;
      this.children.delete(inst.id);
      return code;
    });
    return { stdin: child.stdin ?? undefined, stdout: child.stdout!, stderr: config.tty ? undefined : child.stderr ?? undefined, done };
  }

  resize(inst: ExecInstance, rows: number, cols: number): void {
    if (!inst.running) throw new CnmError('conflict', `Exec ${inst.id} is not running`);
    (this.children.get(inst.id)?.stdio[3] as Writable | null | undefined)?.write(`${rows} ${cols}\n`);
  }

  /** The sandbox is gone: its exec programs go too, and their records. */
  forget(sandboxId: string): void {
    for (const [id, inst] of this.instances) {
      if (inst.sandboxId !== sandboxId) continue;
      this.children.get(id)?.kill('SIGKILL');
      this.instances.delete(id);
    }
  }

  private trim(sandboxId: string): void {
    const finished = [...this.instances.values()].filter((i) => i.sandboxId === sandboxId && i.exitCode !== null);
    for (const inst of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) this.instances.delete(inst.id);
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  return os.constants.signals[signal] ?? 0;
}
