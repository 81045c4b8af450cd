/** What every CLI command gets, and how it reports. */
import { bool, parseArgs, UsageError, usageText, type FlagSpec, type Parsed } from './args';
import type { Client } from './client';

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

/** Per-item failures that do not stop the command (rm of several networks). */
export class PartialFailure extends Error {
  constructor(readonly code: number) {
    super('');
  }
}

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

