/** What every CLI command gets, and how it reports. */
import { bool, parseArgs, UsageError, usageText, type FlagSpec, type Parsed } from './args';
import { DaemonError, type Client } from './client';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** asks a yes/no question on the terminal; false when there is no terminal */
  confirm(question: string): Promise<boolean>;
}

export interface CommandContext {
  client: Client;
  io: Io;
  /** e.g. "cnm network create", for help and usage errors */
  path: string;
}

/** A command's result: the process exit code. */
export type Command = (argv: string[], ctx: CommandContext) => Promise<number>;

const HELP: FlagSpec = { name: 'help', kind: 'bool', help: 'Print usage', hidden: true };

export function withHelp(argv: string[], ctx: CommandContext, usage: string, description: string, specs: FlagSpec[], opts: { stopAtFirstOperand?: boolean } = {}): Parsed | undefined {
  const parsed = parseArgs(argv, [...specs, HELP], opts);
  if (bool(parsed, 'help')) {
    ctx.io.out(usageText(usage, description, specs));
    return undefined;
  }
  return parsed;
}

export function needArgs(ctx: CommandContext, args: string[], min: number, max: number, usage: string): void {
  if (args.length >= min && args.length <= max) return;
  const what = min === max ? `exactly ${min} argument${min === 1 ? '' : 's'}` : max === Infinity ? `at least ${min} argument${min === 1 ? '' : 's'}` : `${min} to ${max} arguments`;
  throw new UsageError(`"${ctx.path}" requires ${what}.\nSee '${ctx.path} --help'.\n\nUsage:  ${usage}`);
}

/**
 * Docker's refusal of `-it` when stdin is not a terminal: a raw-mode session on a pipe would
 * neither echo nor ever see the end of input. Exit code 1, as docker's.
 */
export function refuseTtyWithoutTerminal(ctx: CommandContext, interactive: boolean, tty: boolean): boolean {
  if (!interactive || !tty || process.stdin.isTTY) return false;
  ctx.io.err('the input device is not a TTY\n');
  return true;
}

/** --filter key=value flags as the API's `filters` query parameter (omitted when empty). */
export function filterQuery(items: string[]): { filters?: string } {
  const filters: Record<string, string[]> = {};
  for (const f of items) {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new UsageError('bad format of filter (expected name=value)');
    (filters[f.slice(0, eq)] ??= []).push(f.slice(eq + 1));
  }
  return Object.keys(filters).length ? { filters: JSON.stringify(filters) } : {};
}

/**
 * Runs one request per reference (rm, start, stop of several objects): each success prints the
 * reference, each daemon refusal is reported and the others still run; exit 1 if any failed.
 */
export async function forEachRef(ctx: CommandContext, refs: string[], action: (ref: string) => Promise<unknown>, describe: (err: DaemonError, ref: string) => string = (err) => `Error response from daemon: ${err.message}`): Promise<number> {
  let failed = false;
  for (const ref of refs) {
    try {
      await action(ref);
      ctx.io.out(`${ref}\n`);
    } catch (err) {
      if (!(err instanceof DaemonError)) throw err;
      failed = true;
      ctx.io.err(`${describe(err, ref)}\n`);
    }
  }
  return failed ? 1 : 0;
}
