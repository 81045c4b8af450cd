/**
 * The cnm-dns process as netavark drives it, in this test's private namespace: `run` returns only
 * once the forked server answers, the server is in a session of its own and named by
 * aardvark.pid, SIGHUP (even during start-up) reloads, start-up errors reach run's caller, and the
 * server exits, removing its pid file, once no network file remains.
 */
import '../helpers/private-netns';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { until } from '../helpers/lab';
import { isLiveProcess, procStat } from '../../src/os/proc';

const run = promisify(execFile);
const CNM_DNS = path.resolve(__dirname, '..', '..', '..', 'bin', 'cnm-dns');

async function answer(server: string, name: string, from = '127.30.0.2'): Promise<string> {
  const { stdout } = await run('dig', ['+short', '+time=1', '+tries=1', '-b', from, `@${server}`, name]).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
  return stdout.trim();
}

/** Ends the servers started for dir (by pid, found through their command line), even after a failed test. */
function killServersOf(dir: string): void {
  for (const p of fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const argv = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (argv.includes(dir) && argv.includes('serve')) process.kill(Number(p), 'SIGKILL');
    } catch {
      // gone
    }
  }
}

function cnmDns(dir: string, ...args: string[]): Promise<{ code: number; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(CNM_DNS, ['--config', dir, '-p', '53', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, err }));
  });
}

t.test('run, pid file, session, SIGHUP, exit with the last network', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnm-dns-daemon-'));
  t.teardown(() => {
    killServersOf(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const pidFile = path.join(dir, 'aardvark.pid');
  fs.writeFileSync(path.join(dir, 'n1'), '127.30.0.1\naa 127.30.0.2  web,www\n');

  const started = await cnmDns(dir, 'run');
  t.equal(started.code, 0, `run: ${started.err}`);
  t.equal(await answer('127.30.0.1', 'www'), '127.30.0.2', 'serving when run returns');
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  t.match(fs.readFileSync(pidFile, 'utf8'), /^\d+$/, 'aardvark.pid: the pid, no newline');
  t.equal(procStat(pid)![3], String(pid), 'the server leads its own session (setsid)');

  const again = await cnmDns(dir, 'run');
  t.not(again.code, 0, 'a second server on the same gateways fails');
  t.match(again.err, /Error starting server: cannot listen on 127\.30\.0\.1:53/, 'and says why');
  t.equal(fs.readFileSync(pidFile, 'utf8'), String(pid), 'and leaves the running server\'s pid file alone');

  fs.writeFileSync(path.join(dir, 'n2'), '127.30.1.1\nbb 127.30.1.2  db\n');
  process.kill(pid, 'SIGHUP');
  const reloaded = await until(async () => (await answer('127.30.1.1', 'db', '127.30.1.2')) === '127.30.1.2', 5000, 'the new network to answer');
  t.pass(`a new network after SIGHUP (answered after ${reloaded.ms} ms)`);

  fs.rmSync(path.join(dir, 'n1'));
  fs.rmSync(path.join(dir, 'n2'));
  process.kill(pid, 'SIGHUP');
  await until(async () => !isLiveProcess(pid), 5000, 'the server to exit');
  t.notOk(fs.existsSync(pidFile), 'no network left: exited and removed its pid file');
});

t.test('a SIGHUP as soon as aardvark.pid appears reloads instead of killing the server', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnm-dns-daemon-'));
  t.teardown(() => {
    killServersOf(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const pidFile = path.join(dir, 'aardvark.pid');
  fs.writeFileSync(path.join(dir, 'n1'), '127.30.0.1\naa 127.30.0.2  web\n');
  const starting = cnmDns(dir, 'run');
  // As a second netavark would: signal the pid as soon as the file names it (Node's default for
  // SIGHUP is to exit: the file must not name the server before it handles the signal).
  const { value: pid } = await until(async () => Number(fs.readFileSync(pidFile, { encoding: 'utf8', flag: 'a+' }) || 0) || false, 10_000, 'aardvark.pid');
  fs.writeFileSync(path.join(dir, 'n1'), '127.30.0.1\naa 127.30.0.2  web\ncc 127.30.0.3  late\n');
  process.kill(pid, 'SIGHUP');
  t.equal((await starting).code, 0, 'run still succeeds');
  const late = await until(async () => (await answer('127.30.0.1', 'late')) === '127.30.0.3', 5000, 'the reload after start-up');
  t.ok(late.value, 'the change signalled during start-up is served');
  // Its directory removed altogether: nothing left to serve either.
  fs.rmSync(dir, { recursive: true });
  process.kill(pid, 'SIGHUP');
  await until(async () => !isLiveProcess(pid), 5000, 'the server to exit');
  t.pass('the configuration directory gone: exited');
});

t.test('start-up errors reach the caller of run', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnm-dns-daemon-'));
  t.teardown(() => {
    killServersOf(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const empty = await cnmDns(dir, 'run');
  t.equal(empty.code, 1);
  t.match(empty.err, /no network configuration in .*: nothing to serve/);
  fs.writeFileSync(path.join(dir, 'n1'), '127.30.9.1,nope\n');
  t.match((await cnmDns(dir, 'run')).err, /n1 line 1: .* is not "gw4\[,gw6\]\[ dns1,dns2\]"/, 'a bad file, named');
  fs.writeFileSync(path.join(dir, 'n1'), '10.254.254.254\n');
  t.match((await cnmDns(dir, 'run')).err, /none of the gateway addresses \(10\.254\.254\.254\) is on this host/);
  t.match((await cnmDns(path.join(dir, 'missing'), 'run')).err, /config directory .*missing must exist and be a directory/);
  t.notOk(fs.existsSync(path.join(dir, 'aardvark.pid')), 'no pid file left behind');
});
