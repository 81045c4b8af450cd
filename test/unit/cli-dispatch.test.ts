/** The CLI's words before it talks to a daemon: help texts, groups, unknown commands (no daemon needed). */
import t from 'tap';
import { runCli } from '../../src/cli/main';
import type { Io } from '../../src/cli/command';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: Io = { out: (s) => void (out += s), err: (s) => void (err += s), confirm: async () => false };
  const code = await runCli(argv, io, { CNM_HOST: 'unix:///nonexistent/cnm.sock' });
  return { code, out, err };
}

t.test('top-level help lists every command, sorted, then the groups', async (t) => {
  const r = await cli('--help');
  t.equal(r.code, 0);
  const names = [...r.out.matchAll(/^ {2}([a-z]+) +\S/gm)].map((m) => m[1]);
  const commands = names.slice(0, -2);
  t.same(commands, [...commands].sort(), 'sorted');
  for (const c of ['exec', 'inspect', 'kill', 'logs', 'port', 'ps', 'restart', 'rm', 'run', 'start', 'stop', 'top', 'version']) t.ok(commands.includes(c), c);
  t.same(names.slice(-2), ['cni', 'network']);
});

t.test('a group word alone or with help prints the group', async (t) => {
  for (const group of ['network', 'cni']) {
    for (const argv of [[group], [group, '--help'], [group, 'help']]) {
      const r = await cli(...argv);
      t.equal(r.code, 0, argv.join(' '));
      t.match(r.out, new RegExp(`Usage:  cnm ${group} COMMAND`), argv.join(' '));
    }
  }
  t.match((await cli('network')).out, /^ {2}create +Create a network$/m);
  t.match((await cli('cni')).out, /^ {2}install +/m);
});

t.test('unknown commands name the level they were looked up at', async (t) => {
  t.same(await cli('network', 'frob'), { code: 1, out: '', err: "cnm: 'frob' is not a cnm network command.\nSee 'cnm network --help'\n" });
  t.same(await cli('cni', 'frob'), { code: 1, out: '', err: "cnm: 'frob' is not a cnm cni command.\nSee 'cnm cni --help'\n" });
  t.same(await cli('frob'), { code: 1, out: '', err: "cnm: 'frob' is not a cnm command.\nSee 'cnm --help'\n" });
});

t.test('an alias reaches its command (network ls is network list)', async (t) => {
  const r = await cli('network', 'list', '--help');
  t.equal(r.code, 0);
  t.match(r.out, /cnm network ls/);
});

t.test('a reader that closes the pipe early (cnm ... | head) ends cnm quietly, as docker does', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const path = await import('node:path');
  const cnm = path.resolve(__dirname, '..', '..', '..', 'bin', 'cnm');
  // `true` exits long before node has started, so cnm's first write meets a closed pipe.
  const r = spawnSync('bash', ['-c', `"${cnm}" --help | true; echo "status \${PIPESTATUS[0]}" >&2`], { encoding: 'utf8' });
  t.match(r.stderr, /^status (0|141)\n$/, `no stack trace, no error status: ${r.stderr}`);
});
