/**
 * A sandbox's output log, written by cnm-exec's supervisor (src/native/exec/supervise.c), so it
 * survives a daemon restart: records of a 16-byte header (stream 1 stdout / 2 stderr / 3 exit
 * status, three zero bytes, payload length u32 BE, time in ns since the epoch u64 BE) and the
 * payload (for 3: the program's exit status, u32 BE).
 */
import fs from 'node:fs';
import path from 'node:path';
import { sandboxPaths } from '../controller/sandbox-files';

export const HEADER = 16;

export interface LogRecord {
  stream: 1 | 2;
  /** nanoseconds since the epoch */
  timeNs: bigint;
  data: Buffer;
}

export function logPath(execRoot: string, sandboxId: string): string {
  return path.join(sandboxPaths(execRoot, sandboxId).dir, 'container.log');
}

/** The whole records in buf; `used` is where the first incomplete one starts. */
export function parseRecords(buf: Buffer): { records: LogRecord[]; used: number } {
  const records: LogRecord[] = [];
  let at = 0;
  while (buf.length - at >= HEADER) {
    const len = buf.readUInt32BE(at + 4);
    if (buf.length - at - HEADER < len) break;
    const kind = buf[at];
    if (kind === 1 || kind === 2) records.push({ stream: kind, timeNs: buf.readBigUInt64BE(at + 8), data: buf.subarray(at + HEADER, at + HEADER + len) });
    at += HEADER + len;
  }
  return { records, used: at };
}

/** Splits records into lines (each keeping its newline; a last partial line stays one piece). */
export function toLines(records: LogRecord[]): LogRecord[] {
  const out: LogRecord[] = [];
  for (const r of records) {
    let start = 0;
    for (let nl = r.data.indexOf(10); nl >= 0; nl = r.data.indexOf(10, start)) {
      out.push({ ...r, data: r.data.subarray(start, nl + 1) });
      start = nl + 1;
    }
    if (start < r.data.length) out.push({ ...r, data: r.data.subarray(start) });
  }
  return out;
}

const EXIT_RECORD = HEADER + 4;

/** The exit status the supervisor wrote last, if the log ends with one (a program that ended while the daemon was away). */
export function lastExitStatus(file: string, notBeforeMs: number): number | undefined {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      if (size < EXIT_RECORD) return undefined;
      const tail = Buffer.alloc(EXIT_RECORD);
      fs.readSync(fd, tail, 0, EXIT_RECORD, size - EXIT_RECORD);
      if (tail[0] !== 3 || tail.readUInt32BE(4) !== 4 || tail[1] || tail[2] || tail[3]) return undefined;
      // an earlier run's status, when this run was killed before its supervisor could write one
      if (Number(tail.readBigUInt64BE(8) / 1_000_000n) < notBeforeMs) return undefined;
      return tail.readUInt32BE(HEADER);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

export function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/**
 * Reads the log from an offset on, as it grows: records go to onRecords as whole records.
 * Watches the directory (inotify) and polls as a fallback; stop() ends it.
 */
export class LogFollower {
  private offset: number;
  private pending: Buffer = Buffer.alloc(0);
  private watcher: fs.FSWatcher | undefined;
  private readonly timer: NodeJS.Timeout;
  private reading = false;
  private again = false;

  constructor(
    private readonly file: string,
    from: number,
    private readonly onRecords: (records: LogRecord[]) => void,
  ) {
    this.offset = from;
    try {
      this.watcher = fs.watch(path.dirname(file), () => this.poll());
      this.watcher.on('error', () => undefined);
    } catch {
      // the directory is gone: the poll below is enough
    }
    this.timer = setInterval(() => this.poll(), 200);
    this.poll();
  }

  /** Reads what is there now; resolves once the file's present end has been delivered. */
  async drain(): Promise<void> {
    while (this.reading) await new Promise((r) => setTimeout(r, 5));
    this.readNow();
  }

  private poll(): void {
    if (this.reading) {
      this.again = true;
      return;
    }
    this.readNow();
  }

  private readNow(): void {
    this.reading = true;
    try {
      do {
        this.again = false;
        const size = fileSize(this.file);
        if (size < this.offset) this.offset = size;
        if (size === this.offset) break;
        const fd = fs.openSync(this.file, 'r');
        try {
          const chunk = Buffer.alloc(size - this.offset);
          const n = fs.readSync(fd, chunk, 0, chunk.length, this.offset);
          this.offset += n;
          this.pending = this.pending.length ? Buffer.concat([this.pending, chunk.subarray(0, n)]) : chunk.subarray(0, n);
        } finally {
          fs.closeSync(fd);
        }
        const { records, used } = parseRecords(this.pending);
        this.pending = this.pending.subarray(used);
        if (records.length) this.onRecords(records);
      } while (this.again);
    } catch {
      // the file went away with its sandbox
    } finally {
      this.reading = false;
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.watcher?.close();
  }
}
