/**
 * Finds the external programs the project's code runs, by reading its sources: the TypeScript of
 * the daemon, tests and benches, the shell scripts, and the README's shell blocks. It reads
 * argument vectors where they are written, not where they run, so it recognises these places:
 *
 * - the program of a child_process call (spawn, execFile, their Sync forms and promisify
 *   aliases) written as a literal: `execFile('ip', ...)`;
 * - the first element of an argv array handed to a helper that runs it (`lab.inNs(ns, ['socat',
 *   ...])`) or to a variadic helper (`inNs(ns, 'ip', ...)`, `sh('H', 'nft', ...)`, `exec(sb,
 *   'getent', ...)`), named in ARGV_HELPERS / VARIADIC_HELPERS;
 * - the first element of any other array literal, when it names a program the table knows or one
 *   installed on this machine (an array of names or addresses is not an argv);
 * - the program a wrapper runs: `timeout 5 socat`, `nsenter --net=... etcd`, `taskset -c 1 unbound`;
 * - a program looked up on PATH to be run (`onPath('docker')`);
 * - the program of `cnm run` / `docker run` / `cnm exec` (a sandbox's program is a host program),
 *   found by parsing the flags with the CLI's own `--help`;
 * - in shell, every word in command position.
 *
 * What it reports is checked against scripts/program-packages.txt by test/unit/bootstrap-packages.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface ProgramUse {
  program: string;
  /** "test/helpers/lab.ts:83" */
  where: string;
}

/** Functions whose argument at this index is an argv array. */
export const ARGV_HELPERS: Record<string, number> = { inHost: 0, inNs: 1, inNamespace: 1, inClient: 1, cliProcess: 0 };
/** Functions called as f(target, PROGRAM, ...args). */
export const VARIADIC_HELPERS = new Set(['inNs', 'sh', 'exec']);
/** Functions that find a program by name on PATH, to run it. */
export const PROGRAM_LOOKUPS = new Set(['onPath']);
/** Variables and properties that hold an argv: `const argv = [...]`, the Engine API's `Cmd: [...]`. */
const ARGV_NAMES = /^(argv|cmd|Cmd|command|Entrypoint)$/;
const CHILD_PROCESS = new Set(['spawn', 'spawnSync', 'execFile', 'execFileSync']);
/** Programs that run another program given later on their command line. */
const WRAPPERS = new Set(['timeout', 'nsenter', 'unshare', 'taskset', 'env', 'setsid', 'exec', 'xargs', 'sudo', 'chrt', 'nice', 'flock', 'npx']);
/** A wrapper's options whose value is the next word (`unshare --propagation private sh`). */
const WRAPPER_VALUE_FLAGS = new Set(['--propagation', '-t', '--target', '-s', '--signal', '-k', '--kill-after']);
/** Container CLIs: the program after their `run`/`exec` comes from the container's image. */
const CONTAINER_CLIS = new Set(['podman', 'ctr']);

/** Where a wrapper's own argv ends and the program it runs begins, or -1. */
function wrappedProgramAt(words: string[], skip: (w: string) => boolean = () => false): number {
  for (let k = 0; k < words.length; k++) {
    const w = words[k]!;
    if (WRAPPER_VALUE_FLAGS.has(w)) k++;
    else if (!isOptionOrNumber(w) && !skip(w)) return k;
  }
  return -1;
}

/** Which flags of `cnm run` / `cnm exec` take a value; read from the CLI's help by the caller. */
export interface RunFlags {
  run: Set<string>;
  exec: Set<string>;
}

/** "--name string" in a --help listing: the flag takes a value. */
export function valueFlagsFromHelp(help: string): Set<string> {
  const flags = new Set<string>();
  for (const line of help.split('\n')) {
    const m = /^\s+(?:-(\w), )?--([\w-]+)( \w+)?\s{2,}/.exec(line);
    if (!m?.[3]) continue;
    if (m[1]) flags.add(`-${m[1]}`);
    flags.add(`--${m[2]}`);
  }
  return flags;
}

// ---- TypeScript -----------------------------------------------------------------------------

type Token = { kind: 'str'; value: string; line: number } | { kind: 'expr'; line: number } | { kind: 'ident'; value: string; line: number } | { kind: 'punct'; value: string; line: number };

/** Strings (a template's ${...} read as "$_"), identifiers and punctuation; comments dropped. */
export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let line = 1;
  let i = 0;
  const n = src.length;
  while (i < n) {
    const c = src[i]!;
    if (c === '\n') {
      line++;
      i++;
    } else if (/\s/.test(c)) {
      i++;
    } else if (c === '/' && src[i + 1] === '/') {
      while (i < n && src[i] !== '\n') i++;
    } else if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? n : end + 2;
      for (; i < stop; i++) if (src[i] === '\n') line++;
    } else if (c === "'" || c === '"' || c === '`') {
      const start = line;
      let value = '';
      i++;
      while (i < n && src[i] !== c) {
        if (src[i] === '\\') {
          value += src[i + 1] ?? '';
          i += 2;
          continue;
        }
        if (c === '`' && src[i] === '$' && src[i + 1] === '{') {
          value += '$_'; // an interpolation: a word no program is named by
          let depth = 0;
          for (; i < n; i++) {
            if (src[i] === '{') depth++;
            else if (src[i] === '}' && --depth === 0) break;
            else if (src[i] === '\n') line++;
          }
          i++;
          continue;
        }
        if (src[i] === '\n') line++;
        value += src[i];
        i++;
      }
      i++;
      out.push({ kind: 'str', value, line: start });
    } else if (/[A-Za-z_$]/.test(c)) {
      let j = i;
      while (j < n && /[\w$]/.test(src[j]!)) j++;
      out.push({ kind: 'ident', value: src.slice(i, j), line });
      i = j;
    } else if (c === '/' && regexAllowed(out[out.length - 1])) {
      // A regular expression literal: skip it whole, quotes inside it are not strings.
      let inClass = false;
      for (i++; i < n && src[i] !== '\n'; i++) {
        if (src[i] === '\\') i++;
        else if (src[i] === '[') inClass = true;
        else if (src[i] === ']') inClass = false;
        else if (src[i] === '/' && !inClass) break;
      }
      i++;
      while (i < n && /[a-z]/.test(src[i]!)) i++;
      out.push({ kind: 'expr', line });
    } else if (src.startsWith('...', i)) {
      out.push({ kind: 'punct', value: '...', line });
      i += 3;
    } else {
      out.push({ kind: 'punct', value: c, line });
      i++;
    }
  }
  return out;
}

function regexAllowed(prev: Token | undefined): boolean {
  if (!prev) return true;
  if (prev.kind === 'punct') return !/[)\]}]/.test(prev.value);
  if (prev.kind === 'ident') return ['return', 'typeof', 'case', 'of', 'in', 'void', 'throw'].includes(prev.value);
  return false;
}

/** One element of an argument or array list: a literal string, an array, or anything else. */
type Element =
  | { kind: 'str'; value: string; line: number }
  | { kind: 'array'; items: Element[]; line: number }
  | { kind: 'spread'; line: number }
  | { kind: 'other'; line: number; name?: string };

const OPEN: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

/** Splits tokens[from..] (just after an opening bracket) into comma-separated elements up to the closing one. */
function elements(tokens: Token[], from: number, close: string): { items: Element[]; end: number } {
  const items: Element[] = [];
  let i = from;
  let current: Token[] = [];
  const flush = (): void => {
    if (current.length) items.push(classify(tokens, current));
    current = [];
  };
  let depth = 0;
  for (; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'punct' && depth === 0 && t.value === close) break;
    if (t.kind === 'punct' && depth === 0 && t.value === ',') {
      flush();
      continue;
    }
    if (t.kind === 'punct' && OPEN[t.value]) depth++;
    else if (t.kind === 'punct' && /[)\]}]/.test(t.value)) depth--;
    current.push(t);
  }
  flush();
  return { items, end: i };
}

function classify(all: Token[], toks: Token[]): Element {
  const first = toks[0]!;
  if (toks.length === 1 && first.kind === 'str') return { kind: 'str', value: first.value, line: first.line };
  if (first.kind === 'punct' && first.value === '[' && toks[toks.length - 1]?.kind === 'punct') {
    const start = all.indexOf(first);
    const { items, end } = elements(all, start + 1, ']');
    if (all[end] === toks[toks.length - 1]) return { kind: 'array', items, line: first.line };
  }
  if (first.kind === 'punct' && first.value === '...') return { kind: 'spread', line: first.line };
  if (toks.length === 1 && first.kind === 'ident') return { kind: 'other', line: first.line, name: first.value };
  return { kind: 'other', line: first.line };
}

/** known: in the program table; own: this repository's files and shell functions (not programs to install). */
export function scanTypeScript(src: string, file: string, flags: RunFlags, known: (word: string) => boolean, own: (word: string) => boolean = () => false): ProgramUse[] {
  const tokens = tokenize(src);
  const uses: ProgramUse[] = [];
  const add = (program: string, line: number): void => {
    uses.push({ program, where: `${file}:${line}` });
  };
  // const run = promisify(execFile): `run` is execFile from here on.
  const spawners = new Set(CHILD_PROCESS);
  // const script = `...`: a shell script handed to sh -c by name.
  const constants = new Map<string, { value: string; line: number }>();
  for (let i = 0; i + 3 < tokens.length; i++) {
    const [kw, name, eq, value, end] = [tokens[i], tokens[i + 1], tokens[i + 2], tokens[i + 3], tokens[i + 4]];
    if (kw?.kind === 'ident' && kw.value === 'const' && name?.kind === 'ident' && eq?.kind === 'punct' && eq.value === '=' && value?.kind === 'str' && end?.kind === 'punct' && end.value === ';') {
      constants.set(name.value, { value: value.value, line: value.line });
    }
  }
  for (let i = 0; i + 5 < tokens.length; i++) {
    const [a, eq, p, paren, fn] = [tokens[i], tokens[i + 1], tokens[i + 2], tokens[i + 3], tokens[i + 4]];
    if (a?.kind === 'ident' && eq?.kind === 'punct' && eq.value === '=' && p?.kind === 'ident' && p.value === 'promisify' && paren?.kind === 'punct' && fn?.kind === 'ident' && CHILD_PROCESS.has(fn.value)) {
      spawners.add(a.value);
    }
  }
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind === 'punct' && t.value === '[') {
      // An array literal (not an index): an argv when it is named so (`const argv = [...]`,
      // `Cmd: [...]`), else only when its first element is a program the table knows.
      const prev = tokens[i - 1];
      const literal = !prev || (prev.kind === 'punct' && !/[)\]]/.test(prev.value)) || (prev.kind === 'ident' && ['return', 'of', 'in'].includes(prev.value));
      const named = tokens[i - 2];
      const isArgv = prev?.kind === 'punct' && (prev.value === '=' || prev.value === ':') && named?.kind === 'ident' && ARGV_NAMES.test(named.value);
      const callee = prev?.kind === 'punct' && prev.value === '(' ? tokens[i - 2] : undefined;
      if (callee?.kind === 'ident' && CONTAINER_CLIS.has(callee.value)) continue;
      if (literal) argv(elements(tokens, i + 1, ']').items, isArgv);
      continue;
    }
    if (t.kind !== 'ident' || tokens[i + 1]?.kind !== 'punct' || (tokens[i + 1] as { value: string }).value !== '(') continue;
    const { items: args } = elements(tokens, i + 2, ')');
    const name = t.value;
    if (spawners.has(name)) {
      const first = args[0];
      if (first?.kind === 'str') argv([first, ...args.slice(1).flatMap((a) => (a.kind === 'array' ? a.items : [a]))], true);
    }
    // onPath('docker'): a program looked up to be run.
    if (PROGRAM_LOOKUPS.has(name) && args[0]?.kind === 'str') argv([args[0]], true);
    const at = ARGV_HELPERS[name];
    if (at !== undefined && args[at]?.kind === 'array') argv((args[at] as { items: Element[] }).items, true);
    if (VARIADIC_HELPERS.has(name) && args[1]?.kind === 'str' && args.length >= 2) argv(args.slice(1), true);
    // cli('run', ...), d('exec', ...): a CLI's argv as the arguments (arrays are seen above).
    if (!CONTAINER_CLIS.has(name)) sandboxProgram(args, true);
  }
  return uses;

  /** items is an argv: items[0] is a program when it is literal (strong) or known (weak). */
  function argv(items: Element[], strong: boolean): void {
    if (!strong) {
      // Not known to be an argv (nsenter's arguments after --net=..., a list of names): any
      // program of the table in it counts, nothing else does.
      for (const e of items) if (e.kind === 'str' && e !== items[0] && known(e.value)) add(e.value, e.line);
    }
    const first = items[0];
    if (first?.kind !== 'str') return;
    if (first.value === 'run' || first.value === 'exec') {
      sandboxProgram(items, strong);
      return;
    }
    if (!isProgramWord(first.value) || (!strong && !known(first.value))) return;
    // (known: in the program table. Data arrays such as ['link', 'set', 'lo', 'up'] or
    // ['split', fn] name programs installed on the machine without running them.)
    add(first.value, first.line);
    const arg = items[2];
    const script = arg?.kind === 'str' ? arg : arg?.kind === 'other' && arg.name ? constants.get(arg.name) : undefined;
    if ((first.value === 'sh' || first.value === 'bash') && items[1]?.kind === 'str' && items[1].value === '-c' && script) {
      for (const u of scanShell(script.value, file, flags, own)) add(u.program, script.line);
    }
    if (WRAPPERS.has(first.value)) {
      const rest = items.slice(1);
      const words = rest.map((e) => (e.kind === 'str' ? e.value : '-'));
      const next = wrappedProgramAt(words);
      if (next >= 0) argv(rest.slice(next), true);
    }
  }

  /** `run FLAGS... PROGRAM` / `exec FLAGS... SANDBOX PROGRAM` with the CLI's flags. */
  function sandboxProgram(items: Element[], strong: boolean): void {
    const head = items[0];
    if (head?.kind !== 'str' || (head.value !== 'run' && head.value !== 'exec')) return;
    const valueFlags = head.value === 'run' ? flags.run : flags.exec;
    let operands = head.value === 'run' ? 0 : 1;
    for (let k = 1; k < items.length; k++) {
      const e = items[k]!;
      if (e.kind === 'spread') continue; // ...flags: more flags, whatever they are
      if (e.kind !== 'str') {
        // exec's sandbox given as a variable; elsewhere an expression where the program goes,
        // which is not ours to name.
        if (operands-- > 0) continue;
        return;
      }
      if (e.value.startsWith('-')) {
        if (!e.value.includes('=') && valueFlags.has(e.value)) k++;
        continue;
      }
      if (operands > 0) {
        operands--;
        continue;
      }
      // Outside a known argv (a parser's test input such as ['run', 'serve']) only a program the
      // table knows counts.
      if (isProgramWord(e.value)) argv(items.slice(k), strong);
      return;
    }
  }
}

function isProgramWord(w: string): boolean {
  return /^[a-z][a-z0-9._+-]*$/.test(w);
}

function isOptionOrNumber(w: string): boolean {
  return w.startsWith('-') || /^[\d.]+[smhd]?$/.test(w) || w.includes('=');
}

// ---- Shell ----------------------------------------------------------------------------------

/** Words after which a command still follows: `if ip link ...`, `exec ./bin/cnmd`. */
const SHELL_KEYWORDS = new Set(['if', 'then', 'else', 'elif', 'do', 'while', 'until', '!', '{', 'time', 'exec', 'command']);
/** Builtins and keywords whose words are not commands. */
const SHELL_BUILTINS = new Set([
  'fi', 'done', 'esac', '}', 'in', 'function', 'case', 'cd', 'set', 'echo', 'printf', 'exit', 'return', 'shift', 'export', 'local', 'read',
  'trap', '[', '[[', 'test', 'true', 'false', ':', '.', 'source', 'eval', 'wait', 'break', 'continue', 'unset', 'declare', 'readonly',
  'type', 'umask', 'ulimit', 'mapfile', 'readarray', 'for',
]);
const SEPARATORS = new Set([';', '|', '||', '&&', '&', '(', '$(', '`', ';;', ')']);

/** Words of a shell line with quotes removed; operators as their own words. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let w = '';
  let quoted = false;
  const push = (): void => {
    if (w || quoted) words.push(w);
    w = '';
    quoted = false;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'" || c === '"') {
      const end = line.indexOf(c, i + 1);
      w += line.slice(i + 1, end < 0 ? line.length : end);
      quoted = true;
      i = end < 0 ? line.length : end;
    } else if (c === '#' && !w) {
      break;
    } else if (/\s/.test(c)) {
      push();
    } else if (c === '$' && line[i + 1] === '(') {
      push();
      words.push('$(');
      i++;
    } else if ('|&;()`'.includes(c)) {
      push();
      const two = line.slice(i, i + 2);
      if (two === '||' || two === '&&' || two === ';;') {
        words.push(two);
        i++;
      } else words.push(c);
    } else {
      w += c;
    }
  }
  push();
  return words;
}

/** Commands of a shell text: scripts, README blocks. Our own files and variables are not programs. */
export function scanShell(src: string, file: string, flags: RunFlags, own: (word: string) => boolean): ProgramUse[] {
  const uses: ProgramUse[] = [];
  const functions = shellFunctions(src);
  const original = src.split('\n');
  for (let start = 0; start < original.length; start++) {
    // A line continued with backslashes is one command, reported at its first line.
    let text = original[start]!;
    const lineNo = start + 1;
    while (text.endsWith('\\') && start + 1 < original.length) text = `${text.slice(0, -1)} ${original[++start]!}`;
    // A case pattern ("install|start) ...") is not a pipeline; a "$(command)" in quotes is one.
    const pipelines = [text.replace(/^\s*[\w*|.-]+\)\s/, ''), ...[...text.matchAll(/"[^"]*\$\(([^()"]*)\)[^"]*"/g)].map((m) => m[1]!)];
    for (const pipeline of pipelines) scanLine(pipeline, lineNo);
  }
  return uses;

  function scanLine(line: string, lineNo: number): void {
    const words = shellWords(line);
    let commandPosition = true;
    for (let k = 0; k < words.length; k++) {
      const w = words[k]!;
      if (SEPARATORS.has(w)) {
        commandPosition = true;
        continue;
      }
      if (!commandPosition) continue;
      if (/^\w+=$/.test(w) && words[k + 1] === '(') {
        while (k + 1 < words.length && words[k + 1] !== ')') k++; // NAME=(WORDS)
        k++;
        continue;
      }
      if (/^\w+=/.test(w) || SHELL_KEYWORDS.has(w)) continue;
      commandPosition = false;
      if (SHELL_BUILTINS.has(w) || w.endsWith('()')) continue;
      const program = w.includes('/') ? path.basename(w) : w;
      if (w.startsWith('$') || functions.has(w) || own(w)) continue;
      if (!isProgramWord(program)) continue;
      uses.push({ program, where: `${file}:${lineNo}` });
      const rest = words.slice(k + 1);
      const end = rest.findIndex((x) => SEPARATORS.has(x));
      const argvWords = end < 0 ? rest : rest.slice(0, end);
      if (WRAPPERS.has(program)) {
        const next = wrappedProgramAt(argvWords, (x) => x.startsWith('$'));
        if (next >= 0) {
          commandPosition = true;
          k += next;
        }
        continue;
      }
      if ((program === 'cnm' || program === 'docker') && (argvWords[0] === 'run' || argvWords[0] === 'exec')) {
        const sandbox = scanTypeScript(`f(${argvWords.map((x) => JSON.stringify(x)).join(', ')})`, file, flags, () => true);
        for (const u of sandbox) uses.push({ program: u.program, where: `${file}:${lineNo}` });
      }
    }
  }
}

/** The functions a shell file defines (name() { ...). */
export function shellFunctions(src: string): Set<string> {
  return new Set([...src.matchAll(/^\s*([\w-]+)\(\)\s*\{/gm)].map((m) => m[1]!));
}

/** The ```sh blocks of a Markdown file, in order, with the line their first command is on. */
export function shellBlocks(markdown: string): { text: string; line: number }[] {
  return [...markdown.matchAll(/^```(?:sh|bash|shell)\n([\s\S]*?)^```/gm)].map((m) => ({
    text: m[1]!,
    line: markdown.slice(0, m.index).split('\n').length + 1,
  }));
}

// ---- The repository --------------------------------------------------------------------------

/** Every .ts file under dir (the compiled dist/ and node_modules are not sources). */
export function sourceFiles(root: string, dirs: string[], ext: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(ext)) out.push(p);
    }
  };
  for (const d of dirs) if (fs.existsSync(path.join(root, d))) walk(path.join(root, d));
  return out.sort();
}

/** `program package` lines; "-" as package means not from Debian, with the reason after it. */
export function readProgramTable(text: string): Map<string, { pkg: string; note: string }> {
  const table = new Map<string, { pkg: string; note: string }>();
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const [program, pkg, ...note] = line.split(/\s+/);
    table.set(program!, { pkg: pkg!, note: note.join(' ') });
  }
  return table;
}

/** One package per line, # comments: scripts/packages.txt, which bootstrap.sh installs. */
export function readPackageList(text: string): Set<string> {
  return new Set(
    text
      .split('\n')
      .map((l) => l.replace(/#.*/, '').trim())
      .filter(Boolean),
  );
}
