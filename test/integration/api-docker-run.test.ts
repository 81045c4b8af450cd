/**
 * The docker CLI's everyday commands against cnmd, with Debian's 20.10 client and the machine's
 * newer one: run (attached, -d, --rm, -i, -w, -P), a program that does not exist (127, nothing
 * left behind), exec (exit codes, -i with stdin piped, -it through a pty made by `script`), logs
 * (-f, --tail, -t), events (filters, since/until), top and port. The images the CLI names are
 * placeholders: a sandbox runs the host program after them.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { runClient, type ClientRun as Run } from '../helpers/client-process';
import { Lab, until } from '../helpers/lab';
import { dockerClients, type DockerClient } from './api-clients';

/** The client with stdin (a string, or nothing), a private config and a deadline. */
function dockerWith(client: DockerClient, lab: Lab, args: string[], opts: { input?: string; timeoutMs?: number; wrapInPty?: boolean } = {}): Promise<Run> {
  const config = path.join(lab.dir, 'docker-config');
  fs.mkdirSync(config, { recursive: true });
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('DOCKER_')) env[k] = v;
  env.DOCKER_HOST = `unix://${lab.socket}`;
  env.DOCKER_CONFIG = config;
  return runClient([client.bin, ...args], { ...opts, env });
}

async function sandboxCount(lab: Lab): Promise<number> {
  return ((await lab.api('GET', '/containers/json?all=1')).body as unknown[]).length;
}

const { clients, missing } = dockerClients();
for (const why of missing) t.fail(why);

for (const client of clients) {
  t.test(client.label, async (t) => {
    const lab = await Lab.start();
    t.teardown(() => lab.close());
    const d = (args: string[], opts?: Parameters<typeof dockerWith>[3]): Promise<Run> => dockerWith(client, lab, args, opts);

    await t.test('run -d, and run attached: stdout and stderr apart, the exit code', async (t) => {
      const detached = await d(['run', '-d', 'busybox', 'true']);
      t.equal(detached.code, 0, detached.err);
      t.match(detached.out, /^[0-9a-f]{64}\n$/, 'NetworkMode "default" is the bridge: no image lookup');
      t.notMatch(detached.err, /Unable to find image/);
      const attached = await d(['run', '--name', 'att', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
      t.equal(attached.code, 3, 'the program\'s exit code');
      t.equal(attached.out, 'out\n');
      t.equal(attached.err, 'err\n');
      const state = (await lab.api('GET', '/containers/att/json')).body as { State: { Status: string; ExitCode: number } };
      t.same([state.State.Status, state.State.ExitCode], ['exited', 3]);
    });

    await t.test('run --rm removes the sandbox; the program runs in / unless -w', async (t) => {
      const before = await sandboxCount(lab);
      const r = await d(['run', '--rm', 'busybox', 'pwd']);
      t.same([r.code, r.out], [0, '/\n'], r.err);
      const w = await d(['run', '--rm', '-w', '/tmp', 'busybox', 'pwd']);
      t.same([w.code, w.out], [0, '/tmp\n'], w.err);
      t.equal(await sandboxCount(lab), before, 'both sandboxes are gone');
      const bad = await d(['run', '--rm', '-w', '/nonexistent-dir', 'busybox', 'pwd']);
      t.equal(bad.code, 125);
      t.match(bad.err, /the working directory '\/nonexistent-dir' is not a directory on this host/);
    });

    await t.test('run -i: stdin piped to the program', async (t) => {
      const r = await d(['run', '-i', '--rm', 'busybox', 'sh', '-c', 'cat; echo done'], { input: 'line one\nline two\n' });
      t.same([r.code, r.out], [0, 'line one\nline two\ndone\n'], r.err);
    });

    await t.test('run of a program that does not exist: 127 and Docker\'s text, nothing left behind', async (t) => {
      const before = await sandboxCount(lab);
      for (const args of [['run', '-d', 'busybox', 'nosuchprog'], ['run', 'busybox', 'nosuchprog'], ['run', '--rm', 'busybox', '/no/such/path']]) {
        const r = await d(args);
        t.equal(r.code, 127, args.join(' '));
        t.match(r.err, args.includes('/no/such/path') ? /exec: "\/no\/such\/path": stat \/no\/such\/path: no such file or directory/ : /docker: Error response from daemon: .*exec: "nosuchprog": executable file not found in \$PATH/);
      }
      const notExecutable = await d(['run', '-d', 'busybox', '/etc']);
      t.equal(notExecutable.code, 126);
      const unknownNet = await d(['run', '-d', '--network', 'nosuchnet', 'busybox', 'true']);
      t.equal(unknownNet.code, 125);
      t.match(unknownNet.err, /network nosuchnet not found/);
      t.notMatch(unknownNet.err, /Unable to find image/, 'a missing network is not taken for a missing image');
      t.equal(await sandboxCount(lab), before, 'no sandbox (and so no address) left');
    });

    await t.test('exec: output, exit codes, -i, -d, a missing program', async (t) => {
      t.equal((await d(['run', '-d', '--name', 'web', 'busybox', 'sh', '-c', 'while true; do echo tick; sleep 0.2; done'])).code, 0);
      const r = await d(['exec', 'web', 'sh', '-c', 'echo out; echo err >&2; exit 7']);
      t.same([r.code, r.out, r.err], [7, 'out\n', 'err\n']);
      const i = await d(['exec', '-i', 'web', 'sh', '-c', 'tr a-z A-Z'], { input: 'piped in\n' });
      t.same([i.code, i.out], [0, 'PIPED IN\n'], i.err);
      const missingProg = await d(['exec', 'web', 'nosuchprog']);
      t.equal(missingProg.code, 127);
      t.match(missingProg.out + missingProg.err, /exec: "nosuchprog": executable file not found in \$PATH/);
      const marker = path.join(lab.dir, `exec-d-${client.major}`);
      t.equal((await d(['exec', '-d', 'web', 'touch', marker])).code, 0);
      await until(async () => fs.existsSync(marker), 5000, 'exec -d ran');
      const stopped = await d(['exec', 'att', 'true']);
      t.equal(stopped.code, client.major < 23 ? 1 : 1);
      t.match(stopped.err, /is not running/);
    });

    await t.test('exec -it: a terminal of the client\'s size, raw output, the exit code', async (t) => {
      const r = await d(['exec', '-it', 'web', 'sh', '-c', 'tty; stty size; exit 4'], { wrapInPty: true });
      t.equal(r.code, 4, r.err);
      t.match(r.out, /\/dev\/pts\/\d+\r\n33 99\r\n/, 'a pty of 33x99 (the resize reached it)');
    });

    await t.test('run -it: attached with a terminal', async (t) => {
      const r = await d(['run', '-it', '--rm', 'busybox', 'sh', '-c', 'tty; stty size; exit 2'], { wrapInPty: true });
      t.equal(r.code, 2, r.err);
      t.match(r.out, /\/dev\/pts\/\d+\r\n33 99\r\n/);
    });

    await t.test('logs: all, --tail, -t, and -f until the program ends', async (t) => {
      t.equal((await d(['run', '-d', '--name', 'talk', 'busybox', 'sh', '-c', 'echo one; echo two >&2; sleep 1; echo three'])).code, 0);
      const followed = await d(['logs', '-f', 'talk'], { timeoutMs: 10000 });
      t.same([followed.code, followed.out, followed.err], [0, 'one\nthree\n', 'two\n'], 'follow ends when the program does');
      const tail = await d(['logs', '--tail', '1', 'talk']);
      t.equal(tail.out, 'three\n');
      const stamped = await d(['logs', '-t', 'talk']);
      t.match(stamped.out, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z one\n\S+ three\n$/);
      const live = await d(['logs', '--tail', '2', 'web']);
      t.equal(live.out, 'tick\ntick\n');
    });

    await t.test('events: filters, since/until, streaming', async (t) => {
      const since = String(Math.floor(Date.now() / 1000) - 1);
      t.equal((await d(['run', '-d', '--name', 'ev1', '--label', 'team=a', 'busybox', 'true'])).code, 0);
      await until(async () => ((await lab.api('GET', '/containers/ev1/json')).body as { State: { Status: string } }).State.Status === 'exited', 5000);
      const now = String(Math.ceil(Date.now() / 1000) + 1);
      const byContainer = await d(['events', '--since', since, '--until', now, '--filter', 'container=ev1', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}']);
      t.equal(byContainer.out, 'container create ev1\ncontainer start ev1\ncontainer die ev1\n', byContainer.err);
      const network = await d(['events', '--since', since, '--until', now, '--filter', 'type=network', '--filter', 'event=connect', '--format', '{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.container}}']);
      const ev1Id = ((await lab.api('GET', '/containers/ev1/json')).body as { Id: string }).Id;
      const connects = network.out.split('\n').filter(Boolean);
      t.ok(connects.includes(`connect bridge ${ev1Id}`), network.out);
      t.ok(connects.every((l) => /^connect bridge [0-9a-f]{64}$/.test(l)), 'network connect events only');
      const byLabel = await d(['events', '--since', since, '--until', now, '--filter', 'label=team=a', '--filter', 'event=die', '--format', '{{.Action}} {{.Actor.Attributes.exitCode}}']);
      t.equal(byLabel.out, 'die 0\n');
      // Streaming: a client that follows sees a start as it happens.
      const config = path.join(lab.dir, 'docker-config');
      const follower = spawn(client.bin, ['events', '--filter', 'event=start', '--format', '{{.Actor.Attributes.name}}'], { env: { ...process.env, DOCKER_HOST: `unix://${lab.socket}`, DOCKER_CONFIG: config } });
      let seen = '';
      follower.stdout.on('data', (b: Buffer) => (seen += b.toString()));
      t.teardown(() => follower.kill('SIGKILL'));
      // The client subscribes at some moment we cannot see: start sandboxes until it reports one.
      let started = 0;
      await until(async () => {
        if (seen) return true;
        t.equal((await d(['run', '-d', '--name', `ev2-${started++}`, 'busybox', 'true'])).code, 0);
        await new Promise((r) => setTimeout(r, 200));
        return seen !== '';
      }, 15000, 'the followed start event');
      await new Promise((r) => setTimeout(r, 300));
      const lines = seen.trim().split('\n');
      t.ok(lines.length >= 1 && lines.every((l) => /^ev2-\d+$/.test(l)), `only start events, of sandboxes started while following: ${JSON.stringify(seen)}`);
      t.same(lines, [...lines].sort((a, b) => Number(a.slice(4)) - Number(b.slice(4))), 'in the order they happened');
    });

    await t.test('top and port (-P with --expose)', async (t) => {
      const top = await d(['top', 'web']);
      t.equal(top.code, 0, top.err);
      const [head, ...rows] = top.out.trim().split('\n');
      t.match(head, /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/);
      t.ok(rows.some((r) => r.endsWith('sh -c while true; do echo tick; sleep 0.2; done')), 'the program, not its supervisor');
      t.notOk(rows.some((r) => /cnm-exec/.test(r)));
      const custom = await d(['top', 'web', '-o', 'pid,comm']);
      t.match(custom.out, /^PID\s+COMMAND\n(\d+\s+\S+\n)+$/);
      const stopped = await d(['top', 'att']);
      t.not(stopped.code, 0);
      t.match(stopped.err, /is not running/);
      t.equal((await d(['run', '-d', '-P', '--expose', '80', '--expose', '53/udp', '-p', '8089:81', '--name', 'pp', 'busybox', 'sleep', '60'])).code, 0);
      const port = await d(['port', 'pp']);
      const lines = port.out.trim().split('\n').sort();
      t.equal(lines.length, 3, port.out);
      t.match(lines[0], /^53\/udp -> 0\.0\.0\.0:\d+$/);
      t.match(lines[1], /^80\/tcp -> 0\.0\.0\.0:\d+$/);
      t.equal(lines[2], '81/tcp -> 0.0.0.0:8089', '-p keeps its own binding');
    });

    await t.test('create + start -a, attach, restart, container prune', async (t) => {
      t.match((await d(['create', '--name', 'cr', 'busybox', 'sh', '-c', 'echo from start; exit 2'])).out, /^[0-9a-f]{64}\n$/);
      const started = await d(['start', '-a', 'cr']);
      t.same([started.code, started.out], [2, 'from start\n'], started.err);
      t.equal((await d(['run', '-d', '--name', 'late', 'busybox', 'sh', '-c', 'sleep 1; echo later; exit 4'])).code, 0);
      const attached = await d(['attach', 'late']);
      t.same([attached.code, attached.out], [4, 'later\n'], 'attach to a running program: its output from now on and its exit code');
      const pidBefore = ((await lab.api('GET', '/containers/web/json')).body as { State: { Pid: number } }).State.Pid;
      t.equal((await d(['restart', '-t', '1', 'web'])).code, 0);
      const after = ((await lab.api('GET', '/containers/web/json')).body as { State: { Pid: number; Running: boolean } }).State;
      t.ok(after.Running && after.Pid !== pidBefore, 'running again, as a new process');
      const pruned = await d(['container', 'prune', '-f']);
      t.equal(pruned.code, 0, pruned.err);
      t.match(pruned.out, /Deleted Containers:\n([0-9a-f]{64}\n)+/);
      const left = (await lab.api('GET', '/containers/json?all=1')).body as { State: string }[];
      t.ok(left.length > 0 && left.every((c) => c.State === 'running'), 'only running sandboxes are left');
    });
  });
}
