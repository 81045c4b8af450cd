/**
 * Docker-style flags: --flag value, --flag=value, -f value, grouped short booleans (-it),
 * repeatable flags, and "--". Commands that run a program stop at their first operand, so the
 * program's own flags are left alone.
 */
export type FlagKind = 'bool' | 'string' | 'list';

export interface FlagSpec {
  name: string;
  short?: string;
  kind: FlagKind;
  aliases?: string[];
  help: string;
  /** shown in help as the value's name */
  value?: string;
  hidden?: boolean;
}

export interface Parsed {
  flags: Map<string, string | boolean | string[]>;
  args: string[];
}

export class UsageError extends Error {}

export function parseArgs(argv: string[], specs: FlagSpec[], opts: { stopAtFirstOperand?: boolean } = {}): Parsed {
  const byLong = new Map<string, FlagSpec>();
  const byShort = new Map<string, FlagSpec>();
  for (const s of specs) {
    byLong.set(s.name, s);
    for (const a of s.aliases ?? []) byLong.set(a, s);
    if (s.short) byShort.set(s.short, s);
  }
  const flags = new Map<string, string | boolean | string[]>();
  const args: string[] = [];
  const set = (spec: FlagSpec, value: string | boolean): void => {
    if (spec.kind === 'list') flags.set(spec.name, [...((flags.get(spec.name) as string[] | undefined) ?? []), String(value)]);
    else flags.set(spec.name, value);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--') && arg.length > 2) {
      const eq = arg.indexOf('=');
      const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
      const spec = byLong.get(name);
      if (!spec) throw new UsageError(`unknown flag: --${name}`);
      if (spec.kind === 'bool') {
        if (eq > 0 && !/^(true|false|1|0)$/.test(arg.slice(eq + 1))) throw new UsageError(`invalid argument "${arg.slice(eq + 1)}" for "--${name}" flag: strconv.ParseBool: parsing "${arg.slice(eq + 1)}": invalid syntax`);
        set(spec, eq > 0 ? /^(true|1)$/.test(arg.slice(eq + 1)) : true);
      } else if (eq > 0) set(spec, arg.slice(eq + 1));
      else {
        if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: --${name}`);
        set(spec, argv[++i]!);
      }
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      // -abc: booleans grouped; a value-taking flag consumes the rest or the next argument.
      for (let j = 1; j < arg.length; j++) {
        const c = arg[j]!;
        const spec = byShort.get(c);
        if (!spec) throw new UsageError(`unknown shorthand flag: '${c}' in ${arg}`);
        if (spec.kind === 'bool') {
          set(spec, true);
          continue;
        }
        const rest = arg.slice(j + 1).replace(/^=/, '');
        if (rest) set(spec, rest);
        else {
          if (i + 1 >= argv.length) throw new UsageError(`flag needs an argument: '${c}' in -${c}`);
          set(spec, argv[++i]!);
        }
        break;
      }
      continue;
    }
    args.push(arg);
    if (opts.stopAtFirstOperand) {
      args.push(...argv.slice(i + 1));
      break;
    }
  }
  return { flags, args };
}

export const str = (p: Parsed, name: string): string | undefined => p.flags.get(name) as string | undefined;
export const bool = (p: Parsed, name: string): boolean => p.flags.get(name) === true;
export const list = (p: Parsed, name: string): string[] => (p.flags.get(name) as string[] | undefined) ?? [];

/** key=value pairs (-o, --label, --aux-address...). A label without "=" gets an empty value. */
export function keyValues(items: string[], flag: string, requireValue = true): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq <= 0 && requireValue) throw new UsageError(`invalid argument "${item}" for "${flag}" flag: use key=value`);
    if (eq <= 0) out[item] = '';
    else out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

export function usageText(usage: string, description: string, specs: FlagSpec[]): string {
  const lines = [``, `Usage:  ${usage}`, ``, description, ``];
  const visible = specs.filter((s) => !s.hidden);
  if (visible.length) {
    lines.push('Options:');
    const rows = visible.map((s) => {
      const names = `${s.short ? `-${s.short}, ` : '    '}--${s.name}${s.kind === 'bool' ? '' : ` ${s.value ?? (s.kind === 'list' ? 'list' : 'string')}`}`;
      return [names, s.help] as const;
    });
    const width = Math.max(...rows.map((r) => r[0].length)) + 3;
    for (const [names, help] of rows) lines.push(`  ${names.padEnd(width)}${help}`);
  }
  return `${lines.join('\n')}\n`;
}
