/**
 * docker exec: POST /containers/{id}/exec makes an instance, POST /exec/{id}/start runs it with
 * the connection hijacked (multiplexed stdout/stderr frames without a tty, raw bytes with one),
 * /exec/{id}/resize sets its terminal size, GET /exec/{id}/json gives its exit code.
 */
import type { Controller } from '../controller/controller';
import { invalid } from '../errors';
import type { ExecInstance, ExecStore } from '../runtime/exec';
import { terminalSize } from './container-io';
import type { EventLog } from './events';
import type { Hijacked, Router } from './http';
import { empty, json } from './http';
import { frame } from './stream-frames';
import { object, optArray, optBool, optString, optStringArray } from './validate';

function consoleSize(o: Record<string, unknown>, where: string): [number, number] {
  const raw = optArray(o, 'ConsoleSize', where);
  if (!raw) return [0, 0];
  if (raw.length !== 2 || !raw.every((n) => typeof n === 'number' && Number.isInteger(n) && n >= 0)) throw invalid(`${where}.ConsoleSize must be [height, width]`);
  return raw as [number, number];
}

function presentExec(inst: ExecInstance): unknown {
  const [entrypoint, ...args] = inst.config.cmd;
  return {
    ID: inst.id,
    Running: inst.running,
    ExitCode: inst.exitCode,
    ProcessConfig: { tty: inst.config.tty, entrypoint, arguments: args, privileged: false, user: '' },
    OpenStdin: inst.config.attachStdin,
    OpenStderr: inst.config.attachStderr,
    OpenStdout: inst.config.attachStdout,
    CanRemove: false,
    ContainerID: inst.sandboxId,
    DetachKeys: '',
    Pid: inst.pid,
  };
}

export function addExecRoutes(router: Router, ctl: Controller, execs: ExecStore, events: EventLog): void {
  router.add('POST', '/containers/{id}/exec', (req) => {
    const s = ctl.sandbox(req.params.id!);
    const body = object(req.body, 'request body');
    const w = 'body';
    if (optString(body, 'User', w)) throw invalid('exec --user is not supported: a sandbox runs host programs as root');
    const inst = execs.create(s, {
      cmd: optStringArray(body, 'Cmd', w) ?? [],
      tty: optBool(body, 'Tty', w) ?? false,
      attachStdin: optBool(body, 'AttachStdin', w) ?? false,
      attachStdout: optBool(body, 'AttachStdout', w) ?? false,
      attachStderr: optBool(body, 'AttachStderr', w) ?? false,
      workingDir: optString(body, 'WorkingDir', w) ?? '',
      env: optStringArray(body, 'Env', w) ?? [],
      consoleSize: consoleSize(body, w),
    });
    events.container(`exec_create: ${inst.config.cmd.join(' ')}`, s, { execID: inst.id });
    return json(201, { Id: inst.id });
  });

  router.add('POST', '/exec/{id}/start', (req) => {
    const inst = execs.get(req.params.id!);
    const body = object(req.body ?? {}, 'request body');
    const detach = optBool(body, 'Detach', 'body') ?? false;
    const size = consoleSize(body, 'body');
    if (size[0] && size[1]) inst.config.consoleSize = size;
    const s = ctl.sandbox(inst.sandboxId);
    const announce = (): void => events.container(`exec_start: ${inst.config.cmd.join(' ')}`, s, { execID: inst.id });
    const reportEnd = (code: number): void => {
      const now = ctl.state.sandboxes.get(s.id);
      if (now) events.container('exec_die', now, { execID: inst.id, exitCode: String(code) });
    };
    if (detach) {
      const io = execs.start(inst, s, true);
      announce();
      void io.done.then(reportEnd);
      return empty(200);
    }
    // Checked now, so a refusal is an HTTP error rather than text in a hijacked stream.
    execs.checkStartable(inst, s);
    return {
      status: 200,
      hijack: async (conn: Hijacked) => {
        const io = execs.start(inst, s, false);
        announce();
        const tty = inst.config.tty;
        io.stdout.on('data', (d: Buffer) => conn.write(tty ? d : frame(1, d)));
        io.stderr?.on('data', (d: Buffer) => conn.write(frame(2, d)));
        if (io.stdin && conn.input) conn.input.pipe(io.stdin);
        else conn.input?.resume();
        const code = await io.done;
        reportEnd(code);
      },
    };
  });

  router.add('POST', '/exec/{id}/resize', (req) => {
    const inst = execs.get(req.params.id!);
    const { rows, cols } = terminalSize(req.query);
    execs.resize(inst, rows, cols);
    return empty(200);
  });

  router.add('GET', '/exec/{id}/json', (req) => json(200, presentExec(execs.get(req.params.id!))));
}
