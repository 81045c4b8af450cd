/**
 * Every program the daemon, tests, benches, scripts and README run comes from a Debian package
 * that scripts/bootstrap.sh installs (scripts/packages.txt), so `scripts/bootstrap.sh test`
 * passes on a fresh machine. The programs are found in the sources (test/helpers/program-scan.ts)
 * and mapped to packages by scripts/program-packages.txt: a program missing from that table fails
 * here too, so a new one cannot slip in unnoticed.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import {
  readPackageList,
  readProgramTable,
  scanShell,
  scanTypeScript,
  shellFunctions,
  shellBlocks,
  sourceFiles,
  valueFlagsFromHelp,
  type ProgramUse,
  type RunFlags,
} from '../helpers/program-scan';

const REPO = path.resolve(__dirname, '..', '..', '..');
const TABLE = 'scripts/program-packages.txt';
const PACKAGES = 'scripts/packages.txt';

const cliHelp = (...args: string[]): string => execFileSync(process.execPath, [path.join(REPO, 'bin', 'cnm'), ...args], { encoding: 'utf8' });
const flags: RunFlags = { run: valueFlagsFromHelp(cliHelp('run', '--help')), exec: valueFlagsFromHelp(cliHelp('exec', '--help')) };
const table = readProgramTable(fs.readFileSync(path.join(REPO, TABLE), 'utf8'));
const packages = readPackageList(fs.readFileSync(path.join(REPO, PACKAGES), 'utf8'));

const known = (word: string): boolean => table.has(word);
const shellFiles = sourceFiles(REPO, ['scripts', 'bench', 'test', '.ci'], '.sh');
/** Functions the scripts define (scripts/lib/install-state.sh's, sourced by bootstrap.sh). */
const functions = new Set(shellFiles.flatMap((f) => [...shellFunctions(fs.readFileSync(f, 'utf8'))]));
/** A repository file (./bin/cnmd, scripts/test.sh) or a script's function is not a program to install. */
const own = (word: string): boolean => functions.has(word) || (word.includes('/') && !word.startsWith('/') && fs.existsSync(path.join(REPO, word)));

function scanRepository(): ProgramUse[] {
  const uses: ProgramUse[] = [];
  for (const file of sourceFiles(REPO, ['src', 'test', 'bench'], '.ts')) {
    const rel = path.relative(REPO, file);
    // This file and the scanner name programs in their examples.
    if (rel === 'test/unit/bootstrap-packages.test.ts' || rel === 'test/helpers/program-scan.ts') continue;
    uses.push(...scanTypeScript(fs.readFileSync(file, 'utf8'), rel, flags, known, own));
  }
  for (const file of shellFiles) {
    uses.push(...scanShell(fs.readFileSync(file, 'utf8'), path.relative(REPO, file), flags, own));
  }
  for (const ci of ['.ci/run']) {
    if (fs.existsSync(path.join(REPO, ci))) uses.push(...scanShell(fs.readFileSync(path.join(REPO, ci), 'utf8'), ci, flags, own));
  }
  const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
  for (const block of shellBlocks(readme)) {
    for (const u of scanShell(block.text, 'README.md', flags, own)) {
      uses.push({ program: u.program, where: `README.md:${block.line - 1 + Number(u.where.split(':')[1])}` });
    }
  }
  return uses;
}

const uses = scanRepository();
const byProgram = new Map<string, string[]>();
for (const u of uses) byProgram.set(u.program, [...(byProgram.get(u.program) ?? []), u.where]);

t.test('the scan finds the programs it must (it is not vacuous)', async (t) => {
  for (const p of ['ip', 'nft', 'dig', 'etcd', 'etcdctl', 'socat', 'busybox', 'unbound', 'dnsperf', 'nsenter', 'npm', 'docker', 'curl']) {
    t.ok(byProgram.has(p), `${p} is found`);
  }
});

t.test('every program has an entry in the table', async (t) => {
  const missing = [...byProgram].filter(([p]) => !table.has(p));
  for (const [p, where] of missing) {
    t.fail(`"${p}" (run at ${where.slice(0, 3).join(', ')}) has no entry in ${TABLE}: add "${p} <debian-package>" (find it with dpkg -S $(command -v ${p}))`);
  }
  t.equal(missing.length, 0, 'no unknown program');
});

t.test("every program's package is in bootstrap's list", async (t) => {
  let bad = 0;
  for (const [p, where] of byProgram) {
    const entry = table.get(p);
    if (!entry || entry.pkg === '-') continue;
    if (!packages.has(entry.pkg)) {
      bad++;
      t.fail(`"${p}" (run at ${where.slice(0, 3).join(', ')}) comes from the Debian package ${entry.pkg}, which ${PACKAGES} does not list: add it there (scripts/bootstrap.sh installs that list)`);
    }
  }
  t.equal(bad, 0, 'every package is installed by bootstrap');
});

t.test('programs not from Debian say where they come from', async (t) => {
  for (const [p, e] of table) if (e.pkg === '-') t.ok(e.note.length > 0, `${p}: "-" needs a reason`);
});

t.test('bootstrap.sh installs exactly scripts/packages.txt', async (t) => {
  const script = fs.readFileSync(path.join(REPO, 'scripts', 'bootstrap.sh'), 'utf8');
  t.match(script, /scripts\/packages\.txt/, 'bootstrap reads the package list');
});

if (process.env.CNM_LIST_PROGRAMS) {
  for (const [p, where] of [...byProgram].sort()) console.log(`${p}\t${table.get(p)?.pkg ?? '?'}\t${where[0]} (+${where.length - 1})`);
}

t.test('the scanner reads the ways the code runs programs', async (t) => {
  const found = (src: string): string[] => [...new Set(scanTypeScript(src, 'x.ts', flags, (w) => w === 'taskset').map((u) => u.program))].sort();
  t.same(found(`await lab.inNs(ns, ['socat', '-u', 'x'])`), ['socat'], 'argv array of a helper');
  t.same(found(`inNs(h.ns, 'ip', 'link')`), ['ip'], 'variadic helper');
  t.same(found(`const execFileP = promisify(execFile);\nexecFileP('nsenter', [\`--net=\${p}\`, 'timeout', '5', 'etcdctl', 'get'])`), ['etcdctl', 'nsenter', 'timeout'], 'wrappers');
  t.same(found(`const argv = ['etcdctl', \`--endpoints=\${x}\`]`), ['etcdctl'], 'an array named argv');
  t.same(found(`const x = [\`--net=\${ns}\`, 'taskset', '-c', '1', 'dnsperf']`), ['taskset'], 'a known program in any array; nothing unknown');
  t.same(found(`['link', 'set', 'lo', 'up']; ['split', fn]; path.join(dir, 'run', 'netns')`), [], 'data arrays are not argv');
  t.same(found(`lab.cli('run', '-d', '--name', 'w', '--network', 'n1', '-p', '80', 'busybox', 'httpd')`), ['busybox'], 'a sandbox program after run flags');
  t.same(found(`lab.cli('run', '-d', '--name', n, ...flags, 'sleep', 'infinity')`), ['sleep'], 'after a spread of flags');
  t.same(found(`lab.cli('run', '-d', process.execPath, SERVER, 'bulk')`), [], 'a program given as an expression is not guessed');
  t.same(found(`lab.cliProcess(['exec', 'a1', 'hostname'])`), ['hostname'], 'exec: sandbox, then program');
  t.same(found(`lab.cliProcess(['exec', sandbox, 'getent', 'hosts'])`), ['getent'], 'exec: the sandbox as a variable');
  t.same(found(`api('POST', '/containers/create', { Cmd: ['true'] })`), ['true'], "the Engine API's Cmd");
  t.same(found(`const script = \`mount --bind a b && exec /usr/lib/podman/aardvark-dns run\`;\nspawn('sh', ['-c', script])`), ['aardvark-dns', 'mount', 'sh'], 'sh -c SCRIPT');
  t.same(found(`const newer = onPath('docker')`), ['docker'], 'a program looked up on PATH');
  t.same(found(`// spawn('commented')\nconst re = /'x'/; spawn('real')`), ['real'], 'comments and regular expressions are not code');
  const shell = (src: string): string[] => [...new Set(scanShell(src, 'x.sh', flags, (w) => w === 'helper').map((u) => u.program))].sort();
  t.same(shell(`set -e\nlocal x y\nif ! cmp -s a b; then helper; fi\nLC_ALL=C sort -z | xargs -0 sha256sum\n[ "$(id -u)" -ne 0 ] && exit`), ['cmp', 'id', 'sha256sum', 'sort', 'xargs'], 'shell commands');
  t.same(shell(`case "$a" in\n  install|start) ;;\n  *) echo no; exit 2 ;;\nesac\nfor p in a b; do x=(c d); done`), [], 'case patterns, for and arrays');
  t.same(shell(`cnm run -it --rm --network net1 busybox sh \\\n  -c true\nexec ./bin/cnmd`), ['busybox', 'cnm', 'cnmd'], 'README commands');
});
