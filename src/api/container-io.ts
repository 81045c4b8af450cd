/**
 * A sandbox's program as Docker clients reach it: attach (docker run without -d), wait with its
 * conditions, logs, resize and top. Output comes from the sandbox's log (src/runtime/log-file.ts),
 * which the program's supervisor writes; attach and logs -f follow it until the program dies.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import type { Controller } from '../controller/controller';
import type { SandboxRecord } from '../controller/model';
import { CnmError, invalid } from '../errors';
import { procStat } from '../os/proc';
import type { ExecStore } from '../runtime/exec';
import { fileSize, LogFollower, logPath, parseRecords, toLines, type LogRecord } from '../runtime/log-file';
import type { ProcessRuntime } from '../runtime/processes';
import type { EngineEvent } from './event-filter';
import { parseTimeRange } from './event-filter';
import type { EventLog } from './events';
import type { Router, StreamOut } from './http';
import { empty, json } from './http';
import { frame } from './stream-frames';
import { queryBool } from './validate';

/** Resolves on the first event that `pick` accepts, or undefined when the client leaves. */
function nextEvent<T>(events: EventLog, closed: Promise<void>, pick: (ev: EngineEvent) => T | undefined): { result: Promise<T | undefined>; cancel: () => void } {
  let cancel!: () => void;
  const result = new Promise<T | undefined>((resolve) => {
    const unsubscribe = events.subscribe((ev) => {
      const v = pick(ev);
      if (v !== undefined) {
        unsubscribe();
        resolve(v);
      }
    });
    cancel = () => {
      unsubscribe();
      resolve(undefined);
    };
    void closed.then(cancel);
  });
  return { result, cancel };
}

const dieOf = (id: string) => (ev: EngineEvent): number | undefined => (ev.Type === 'container' && ev.Actor.ID === id && ev.Action === 'die' ? Number(ev.Actor.Attributes.exitCode ?? 0) : undefined);

/** Docker's RFC 3339 with nanoseconds, from ns since the epoch. */
function timestamp(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  return `${new Date(ms).toISOString().slice(0, 19)}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`;
}

interface Encoding {
  tty: boolean;
  stdout: boolean;
  stderr: boolean;
  timestamps: boolean;
}

function encode(records: LogRecord[], enc: Encoding): Buffer[] {
  const out: Buffer[] = [];
  for (const r of enc.timestamps ? toLines(records) : records) {
    if ((r.stream === 1 && !enc.stdout) || (r.stream === 2 && !enc.stderr)) continue;
    const data = enc.timestamps ? Buffer.concat([Buffer.from(`${timestamp(r.timeNs)} `), r.data]) : r.data;
    out.push(enc.tty ? data : frame(r.stream, data));
  }
  return out;
}

function readAll(file: string): LogRecord[] {
  try {
    return parseRecords(fs.readFileSync(file)).records;
  } catch {
    return [];
  }
}

/** Follows the log from `from` until the program's next death (then what it wrote last), or the client leaves. */
async function follow(file: string, from: number, out: StreamOut, enc: Encoding, died: Promise<unknown>): Promise<void> {
  const follower = new LogFollower(file, from, (records) => encode(records, enc).forEach((b) => out.write(b)));
  await Promise.race([died, out.closed]);
  await follower.drain();
  follower.stop();
}

/** The pids under `roots` (their descendants, roots excluded), from /proc. */
function descendants(roots: number[]): Set<number> {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = Number(procStat(Number(entry))?.[1] ?? 0);
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid)!.push(Number(entry));
  }
  const found = new Set<number>();
  const stack = [...roots];
  while (stack.length) {
    for (const c of children.get(stack.pop()!) ?? []) {
      if (!found.has(c)) {
        found.add(c);
        stack.push(c);
      }
    }
  }
  return found;
}

/** `ps` output cut into Docker's top shape, keeping the rows of `pids`. */
export function parsePs(output: string, pids: Set<number>): { Titles: string[]; Processes: string[][] } {
  const lines = output.split('\n').filter((l) => l.trim());
  const titles = (lines[0] ?? '').trim().split(/\s+/);
  const pidCol = titles.indexOf('PID');
  if (pidCol < 0) throw invalid('Couldn\'t find PID field in ps output');
  const processes: string[][] = [];
  for (const line of lines.slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (!pids.has(Number(fields[pidCol]))) continue;
    processes.push([...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')]);
  }
  return { Titles: titles, Processes: processes };
}

export function addContainerIoRoutes(router: Router, ctl: Controller, runtime: ProcessRuntime, execs: ExecStore, events: EventLog, execRoot: string): void {
  router.add('POST', '/containers/{id}/attach', (req) => {
    const s = ctl.sandbox(req.params.id!);
    const enc: Encoding = { tty: s.tty, stdout: queryBool(req.query, 'stdout'), stderr: queryBool(req.query, 'stderr'), timestamps: false };
    const wantStdin = queryBool(req.query, 'stdin') && s.openStdin;
    const file = logPath(execRoot, s.id);
    const from = fileSize(file);
    const withLogs = queryBool(req.query, 'logs');
    const streaming = queryBool(req.query, 'stream');
    return {
      status: 200,
      hijack: async (conn) => {
        if (withLogs) encode(readAll(file), enc).forEach((b) => conn.write(b));
        if (!streaming) return;
        events.container('attach', s);
        // Before start (docker run attaches first), the stream waits for the program to start and die.
        const died = nextEvent(events, conn.closed, dieOf(s.id));
        const wasRunning = runtime.isRunning(s);
        if (wantStdin && conn.input) pipeStdin(conn.input, s, runtime, events, conn.closed);
        if (!wasRunning && s.process.status !== 'created' && !(await startsSoon(events, s.id, conn.closed))) return;
        const now = ctl.state.sandboxes.get(s.id);
        if (wasRunning && (!now || !runtime.isRunning(now))) died.cancel();
        await follow(file, from, conn, enc, died.result);
      },
    };
  });

  router.add('POST', '/containers/{id}/wait', (req) => {
    const s = ctl.sandbox(req.params.id!);
    const condition = req.query.get('condition') || 'not-running';
    if (!['not-running', 'next-exit', 'removed'].includes(condition)) throw invalid(`invalid condition: "${condition}"`);
    const running = runtime.isRunning(s);
    if (condition === 'not-running' && !running) return json(200, { StatusCode: s.process.exitCode, Error: null });
    // Headers go out at once: the docker CLI starts the program only once the wait is in place.
    let lastCode = s.process.exitCode;
    const pick = (ev: EngineEvent): number | undefined => {
      if (ev.Type !== 'container' || ev.Actor.ID !== s.id) return undefined;
      if (ev.Action === 'die') lastCode = Number(ev.Actor.Attributes.exitCode ?? 0);
      if (condition === 'removed') return ev.Action === 'destroy' ? lastCode : undefined;
      return ev.Action === 'die' ? lastCode : undefined;
    };
    const waited = nextEvent(events, req.closed, pick);
    return {
      status: 200,
      contentType: 'application/json',
      stream: async (out) => {
        const code = await waited.result;
        if (code !== undefined) out.write(`${JSON.stringify({ StatusCode: code, Error: null })}\n`);
      },
    };
  });

  router.add('GET', '/containers/{id}/logs', (req) => {
    const s = ctl.sandbox(req.params.id!);
    const enc: Encoding = { tty: s.tty, stdout: queryBool(req.query, 'stdout'), stderr: queryBool(req.query, 'stderr'), timestamps: queryBool(req.query, 'timestamps') };
    if (!enc.stdout && !enc.stderr) throw invalid('Bad parameters: you must choose at least one stream');
    const tailRaw = req.query.get('tail') ?? 'all';
    if (tailRaw !== 'all' && !/^\d+$/.test(tailRaw)) throw invalid(`invalid value for "tail": "${tailRaw}": a number of lines or "all"`);
    const { since, until } = parseTimeRange(req.query);
    const file = logPath(execRoot, s.id);
    const from = fileSize(file);
    const followIt = queryBool(req.query, 'follow') && runtime.isRunning(s);
    const died = followIt ? nextEvent(events, req.closed, dieOf(s.id)) : undefined;
    return {
      status: 200,
      contentType: s.tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream',
      stream: async (out) => {
        let lines = toLines(readAllUpTo(file, from)).filter((r) => (since === undefined || r.timeNs >= BigInt(since)) && (until === undefined || r.timeNs <= BigInt(until)));
        if (tailRaw !== 'all') lines = Number(tailRaw) === 0 ? [] : lines.slice(-Number(tailRaw));
        encode(lines, enc).forEach((b) => out.write(b));
        const now = ctl.state.sandboxes.get(s.id);
        if (died && now && runtime.isRunning(now)) await follow(file, from, out, enc, died.result);
        died?.cancel();
      },
    };
  });

  router.add('POST', '/containers/{id}/resize', (req) => {
    const s = ctl.sandbox(req.params.id!);
    const { rows, cols } = terminalSize(req.query);
    if (!runtime.isRunning(s)) throw new CnmError('conflict', `Container ${s.id} is not running`);
    runtime.resize(s, rows, cols);
    return empty(200);
  });

  router.add('GET', '/containers/{id}/top', async (req) => {
    const s = ctl.sandbox(req.params.id!);
    if (!runtime.isRunning(s)) throw new CnmError('conflict', `Container ${s.id} is not running`);
    const args = (req.query.get('ps_args') || '-ef').split(/\s+/).filter(Boolean);
    // The supervisor (cnm-exec) is cnm's, as containerd's shim is Docker's: not shown.
    const pids = descendants([s.process.pid]);
    for (const p of execs.pidsOf(s.id)) {
      pids.add(p);
      for (const d of descendants([p])) pids.add(d);
    }
    const output = await new Promise<string>((resolve, reject) =>
      execFile('ps', args, { maxBuffer: 16 << 20 }, (err, stdout, stderr) => (err ? reject(invalid(`Error running ps: ${stderr.trim() || err.message}`)) : resolve(stdout))),
    );
    return json(200, parsePs(output, pids));
  });
}

function readAllUpTo(file: string, end: number): LogRecord[] {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.alloc(end);
      const n = fs.readSync(fd, buf, 0, end, 0);
      return parseRecords(buf.subarray(0, n)).records;
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return [];
  }
}

/** h and w of a resize request (Docker's names), positive integers. */
export function terminalSize(q: URLSearchParams): { rows: number; cols: number } {
  const num = (key: string): number => {
    const v = q.get(key) ?? '';
    if (!/^\d+$/.test(v)) throw invalid(`invalid value for ${key === 'h' ? 'height' : 'width'} (h, w): ${JSON.stringify(v)}: a number of ${key === 'h' ? 'rows' : 'columns'}`);
    return Number(v);
  };
  return { rows: num('h'), cols: num('w') };
}

/** Waits for the program's start (attach before start); false if the client left first. */
async function startsSoon(events: EventLog, id: string, closed: Promise<void>): Promise<boolean> {
  const started = nextEvent(events, closed, (ev) => (ev.Type === 'container' && ev.Actor.ID === id && ev.Action === 'start' ? true : undefined));
  return (await started.result) === true;
}

/** The client's stdin to the program, once it runs; its end closes the program's stdin (StdinOnce). */
function pipeStdin(input: NodeJS.ReadableStream, s: SandboxRecord, runtime: ProcessRuntime, events: EventLog, closed: Promise<void>): void {
  const attach = (): void => {
    const stdin = runtime.stdinOf(s);
    if (!stdin) return;
    input.pipe(stdin);
  };
  if (runtime.isRunning(s)) attach();
  else {
    input.pause();
    void nextEvent(events, closed, (ev) => (ev.Type === 'container' && ev.Actor.ID === s.id && ev.Action === 'start' ? true : undefined)).result.then((ok) => ok && attach());
  }
}
