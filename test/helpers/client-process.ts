/**
 * A command-line client (cnm, docker) as its own process, the way a user's shell runs it: stdin a
 * given string or nothing, optionally on a terminal of 33x99 made by script(1), optionally inside
 * a network namespace, killed after a deadline.
 */
import { spawn } from 'node:child_process';

export interface ClientRun {
  code: number;
  out: string;
  err: string;
}

export interface ClientOptions {
  input?: string;
  wrapInPty?: boolean;
  netns?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export function runClient(argv: string[], opts: ClientOptions = {}): Promise<ClientRun> {
  const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  let cmd = opts.wrapInPty ? ['script', '-qec', `stty rows 33 cols 99; ${quoted}`, '/dev/null'] : argv;
  if (opts.netns) cmd = ['nsenter', `--net=${opts.netns}`, ...cmd];
  return new Promise((resolve) => {
    // script(1) types a NUL into the terminal when its stdin ends: under a pty, stdin stays open.
    const child = spawn(cmd[0]!, cmd.slice(1), { env: opts.env ?? process.env, stdio: [opts.input === undefined && !opts.wrapInPty ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out, err });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}
