/**
 * /containers: sandboxes shown where Docker clients look for containers. Their programs' input
 * and output (attach, logs, wait, top) are in container-io.ts, exec in exec.ts.
 */
import os from 'node:os';
import type { Controller } from '../controller/controller';
import type { EndpointRequest } from '../controller/endpoints';
import type { PublishedPortRequest, SandboxRecord } from '../controller/model';
import { sandboxPaths } from '../controller/sandbox-files';
import { CnmError, invalid } from '../errors';
import type { ExecStore } from '../runtime/exec';
import { checkProgram, checkWorkingDir, searchPath } from '../runtime/program';
import { parsePortBindings as parsePublishedPorts } from '../nat';
import type { ProcessRuntime } from '../runtime/processes';
import { labelMatch, parseFilters, regexMatch } from './filters';
import type { EventLog } from './events';
import type { Router } from './http';
import { empty, json } from './http';
import { parseEndpointConfig } from './network-requests';
import { isUp, presentContainer, presentSummary, runsRuntimeProgram } from './present';
import { object, optArray, optBool, optString, optStringArray, optStringMap, queryBool } from './validate';

/**
 * start, stop, kill and restart act on cnm's program: a sandbox a container runtime attached
 * (CNI, Docker hand-off) runs the runtime's, which only that runtime can start or stop.
 */
function ownProgram(s: SandboxRecord, action: string): SandboxRecord {
  if (!runsRuntimeProgram(s)) return s;
  const runtime = s.mode.kind === 'attached' ? 'the container runtime that attached it through CNI' : 'dockerd';
  throw new CnmError('conflict', `cannot ${action} container ${s.name}: its program is run by ${runtime}, not by cnm; use that runtime, or remove the attachment with rm -f`);
}

function parsePortBindings(raw: unknown): PublishedPortRequest[] {
  const bindings = object(raw, 'HostConfig.PortBindings', true);
  return Object.entries(bindings).flatMap(([key, list]) =>
    parsePublishedPorts(
      key,
      (Array.isArray(list) ? list : [null]).map((b, i) => {
        const o = object(b, `HostConfig.PortBindings["${key}"][${i}]`, true);
        return { hostIp: optString(o, 'HostIp', 'PortBinding') ?? '', hostPort: optString(o, 'HostPort', 'PortBinding') ?? '' };
      }),
    ),
  );
}

/** Endpoint settings by network; "default" (what the docker CLI sends without --network) is the bridge. */
function parseEndpointsConfig(raw: unknown): Record<string, EndpointRequest> {
  const networking = object(raw, 'NetworkingConfig', true);
  const configs = object(networking.EndpointsConfig, 'NetworkingConfig.EndpointsConfig', true);
  return Object.fromEntries(Object.entries(configs).map(([network, value]) => [network === 'default' ? 'bridge' : network, parseEndpointConfig(value, `EndpointsConfig["${network}"]`)]));
}

/** HostConfig.ConsoleSize, [rows, columns]; [0, 0] (unknown) is left out. */
function consoleSizeOf(hc: Record<string, unknown>): [number, number] | undefined {
  const raw = optArray(hc, 'ConsoleSize', 'HostConfig');
  if (!raw) return undefined;
  if (raw.length !== 2 || !raw.every((n) => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n < 65536)) throw invalid('HostConfig.ConsoleSize must be [height, width]');
  return raw[0] && raw[1] ? [raw[0] as number, raw[1] as number] : undefined;
}

/** -P: every exposed port (--expose, or a -p's container port) not bound already gets an ephemeral host port. */
export function publishAll(exposed: string[], bindings: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...bindings };
  for (const key of exposed) {
    const full = key.includes('/') ? key : `${key}/tcp`;
    if (!(full in out) && !(key in out)) out[full] = [{ HostIp: '', HostPort: '' }];
  }
  return out;
}

export function addContainerRoutes(router: Router, ctl: Controller, runtime: ProcessRuntime, execs: ExecStore, events: EventLog, execRoot: string): void {
  const inspect = (s: SandboxRecord): unknown => {
    const paths = sandboxPaths(execRoot, s.id);
    return presentContainer(s, ctl.state, { running: runtime.isRunning(s), pid: s.process.pid }, {
      resolvConf: paths.resolvConf,
      hosts: paths.hosts,
      hostname: paths.hostname,
      sandboxKey: ctl.nsPath(s),
    });
  };

  router.add('POST', '/containers/create', async (req) => {
    const body = object(req.body, 'request body');
    const w = 'body';
    const hc = object(body.HostConfig, 'HostConfig', true);
    const exposed = Object.keys(object(body.ExposedPorts, 'ExposedPorts', true));
    const publish = parsePortBindings(optBool(hc, 'PublishAllPorts', 'HostConfig') ? publishAll(exposed, object(hc.PortBindings, 'HostConfig.PortBindings', true)) : hc.PortBindings);
    const networkMode = optString(hc, 'NetworkMode', 'HostConfig') ?? 'default';
    const warnings: string[] = [];
    const hostMode = networkMode === 'host';
    if (hostMode && publish.length) warnings.push('Published ports are discarded when using host network mode');
    const cmd = [...(optStringArray(body, 'Entrypoint', w) ?? []), ...(optStringArray(body, 'Cmd', w) ?? [])];
    const workingDir = optString(body, 'WorkingDir', w) || '/';
    const env = optStringArray(body, 'Env', w) ?? [];
    checkWorkingDir(workingDir);
    // The docker CLI's first operand is an image, which gives Docker the command when none follows.
    const image = optString(body, 'Image', w);
    if (image && !cmd.length) throw invalid(`no command to run: cnm has no images, a sandbox runs a host program; the image name ("${image}") is only a placeholder: give the program after it (docker run ${image} sh)`);
    // A program that cannot run is refused before anything exists (Docker finds out at start).
    if (cmd.length) checkProgram(cmd[0]!, workingDir, searchPath(env));
    const sandbox = await ctl.createSandbox({
      name: req.query.get('name') ?? '',
      hostname: optString(body, 'Hostname', w) ?? '',
      domainname: optString(body, 'Domainname', w) ?? '',
      networkMode,
      endpoints: parseEndpointsConfig(body.NetworkingConfig),
      dns: optStringArray(hc, 'Dns', 'HostConfig') ?? [],
      dnsSearch: optStringArray(hc, 'DnsSearch', 'HostConfig') ?? [],
      dnsOptions: optStringArray(hc, 'DnsOptions', 'HostConfig') ?? [],
      extraHosts: optStringArray(hc, 'ExtraHosts', 'HostConfig') ?? [],
      cmd,
      workingDir,
      env,
      consoleSize: consoleSizeOf(hc),
      tty: optBool(body, 'Tty', w) ?? false,
      openStdin: optBool(body, 'OpenStdin', w) ?? false,
      autoRemove: optBool(hc, 'AutoRemove', 'HostConfig') ?? false,
      labels: optStringMap(body, 'Labels', w) ?? {},
      publish: hostMode ? [] : publish,
    }).catch((err: unknown) => {
      // The docker CLI takes any 404 of create for a missing image and tries to pull it: an
      // unknown network (or sandbox, for container:NAME) is the request's fault here, a 400.
      throw err instanceof CnmError && err.kind === 'notFound' ? new CnmError('invalid', err.message) : err;
    });
    return json(201, { Id: sandbox.id, Warnings: warnings });
  });

  router.add('GET', '/containers/json', (req) => {
    const filters = parseFilters(req.query.get('filters'), ['id', 'name', 'label', 'network', 'status']);
    // limit=N (ps -n N): the N last created, whatever their state, as in Docker
    const limitRaw = req.query.get('limit') ?? '';
    if (limitRaw && !/^-?\d+$/.test(limitRaw)) throw invalid(`invalid value for limit: ${JSON.stringify(limitRaw)}: a number`);
    const limit = Number(limitRaw || 0);
    const all = queryBool(req.query, 'all') || limit > 0;
    const now = Date.now();
    const createdOf = (id: string): string => ctl.state.sandboxes.get(id)?.created ?? '';
    const list = ctl
      .sandboxes()
      .map((s) => ({ s, running: isUp(s, runtime) }))
      .filter(({ running }) => all || running || filters.has('status'))
      .map(({ s, running }) => presentSummary(s, ctl.state, { running, pid: s.process.pid }, now))
      .filter((c) => {
        const any = (key: string, test: (v: string) => boolean): boolean => !filters.get(key) || filters.get(key)!.some(test);
        return (
          any('id', (v) => c.Id.startsWith(v)) &&
          any('name', (v) => regexMatch(v, c.Names[0]!.slice(1))) &&
          any('status', (v) => v === c.State) &&
          any('network', (v) => Object.entries(c.NetworkSettings.Networks).some(([name, ep]) => name === v || ep.NetworkID.startsWith(v))) &&
          (filters.get('label') ?? []).every((v) => labelMatch(v, c.Labels))
        );
      })
      // newest first, to the nanosecond (the summary's Created is in whole seconds)
      .sort((a, b) => createdOf(b.Id).localeCompare(createdOf(a.Id)));
    return json(200, limit > 0 ? list.slice(0, limit) : list);
  });

  router.add('GET', '/containers/{id}/json', (req) => json(200, inspect(ctl.sandbox(req.params.id!))));

  router.add('POST', '/containers/{id}/start', async (req) => {
    const s = ownProgram(ctl.sandbox(req.params.id!), 'start');
    if (runtime.isRunning(s)) return empty(304);
    await runtime.start(s);
    return empty(204);
  });

  router.add('POST', '/containers/{id}/kill', async (req) => {
    const s = ownProgram(ctl.sandbox(req.params.id!), 'kill');
    if (!runtime.isRunning(s)) throw new CnmError('forbidden', `Cannot kill container: ${req.params.id}: Container ${s.id} is not running`);
    const signal = (req.query.get('signal') || 'SIGKILL').toUpperCase();
    const name = (signal.startsWith('SIG') ? signal : `SIG${signal}`) as NodeJS.Signals;
    await runtime.kill(s, name);
    events.container('kill', s, { signal: String(os.constants.signals[name] ?? signal) });
    return empty(204);
  });

  router.add('POST', '/containers/{id}/stop', async (req) => {
    const s = ownProgram(ctl.sandbox(req.params.id!), 'stop');
    const t = req.query.get('t') ?? '10';
    if (!/^\d+$/.test(t)) throw invalid(`invalid value for t: ${JSON.stringify(t)}: a number of seconds`);
    if (!runtime.isRunning(s)) return empty(304);
    await runtime.stop(s, Number(t));
    return empty(204);
  });

  router.add('POST', '/containers/{id}/restart', async (req) => {
    const s = ownProgram(ctl.sandbox(req.params.id!), 'restart');
    const t = req.query.get('t') ?? '10';
    if (!/^\d+$/.test(t)) throw invalid(`invalid value for t: ${JSON.stringify(t)}: a number of seconds`);
    if (runtime.isRunning(s)) await runtime.stop(s, Number(t));
    await runtime.start(ctl.sandbox(s.id));
    return empty(204);
  });

  // Every sandbox whose program is not running (created or exited), as docker container prune.
  router.add('POST', '/containers/prune', async (req) => {
    const filters = parseFilters(req.query.get('filters'), ['label', 'label!']);
    const deleted: string[] = [];
    for (const s of ctl.sandboxes()) {
      if (isUp(s, runtime)) continue;
      if (!(filters.get('label') ?? []).every((v) => labelMatch(v, s.labels))) continue;
      if ((filters.get('label!') ?? []).some((v) => labelMatch(v, s.labels))) continue;
      await ctl.removeSandbox(s.id);
      execs.forget(s.id);
      deleted.push(s.id);
    }
    return json(200, { ContainersDeleted: deleted.length ? deleted : null, SpaceReclaimed: 0 });
  });

  router.add('DELETE', '/containers/{id}', async (req) => {
    const s = ctl.sandbox(req.params.id!);
    if (isUp(s, runtime)) {
      if (!queryBool(req.query, 'force')) {
        throw new CnmError('conflict', `You cannot remove a running container ${s.id}. Stop the container before attempting removal or force remove`);
      }
    }
    await runtime.killAll(s);
    await ctl.removeSandbox(s.id);
    execs.forget(s.id);
    return empty(204);
  });
}
