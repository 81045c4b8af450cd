/**
 * Whether a sandbox's program can run, asked before anything is made or started: Docker learns it
 * only when runc fails at start, but a sandbox runs a host program, so the daemon can look it up
 * first and a `run` of a missing program leaves nothing behind. The texts carry runc's
 * `exec: "X": ...` part, from which the docker CLI picks its exit code (127 not found, 126 not
 * executable).
 */
import fs from 'node:fs';
import path from 'node:path';
import { CnmError, invalid } from '../errors';

/** The PATH a program is looked up in: the one its environment sets, else the daemon's. */
export function searchPath(env: string[] | undefined): string {
  const own = (env ?? []).filter((e) => e.startsWith('PATH=')).pop();
  return own ? own.slice('PATH='.length) : process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
}

function isExecutableFile(p: string): 'ok' | 'missing' | 'denied' {
  try {
    const st = fs.statSync(p);
    if (!st.isFile()) return 'denied';
    fs.accessSync(p, fs.constants.X_OK);
    return 'ok';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR' ? 'missing' : 'denied';
  }
}

/** Throws the error Docker gives when runc cannot start the program; returns the resolved path. */
export function checkProgram(program: string, workingDir: string, pathList: string): string {
  const failed = (why: string): CnmError => invalid(`unable to start container process: exec: "${program}": ${why}`);
  if (program.includes('/')) {
    const full = path.resolve(workingDir, program);
    const found = isExecutableFile(full);
    if (found === 'missing') throw failed(`stat ${program}: no such file or directory`);
    if (found === 'denied') throw failed('permission denied');
    return full;
  }
  let denied = false;
  for (const dir of pathList.split(':')) {
    const full = path.resolve(workingDir, dir || '.', program);
    const found = isExecutableFile(full);
    if (found === 'ok') return full;
    if (found === 'denied') denied = true;
  }
  throw failed(denied ? 'permission denied' : 'executable file not found in $PATH');
}

/** WorkingDir must be an absolute path to a directory that exists: cnm creates none on the host. */
export function checkWorkingDir(dir: string): void {
  if (!path.isAbsolute(dir)) throw invalid(`the working directory '${dir}' is invalid, it needs to be an absolute path`);
  let isDir = false;
  try {
    isDir = fs.statSync(dir).isDirectory();
  } catch {
    // missing
  }
  if (!isDir) throw invalid(`the working directory '${dir}' is not a directory on this host: a sandbox runs host programs, and cnm creates no directories for them`);
}

/** The program's environment: the daemon's, TERM for a terminal, then the sandbox's own. */
export function programEnv(env: string[] | undefined, tty: boolean): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...process.env };
  if (tty) out.TERM = 'xterm';
  for (const e of env ?? []) {
    const eq = e.indexOf('=');
    if (eq > 0) out[e.slice(0, eq)] = e.slice(eq + 1);
  }
  return out;
}
