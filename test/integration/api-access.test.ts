/**
 * Who reaches the API: the Unix socket is 0660, root's and the --group's, so a user in that group
 * gets in and anyone else is refused by the kernel; TCP is served only when asked for, and only
 * on loopback; cnmd refuses any other listen address before it starts anything.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { createNetns, deleteNetns } from '../../src/os/native';
import { Lab } from '../helpers/lab';
import { dockerClients } from './api-clients';

const REPO = path.resolve(__dirname, '..', '..', '..');
const NOBODY = 65534;
const NOGROUP = Number(/^nogroup:[^:]*:(\d+):/m.exec(fs.readFileSync('/etc/group', 'utf8'))?.[1] ?? NaN);

/** GET /_ping over the socket as another user: "200" or the connect error's code. */
function pingAs(socket: string, uid: number, gid: number): Promise<string> {
  const script = `require('http').get({ socketPath: ${JSON.stringify(socket)}, path: '/_ping' }, (r) => { console.log(r.statusCode); r.resume(); }).on('error', (e) => console.log(e.code));`;
  return new Promise((resolve, reject) => {
    // Without tap's process-info hook, which cannot write its record as another user. tap wraps
    // spawn() and puts the hook back into NODE_OPTIONS, so `env -u` takes it out in the child.
    const child = spawn('env', ['-u', 'NODE_OPTIONS', process.execPath, '-e', script], { uid, gid, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(out.trim()));
  });
}

/** Lets other users walk to the socket (the lab's temp dir is 0700); the socket's own mode decides. */
function openPath(lab: Lab): void {
  fs.chmodSync(lab.dir, 0o711);
  fs.chmodSync(lab.execRoot, 0o711);
}

/** cnmd with the given flags, in a scratch namespace and directories should it ever start. */
function cnmd(scratch: string, args: string[]): Promise<{ code: number; err: string }> {
  const dirs = ['--root', path.join(scratch, 'root'), '--exec-root', path.join(scratch, 'run'), '--resolv-conf', path.join(scratch, 'resolv.conf')];
  return new Promise((resolve) => {
    execFile('nsenter', [`--net=${path.join(scratch, 'ns')}`, process.execPath, path.join(REPO, 'bin', 'cnmd'), ...dirs, ...args], { timeout: 10000 }, (err, _out, errText) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, err: errText });
    });
  });
}

t.test('the Unix socket: 0660, root and the --group', async (t) => {
  t.ok(Number.isInteger(NOGROUP), 'the machine has a nogroup group');
  const lab = await Lab.start({ daemonArgs: ['--group', 'nogroup'] });
  t.teardown(() => lab.close());
  openPath(lab);
  const st = fs.statSync(lab.socket);
  t.ok(st.isSocket());
  t.equal((st.mode & 0o777).toString(8), '660');
  t.equal(st.uid, 0);
  t.equal(st.gid, NOGROUP);
  t.equal(await pingAs(lab.socket, NOBODY, NOGROUP), '200', 'a member of the group gets in');
  t.equal(await pingAs(lab.socket, NOBODY, NOBODY - 1), 'EACCES', 'anyone else is refused');
});

t.test('without --group: root only', async (t) => {
  const lab = await Lab.start();
  t.teardown(() => lab.close());
  openPath(lab);
  const st = fs.statSync(lab.socket);
  t.equal((st.mode & 0o777).toString(8), '660');
  t.same([st.uid, st.gid], [0, 0]);
  t.equal(await pingAs(lab.socket, NOBODY, NOGROUP), 'EACCES');
  t.equal((await lab.api('GET', '/_ping')).status, 200, 'root gets in');
  t.equal(await lab.inHost(['ss', '-H', '-ltn']), '', 'no TCP listener unless asked for');
});

t.test('--tcp 127.0.0.1:PORT: loopback only, and the docker CLI works over it', async (t) => {
  const port = 23750;
  const lab = await Lab.start({ daemonArgs: ['--tcp', `127.0.0.1:${port}`] });
  t.teardown(() => lab.close());
  const listening = (await lab.inHost(['ss', '-H', '-ltn'])).trim().split('\n');
  t.equal(listening.length, 1, listening.join('\n'));
  t.match(listening[0], new RegExp(`\\s127\\.0\\.0\\.1:${port}\\s`), 'bound to loopback alone');
  const ping = await lab.inHost(['curl', '-s', '-i', `http://127.0.0.1:${port}/_ping`]);
  t.match(ping, /^HTTP\/1\.1 200 OK\r\n/);
  t.match(ping, /\r\nApi-Version: 1\.41\r\n/i);
  const [client] = dockerClients().clients;
  const config = path.join(lab.dir, 'docker-config');
  fs.mkdirSync(config, { recursive: true });
  const out = await lab.inHost([client!.bin, '--config', config, '-H', `tcp://127.0.0.1:${port}`, 'network', 'ls', '--format', '{{.Name}}']);
  t.equal(out, 'bridge\nhost\nnone\n');
});

t.test('cnmd refuses non-loopback listen addresses and unknown groups before starting', async (t) => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'cnmt-access-'));
  createNetns(path.join(scratch, 'ns'));
  t.teardown(() => {
    deleteNetns(path.join(scratch, 'ns'));
    fs.rmSync(scratch, { recursive: true, force: true });
  });
  const refused: [string[], RegExp][] = [
    [['--tcp', '0.0.0.0:2375'], /--tcp 0\.0\.0\.0:2375: only a loopback address and a port are allowed until TLS exists/],
    [['--tcp', '10.0.0.1:2375'], /only a loopback address/],
    [['--tcp', '[::]:2375'], /only a loopback address/],
    [['--tcp', '127.0.0.1:99999'], /only a loopback address and a port/],
    [['--tcp', '127.0.0.1'], /only a loopback address and a port/],
    [['--tcp', '127.0.0.300:2375'], /only a loopback address/],
    [['--group', 'nosuchgroup'], /--group nosuchgroup: no such group in \/etc\/group/],
  ];
  for (const [args, message] of refused) {
    const r = await cnmd(scratch, args);
    t.equal(r.code, 125, args.join(' '));
    t.match(r.err, message, args.join(' '));
  }
  t.notOk(fs.existsSync(path.join(scratch, 'run')), 'nothing was started');
});
