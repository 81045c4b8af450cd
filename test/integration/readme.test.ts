/**
 * The README's walk-through runs as written: every command of the ```sh blocks from "## Using it"
 * up to "## How it is built", in order, each must exit 0. They run in a lab: bash inside the lab's
 * host namespace, `cnm` and `cnmd` from this checkout first on PATH, CNM_HOST pointing at the
 * lab's daemon, and the README's socket path (/run/cnm/cnm.sock) replaced by the lab's.
 *
 * An HTML comment right before a block changes what the test does, and says why:
 *   <!-- readme-test: setup "COMMAND": REASON -->  runs COMMAND in the lab first
 *   <!-- readme-test: skip "REASON" -->             does not run the block
 * The reason is printed either way; a block is never left out silently.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Lab } from '../helpers/lab';

const REPO = path.resolve(__dirname, '..', '..', '..');
const README_SOCKET = '/run/cnm/cnm.sock';

export interface ReadmeBlock {
  /** line of the block's first command in README.md */
  line: number;
  commands: { line: number; text: string }[];
  setup?: string;
  skip?: string;
  reason?: string;
}

/** The walk-through's shell blocks with their directives. */
export function readmeBlocks(readme: string): ReadmeBlock[] {
  const start = readme.indexOf('\n## Using it');
  const end = readme.indexOf('\n## How it is built');
  if (start < 0 || end < start) throw new Error('README.md has no "## Using it" ... "## How it is built" section');
  const before = readme.slice(0, start).split('\n').length;
  const lines = readme.slice(start, end).split('\n');
  const blocks: ReadmeBlock[] = [];
  let directive: Partial<ReadmeBlock> = {};
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    const d = /^<!-- readme-test: (setup|skip) "([^"]+)"(?::\s*(.*?))?\s*-->$/.exec(l);
    if (d) {
      directive = d[1] === 'setup' ? { setup: d[2]!, reason: d[3] ?? '' } : { skip: d[2]! };
      continue;
    }
    if (l.startsWith('<!-- readme-test')) throw new Error(`README.md:${before + i}: a readme-test comment this test does not understand: ${l}`);
    if (l !== '```sh') {
      if (l.trim() !== '' && !l.startsWith('```')) directive = {};
      continue;
    }
    const block: ReadmeBlock = { line: before + i + 1, commands: [], ...directive };
    directive = {};
    for (i++; i < lines.length && lines[i] !== '```'; i++) {
      const first = before + i;
      let text = lines[i]!;
      while (text.endsWith('\\') && i + 1 < lines.length) text = `${text.slice(0, -1)}${lines[++i]!}`;
      if (text.trim()) block.commands.push({ line: first, text });
    }
    blocks.push(block);
  }
  return blocks;
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function bash(lab: Lab, command: string, timeoutMs = 60_000): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env, PATH: `${path.join(REPO, 'bin')}:${process.env.PATH ?? ''}`, CNM_HOST: `unix://${lab.socket}` };
    // An interactive command (`run -it ... sh`) gets a terminal, as a reader typing it would
    // (script from bsdutils), and the reader types exit; the others read end of input.
    const interactive = /\s-it\s/.test(command);
    const argv = interactive ? ['script', '-qec', `bash -o pipefail -c ${shellQuote(command)}`, '/dev/null'] : ['bash', '-o', 'pipefail', '-c', command];
    const child = spawn('nsenter', [`--net=${lab.hostNs}`, ...argv], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out });
    });
    child.stdin.end(interactive ? 'exit\n' : undefined);
  });
}

t.test("the README's commands run in order, as written", async (t) => {
  const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const blocks = readmeBlocks(readme);
  t.ok(blocks.length >= 4 && blocks.every((b) => b.commands.length > 0), `${blocks.length} blocks found`);
  const lab = await Lab.start();
  t.teardown(() => lab.close());

  for (const block of blocks) {
    if (block.skip) {
      t.comment(`README.md:${block.line}: block not run: ${block.skip}`);
      t.ok(block.skip.length > 10, `README.md:${block.line}: skipped, with a reason`);
      continue;
    }
    if (block.setup) {
      t.comment(`README.md:${block.line}: first, in the lab: ${block.setup} (${block.reason})`);
      const setup = await bash(lab, block.setup);
      t.equal(setup.code, 0, `setup: ${block.setup}\n${setup.out}`);
    }
    for (const c of block.commands) {
      const command = c.text.split(README_SOCKET).join(lab.socket);
      if (command !== c.text) t.comment(`README.md:${c.line}: ${README_SOCKET} is the lab's ${lab.socket} here`);
      const r = await bash(lab, command);
      t.equal(r.code, 0, `README.md:${c.line}: ${c.text}`, { output: r.out });
      if (r.code !== 0) t.comment(r.out);
    }
  }

  // What the walk-through promised along the way, checked once more at its end: nothing is left.
  const left = await lab.cli('ps', '-a', '-q');
  t.equal(left.out.trim(), '', 'the last block removed every sandbox');
  const networks = await lab.cli('network', 'ls', '--format', '{{.Name}}');
  t.same(networks.out.trim().split('\n').sort(), ['bridge', 'host', 'none'], 'and every network it made');
});

t.test('the directives are read as written', async (t) => {
  const sample = [
    '## Using it',
    '```sh',
    'cnm a \\',
    '  --b c',
    '```',
    '<!-- readme-test: setup "ip link add x type dummy": no x here -->',
    '```sh',
    'cnm d',
    '```',
    'Prose between a directive and its block cancels it:',
    '<!-- readme-test: skip "never applies" -->',
    'some words',
    '```sh',
    'cnm e',
    '```',
    '<!-- readme-test: skip "a reason long enough" -->',
    '',
    '```sh',
    'cnm f',
    '```',
    '## How it is built',
  ].join('\n');
  const blocks = readmeBlocks(`# x\n${sample}`);
  t.same(
    blocks.map((b) => ({ cmds: b.commands.map((c) => c.text), setup: b.setup, skip: b.skip })),
    [
      { cmds: ['cnm a   --b c'], setup: undefined, skip: undefined },
      { cmds: ['cnm d'], setup: 'ip link add x type dummy', skip: undefined },
      { cmds: ['cnm e'], setup: undefined, skip: undefined },
      { cmds: ['cnm f'], setup: undefined, skip: 'a reason long enough' },
    ],
  );
  t.throws(() => readmeBlocks('# x\n## Using it\n<!-- readme-test: sikp "x" -->\n## How it is built'), /does not understand/);
});
