/**
 * cnm's own CLI on the Engine API only: run (attached, --rm, -i, -it, -it refused without a terminal, -w, -P), a program that
 * does not exist (127, nothing left), exec (codes, -i, -it), logs -f, top, version, ps -n, and
 * exec/logs over --tcp from another network namespace (no setns in the client). Then the
 * --format templates of ps, network ls and inspect, printed by cnm and by the real docker CLIs
 * against the same cnmd, compared.
 */
import path from 'node:path';
import t from 'tap';
import { runClient, type ClientOptions, type ClientRun as Run } from '../helpers/client-process';
import { Lab, until } from '../helpers/lab';
import { docker, dockerClients } from './api-clients';

const REPO = path.resolve(__dirname, '..', '..', '..');
const CNM = path.join(REPO, 'bin', 'cnm');

/** bin/cnm as its own process (see runClient). */
function cnm(host: string, args: string[], opts: ClientOptions = {}): Promise<Run> {
  return runClient([process.execPath, CNM, '-H', host, ...args], opts);
}

const TCP_PORT = 20000 + Math.floor(Math.random() * 20000);

t.test('cnm run, exec, logs, top, version, ps -n', async (t) => {
  const lab = await Lab.start({ daemonArgs: ['--tcp', `127.0.0.1:${TCP_PORT}`] });
  t.teardown(() => lab.close());
  const host = `unix://${lab.socket}`;
  const c = (args: string[], opts?: Parameters<typeof cnm>[2]): Promise<Run> => cnm(host, args, opts);
  const count = async (): Promise<number> => ((await lab.api('GET', '/containers/json?all=1')).body as unknown[]).length;

  await t.test('run attached: output apart, exit code; --rm and -w', async (t) => {
    const r = await c(['run', '--name', 'a1', 'sh', '-c', 'echo out; echo err >&2; exit 5']);
    t.same([r.code, r.out, r.err], [5, 'out\n', 'err\n']);
    const before = await count();
    const w = await c(['run', '--rm', '-w', '/tmp', 'pwd']);
    t.same([w.code, w.out], [0, '/tmp\n'], w.err);
    const root = await c(['run', '--rm', 'pwd']);
    t.equal(root.out, '/\n', 'the program runs in /, not in the daemon\'s directory');
    t.equal(await count(), before, '--rm left nothing');
  });

  await t.test('run -i and run -it', async (t) => {
    const i = await c(['run', '-i', '--rm', 'sh', '-c', 'tr a-z A-Z'], { input: 'quiet\n' });
    t.same([i.code, i.out], [0, 'QUIET\n'], i.err);
    const it = await c(['run', '-it', '--rm', 'sh', '-c', 'tty; stty size; exit 3'], { wrapInPty: true });
    t.equal(it.code, 3, it.err);
    t.match(it.out, /\/dev\/pts\/\d+\r\n33 99\r\n/);
  });

  await t.test('stop -t, restart, kill -s', async (t) => {
    t.equal((await c(['run', '-d', '--name', 'lc', 'sleep', '300'])).code, 0);
    const state = async (): Promise<string> => (await c(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}} {{.State.Pid}}', 'lc'])).out.trim();
    const pid = (await state()).split(' ')[2];
    const restarted = await c(['restart', '-t', '1', 'lc']);
    t.same([restarted.code, restarted.out], [0, 'lc\n'], restarted.err);
    const after = (await state()).split(' ');
    t.equal(after[0], 'running');
    t.not(after[2], pid, 'a new program');
    const killed = await c(['kill', '-s', 'TERM', 'lc']);
    t.same([killed.code, killed.out], [0, 'lc\n'], killed.err);
    await until(async () => (await state()).startsWith('exited'), 5000, 'the program ended');
    t.equal(await state(), 'exited 143 0', 'SIGTERM: 128 + 15');
    const again = await c(['kill', 'lc']);
    t.same([again.code, again.err], [1, 'Error response from daemon: Cannot kill container: lc: Container ' + (await c(['inspect', '-f', '{{.Id}}', 'lc'])).out.trim() + ' is not running\n']);
    t.equal((await c(['start', 'lc'])).code, 0);
    t.equal((await c(['stop', '-t', '0', 'lc'])).code, 0);
    t.match(await state(), /^exited /);
    t.equal((await c(['rm', 'lc'])).code, 0);
  });

  await t.test('-it with stdin not a terminal is refused as docker does, before anything is made', async (t) => {
    const before = await count();
    const run = await c(['run', '-it', '--rm', 'sh', '-c', 'exit 3'], { input: 'exit\n' });
    t.same([run.code, run.err], [1, 'the input device is not a TTY\n'], 'run -it');
    t.equal(await count(), before, 'no sandbox made');
    const detached = await c(['run', '-dit', '--name', 'dit', 'sh', '-c', 'sleep 30'], { input: '' });
    t.equal(detached.code, 0, `run -dit needs no terminal: ${detached.err}`);
    const exec = await c(['exec', '-it', 'dit', 'true'], { input: '' });
    t.same([exec.code, exec.err], [1, 'the input device is not a TTY\n'], 'exec -it');
    t.equal((await c(['exec', '-i', 'dit', 'cat'], { input: 'piped\n' })).out, 'piped\n', 'exec -i alone takes the pipe');
    t.equal((await c(['rm', '-f', 'dit'])).code, 0);
  });

  await t.test('a run that fails leaves nothing behind, with Docker\'s exit codes', async (t) => {
    const before = await count();
    for (const args of [['run', '-d', 'nosuchprog'], ['run', 'nosuchprog'], ['run', '--rm', '-i', 'nosuchprog']]) {
      const r = await c(args);
      t.equal(r.code, 127, args.join(' '));
      t.match(r.err, /cnm: Error response from daemon: unable to start container process: exec: "nosuchprog": executable file not found in \$PATH\./);
    }
    const dir = await c(['run', '-d', '/etc']);
    t.equal(dir.code, 126);
    const net = await c(['run', '-d', '--network', 'nosuchnet', 'true']);
    t.equal(net.code, 125);
    t.match(net.err, /network nosuchnet not found/);
    t.equal(await count(), before);
  });

  await t.test('exec: codes, -i, -it, -d', async (t) => {
    t.equal((await c(['run', '-d', '--name', 'web', 'sh', '-c', 'while true; do echo tick; sleep 0.2; done'])).code, 0);
    const r = await c(['exec', 'web', 'sh', '-c', 'echo out; echo err >&2; exit 9']);
    t.same([r.code, r.out, r.err], [9, 'out\n', 'err\n']);
    const i = await c(['exec', '-i', 'web', 'cat'], { input: 'through stdin\n' });
    t.same([i.code, i.out], [0, 'through stdin\n'], i.err);
    const it = await c(['exec', '-it', 'web', 'sh', '-c', 'tty; stty size; exit 6'], { wrapInPty: true });
    t.equal(it.code, 6, it.err);
    t.match(it.out, /\/dev\/pts\/\d+\r\n33 99\r\n/);
    const missing = await c(['exec', 'web', 'nosuchprog']);
    t.equal(missing.code, 127);
    t.match(missing.err, /exec: "nosuchprog": executable file not found in \$PATH/);
    const stopped = await c(['exec', 'a1', 'true']);
    t.equal(stopped.code, 1);
    t.match(stopped.err, /is not running/);
  });

  await t.test('over --tcp from another network namespace: exec and logs', async (t) => {
    // The CLI runs in the lab's host namespace, where cnmd's loopback TCP listener is; nothing of
    // the sandbox is reachable from the client's side but the API.
    const tcp = `tcp://127.0.0.1:${TCP_PORT}`;
    const r = await cnm(tcp, ['exec', 'web', 'sh', '-c', 'hostname; exit 4'], { netns: lab.hostNs });
    t.equal(r.code, 4, r.err);
    t.match(r.out, /^[0-9a-f]{12}\n$/, 'the sandbox\'s hostname');
    const logs = await cnm(tcp, ['logs', '--tail', '1', 'web'], { netns: lab.hostNs });
    t.same([logs.code, logs.out], [0, 'tick\n'], logs.err);
  });

  await t.test('logs -f ends with the program; --tail; -t', async (t) => {
    t.equal((await c(['run', '-d', '--name', 'talk', 'sh', '-c', 'echo one; echo two >&2; sleep 1; echo three'])).code, 0);
    const f = await c(['logs', '-f', 'talk'], { timeoutMs: 10000 });
    t.same([f.code, f.out, f.err], [0, 'one\nthree\n', 'two\n']);
    t.equal((await c(['logs', '-n', '1', 'talk'])).out, 'three\n');
    t.match((await c(['logs', '-t', '--tail', '1', 'talk'])).out, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z three\n$/);
    const none = await c(['logs', 'nosuch']);
    t.equal(none.code, 1);
    t.match(none.err, /No such container: nosuch|not found/);
  });

  await t.test('across a daemon crash: the program runs on, its output and exit status are kept', async (t) => {
    t.equal((await c(['run', '-d', '--name', 'survivor', 'sh', '-c', 'echo before; sleep 2; echo after; exit 7'])).code, 0);
    await lab.stopDaemon('SIGKILL');
    await new Promise((r) => setTimeout(r, 3000));
    await lab.startDaemon();
    const { value } = await until(async () => {
      const s = ((await lab.api('GET', '/containers/survivor/json')).body as { State: { Status: string; ExitCode: number } }).State;
      return s.Status === 'exited' && s;
    }, 10000, 'survivor marked exited');
    t.equal(value.ExitCode, 7, 'the status its supervisor logged, not an unknown 255');
    t.equal((await c(['logs', 'survivor'])).out, 'before\nafter\n', 'what it printed while cnmd was down is in its log');
  });

  await t.test('bad requests to the new paths: Docker\'s status and a message that says what was wrong', async (t) => {
    const cases: [string, string, unknown, number, RegExp][] = [
      ['GET', '/containers/web/logs', undefined, 400, /you must choose at least one stream/],
      ['GET', '/containers/web/logs?stdout=1&tail=lots', undefined, 400, /invalid value for "tail": "lots"/],
      ['GET', '/containers/nosuch/logs?stdout=1', undefined, 404, /No such container: nosuch/],
      ['POST', '/containers/web/wait?condition=sometime', undefined, 400, /invalid condition: "sometime"/],
      ['POST', '/containers/web/resize?h=x&w=80', undefined, 400, /invalid value for height/],
      ['GET', '/containers/a1/top', undefined, 409, /is not running/],
      ['POST', '/containers/a1/exec', { Cmd: ['true'] }, 409, /is not running/],
      ['POST', '/containers/web/exec', { Cmd: [] }, 400, /No exec command specified/],
      ['POST', '/containers/web/exec', { Cmd: 'true' }, 400, /body\.Cmd must be an array of strings/],
      ['POST', '/containers/web/exec', { Cmd: ['true'], User: 'nobody' }, 400, /--user is not supported/],
      ['POST', '/exec/0123/start', {}, 404, /No such exec instance: 0123/],
      ['GET', '/exec/0123/json', undefined, 404, /No such exec instance/],
      ['GET', '/events?filters={"colour":["red"]}', undefined, 400, /Invalid filter 'colour'/],
      ['GET', '/events?since=yesterday', undefined, 400, /invalid value for since: yesterday/],
      ['POST', '/containers/create', { Image: 'busybox', Cmd: [] }, 400, /no command to run: cnm has no images/],
      ['POST', '/containers/create', { Cmd: ['true'], WorkingDir: 'relative' }, 400, /needs to be an absolute path/],
      ['GET', '/containers/web/stats', undefined, 404, /^page not found$/],
    ];
    const before = await count();
    for (const [method, url, body, status, message] of cases) {
      const r = await lab.api(method, url, body);
      t.equal(r.status, status, `${method} ${url}: ${r.raw}`);
      t.match((r.body as { message: string }).message, message);
    }
    t.equal(await count(), before, 'no refused create made anything');
  });

  await t.test('top, version, ps -n, -P', async (t) => {
    const top = await c(['top', 'web']);
    t.match(top.out, /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD\n/);
    t.match(top.out, /sh -c while true; do echo tick; sleep 0\.2; done/);
    const v = await c(['version']);
    t.match(v.out, /^Client:\n Version: +\d+\.\d+\.\d+\n API version: +1\.41\n[\s\S]*\n\nServer: cnm\n Engine:\n  Version: +\d+\.\d+\.\d+\n  API version: +1\.41 \(minimum version 1\.12\)\n/);
    t.equal((await c(['ps', '-n', '2', '--format', '{{.Names}}'])).out, 'survivor\ntalk\n', 'the two last created, whatever their state');
    t.equal((await c(['ps', '-l', '--format', '{{.Names}}'])).out, 'survivor\n');
    t.equal((await c(['run', '-d', '-P', '--expose', '80', '--expose', '7000-7001/udp', '--name', 'pp', 'sleep', '60'])).code, 0);
    const port = (await c(['port', 'pp'])).out.trim().split('\n');
    t.equal(port.length, 3);
    t.ok(port.every((l) => /^(80\/tcp|700[01]\/udp) -> 0\.0\.0\.0:\d+$/.test(l)), port.join('; '));
  });
});

t.test('--format of ps, network ls and inspect: cnm prints what the docker CLIs print', async (t) => {
  const lab = await Lab.start();
  t.teardown(() => lab.close());
  t.equal((await lab.cli('network', 'create', '--subnet', '10.78.0.0/24', '--label', 'team=blue', 'fmtnet')).code, 0);
  t.equal((await lab.cli('run', '-d', '--name', 'fa', '--network', 'fmtnet', '-p', '8086:80', '-p', '127.0.0.1:5353:53/udp', '-l', 'x=y', 'sleep', '60')).code, 0);
  t.equal((await lab.cli('run', '-d', '--name', 'fb', '-w', '/tmp', 'true')).code, 0);
  const { clients, missing } = dockerClients();
  for (const why of missing) t.fail(why);
  // Fields that do not move with the clock (RunningFor and Status do, between two runs).
  const cases: [string, string[]][] = [
    ['ps', ['ps', '-a', '--format', '{{.ID}} {{.Names}} {{.Image}} {{.Command}} {{.State}} {{.CreatedAt}}']],
    ['ps', ['ps', '-a', '--format', '{{.Ports}}|{{.Networks}}|{{.Labels}}|{{.Label "x"}}|{{.Mounts}}|{{.Size}}|{{.LocalVolumes}}']],
    ['ps', ['ps', '-a', '--format', 'table {{.Names}}\t{{.Ports}}\t{{.Networks}}']],
    ['ps', ['ps', '-a', '--no-trunc', '--format', '{{.ID}} {{.Command}}']],
    ['ps', ['ps', '-q']],
    ['network ls', ['network', 'ls', '--format', '{{.ID}} {{.Name}} {{.Driver}} {{.Scope}} {{.IPv6}} {{.Internal}} {{.Labels}} {{.Label "team"}} {{.CreatedAt}}']],
    ['network ls', ['network', 'ls', '--format', 'table {{.Name}}\t{{.Driver}}']],
    ['network ls', ['network', 'ls', '--no-trunc', '--format', '{{.ID}}']],
    ['inspect', ['inspect', '--format', '{{.Name}} {{.State.Status}} {{.Config.Cmd}} {{.Config.WorkingDir}} {{json .NetworkSettings.Ports}} {{.HostConfig.NetworkMode}}', 'fa', 'fb']],
    ['inspect', ['inspect', '--format', '{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}}/{{$v.IPPrefixLen}} {{$v.MacAddress}}{{end}}', 'fa']],
    ['inspect', ['inspect', '--format', '{{.Name}} {{.Driver}} {{json .IPAM.Config}} {{.Labels}} {{len .Containers}}', 'fmtnet']],
    ['inspect', ['inspect', 'fa']],
    ['inspect', ['network', 'inspect', 'fmtnet']],
  ];
  for (const client of clients) {
    for (const [what, args] of cases) {
      const ours = await lab.cli(...args);
      const theirs = await docker(client, lab, args);
      t.equal(theirs.code, 0, `${client.label} ${args.join(' ')}: ${theirs.err}`);
      t.equal(ours.out, theirs.out, `${what}: cnm ${args.join(' ')} prints what ${client.label} prints`);
    }
    // {{json .}} is re-encoded by the client from its own structs: 20.10's match the API's shapes,
    // the newer client's add fields (Platform, IPv4, EnableIPv4...), so only 20.10 is compared.
    if (client.major < 23) {
      for (const args of [['ps', '-a', '--format', '{{json .Names}} {{json .Labels}} {{json .Ports}}'], ['network', 'ls', '--format', '{{json .}}'], ['network', 'inspect', '--format', '{{json .}}', 'fmtnet']]) {
        t.equal((await lab.cli(...args)).out, (await docker(client, lab, args)).out, `cnm ${args.join(' ')} prints what ${client.label} prints`);
      }
    }
  }
});
