/**
 * scripts/lib/install-state.sh: what bootstrap.sh rebuilds or installs on a second run. Runs its
 * functions with bash in a scratch copy of the relevant files (no root, nothing installed; a
 * fake dpkg-query on PATH stands for dpkg's database).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';

const REPO = path.resolve(__dirname, '..', '..', '..');
const LIB = path.join(REPO, 'scripts', 'lib', 'install-state.sh');

function scratch(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnm-bootstrap-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'src', 'native'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'src', 'native', 'addon.c'), 'int x;\n');
  fs.writeFileSync(path.join(dir, 'binding.gyp'), '{}\n');
  fs.mkdirSync(path.join(dir, 'build', 'Release'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'build', 'Release', 'cnm_native.node'), '');
  fs.writeFileSync(path.join(dir, 'build', 'Release', 'cnm-exec'), '');
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.writeFileSync(path.join(dir, 'package-lock.json'), '{"v":1}\n');
  // dpkg-query that knows "nftables" and "iproute2" as installed, "half" as not fully installed.
  fs.mkdirSync(path.join(dir, 'fakebin'));
  fs.writeFileSync(
    path.join(dir, 'fakebin', 'dpkg-query'),
    [
      '#!/bin/sh',
      'shift 2; status=0',
      'for pkg; do case "$pkg" in',
      '  nftables|iproute2) echo "$pkg install ok installed";;',
      '  half) echo "$pkg install ok half-installed";;',
      '  *) echo "dpkg-query: no packages found matching $pkg" >&2; status=1;;',
      'esac; done; exit $status',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return dir;
}

/** Runs `script` after sourcing the library, in dir; "yes"/"no" for a function's status. */
function inScratch(dir: string, script: string): string {
  return execFileSync('bash', ['-c', `set -euo pipefail; . ${LIB}; ${script}`], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, PATH: `${path.join(dir, 'fakebin')}:${process.env.PATH}` },
  });
}
const status = (dir: string, fn: string): string => inScratch(dir, `if ${fn}; then echo yes; else echo no; fi`).trim();

t.test('package_list: one a line, comments and blanks ignored', async (t) => {
  const dir = scratch(t);
  fs.writeFileSync(path.join(dir, 'p.txt'), '# header\nnftables\n\n  iproute2   # the ip command\n#socat\n');
  t.equal(inScratch(dir, 'package_list p.txt'), 'nftables\niproute2\n');
  t.equal(inScratch(dir, `package_list ${path.join(REPO, 'scripts', 'packages.txt')} | grep -c .`).trim() !== '0', true, "the repository's list parses");
});

t.test('missing_packages: only those dpkg does not report installed', async (t) => {
  const dir = scratch(t);
  t.equal(inScratch(dir, 'missing_packages nftables socat iproute2 half'), 'socat\nhalf\n');
  t.equal(inScratch(dir, 'missing_packages nftables iproute2'), '', 'nothing to install on a second run');
});

t.test('native_stale: rebuild only when src/native, binding.gyp or node changed', async (t) => {
  const dir = scratch(t);
  t.equal(status(dir, 'native_stale'), 'yes', 'never built here');
  inScratch(dir, 'native_built');
  t.equal(status(dir, 'native_stale'), 'no', 'built from these sources');
  fs.writeFileSync(path.join(dir, 'src', 'native', 'addon.c'), 'int y;\n');
  t.equal(status(dir, 'native_stale'), 'yes', 'a source changed');
  inScratch(dir, 'native_built');
  fs.writeFileSync(path.join(dir, 'src', 'native', 'new.c'), '\n');
  t.equal(status(dir, 'native_stale'), 'yes', 'a source was added');
  inScratch(dir, 'native_built');
  fs.writeFileSync(path.join(dir, 'binding.gyp'), '{ }\n');
  t.equal(status(dir, 'native_stale'), 'yes', 'binding.gyp changed');
  inScratch(dir, 'native_built');
  fs.rmSync(path.join(dir, 'build', 'Release', 'cnm-exec'));
  t.equal(status(dir, 'native_stale'), 'yes', 'an output is missing');
  fs.writeFileSync(path.join(dir, 'build', 'Release', 'cnm-exec'), '');
  t.equal(status(dir, 'native_stale'), 'no');
  fs.mkdirSync(path.join(dir, 'src', 'cli'));
  fs.writeFileSync(path.join(dir, 'src', 'cli', 'x.ts'), '');
  t.equal(status(dir, 'native_stale'), 'no', 'TypeScript changes do not rebuild the addon');
});

t.test('ts_stale: tsc only when a .ts file or the configuration is newer than the build', async (t) => {
  const dir = scratch(t);
  for (const d of ['src', 'test', 'bench', 'dist']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  fs.writeFileSync(path.join(dir, 'src', 'a.ts'), '');
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), '{}');
  t.equal(status(dir, 'ts_stale'), 'yes', 'never built');
  const past = new Date(Date.now() - 60_000);
  for (const f of ['src/a.ts', 'tsconfig.json', 'package-lock.json']) fs.utimesSync(path.join(dir, f), past, past);
  fs.writeFileSync(path.join(dir, 'dist', '.tsbuildinfo'), '');
  t.equal(status(dir, 'ts_stale'), 'no', 'built after the last change');
  fs.writeFileSync(path.join(dir, 'test', 'b.ts'), '');
  fs.utimesSync(path.join(dir, 'dist', '.tsbuildinfo'), past, past);
  fs.utimesSync(path.join(dir, 'test', 'b.ts'), new Date(), new Date());
  t.equal(status(dir, 'ts_stale'), 'yes', 'a test file changed');
  fs.utimesSync(path.join(dir, 'test', 'b.ts'), past, past);
  fs.utimesSync(path.join(dir, 'dist', '.tsbuildinfo'), new Date(), new Date());
  fs.utimesSync(path.join(dir, 'tsconfig.json'), new Date(Date.now() + 5000), new Date(Date.now() + 5000));
  t.equal(status(dir, 'ts_stale'), 'yes', 'tsconfig.json changed');
});

t.test('npm_stale: npm ci only when package-lock.json changed', async (t) => {
  const dir = scratch(t);
  t.equal(status(dir, 'npm_stale'), 'yes');
  inScratch(dir, 'npm_installed');
  t.equal(status(dir, 'npm_stale'), 'no');
  fs.writeFileSync(path.join(dir, 'package-lock.json'), '{"v":2}\n');
  t.equal(status(dir, 'npm_stale'), 'yes');
});

t.test('link_commands: cnm, cnmd and cnm-dns on PATH, a foreign file left alone', async (t) => {
  const dir = scratch(t);
  const bin = path.join(dir, 'usr-local-bin');
  inScratch(dir, `link_commands ${bin}`);
  t.equal(fs.readlinkSync(path.join(bin, 'cnm')), path.join(fs.realpathSync(dir), 'bin', 'cnm'));
  t.equal(fs.readlinkSync(path.join(bin, 'cnmd')), path.join(fs.realpathSync(dir), 'bin', 'cnmd'));
  t.equal(fs.readlinkSync(path.join(bin, 'cnm-dns')), path.join(fs.realpathSync(dir), 'bin', 'cnm-dns'));
  fs.rmSync(path.join(bin, 'cnmd'));
  fs.symlinkSync('/elsewhere/cnmd', path.join(bin, 'cnmd'));
  fs.rmSync(path.join(bin, 'cnm'));
  fs.writeFileSync(path.join(bin, 'cnm'), 'not ours');
  const err = execFileSync('bash', ['-c', `. ${LIB}; link_commands ${bin} 2>&1`], { cwd: dir, encoding: 'utf8' });
  t.match(err, /cnm exists and is not a symlink: left alone/);
  t.equal(fs.readFileSync(path.join(bin, 'cnm'), 'utf8'), 'not ours', 'the file is kept');
  t.equal(fs.readlinkSync(path.join(bin, 'cnmd')), path.join(fs.realpathSync(dir), 'bin', 'cnmd'), "another clone's link is replaced");
});

t.test('hold_services: package scripts cannot start services; the guard goes, even after a failure', async (t) => {
  const dir = scratch(t);
  const sbin = path.join(dir, 'sbin');
  fs.mkdirSync(sbin);
  inScratch(dir, `hold_services ${sbin}`);
  const policy = path.join(sbin, 'policy-rc.d');
  t.equal(execFileSync('sh', ['-c', `${policy} unbound start; echo $?`], { encoding: 'utf8' }).trim(), '101', 'invoke-rc.d is told no');
  inScratch(dir, `release_services ${sbin}`);
  t.notOk(fs.existsSync(policy), 'removed afterwards');

  const failed = execFileSync('bash', ['-c', `. ${LIB}; (trap "release_services ${sbin}" EXIT; hold_services ${sbin}; false); [ -e ${policy} ] && echo left || echo gone`], { encoding: 'utf8' });
  t.equal(failed.trim(), 'gone', 'a failing install still removes it (the EXIT trap)');

  fs.writeFileSync(policy, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  inScratch(dir, `hold_services ${sbin}; release_services ${sbin}`);
  t.equal(fs.readFileSync(policy, 'utf8'), '#!/bin/sh\nexit 0\n', "the machine's own policy-rc.d is used and left as it was");
});
