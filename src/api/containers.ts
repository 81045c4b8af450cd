/**
 * /containers: sandboxes shown where Docker clients look for containers, plus cnm's own
 * /cnm/sandboxes paths the CLI uses to run programs inside them.
 */
import type { Controller } from '../controller/controller';
import type { EndpointRequest } from '../controller/endpoints';
import type { PublishedPortRequest, SandboxRecord } from '../controller/model';
import { sandboxPaths } from '../controller/sandbox-files';
import { CnmError, invalid } from '../errors';
import { parsePortBindings as parsePublishedPorts } from '../nat';
import type { ProcessRuntime } from '../runtime/processes';
import { labelMatch, parseFilters, regexMatch } from './filters';
import type { Router } from './http';
import { empty, json } from './http';
import { parseEndpointConfig } from './network-requests';
import { presentContainer, presentSummary } from './present';
import { object, optBool, optString, optStringArray, optStringMap, queryBool } from './validate';

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

function parseEndpointsConfig(raw: unknown): Record<string, EndpointRequest> {
  const networking = object(raw, 'NetworkingConfig', true);
  const configs = object(networking.EndpointsConfig, 'NetworkingConfig.EndpointsConfig', true);
  return Object.fromEntries(Object.entries(configs).map(([network, value]) => [network, parseEndpointConfig(value, `EndpointsConfig["${network}"]`)]));
}

export function addContainerRoutes(router: Router, ctl: Controller, runtime: ProcessRuntime, execRoot: string): void {
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
    const publish = parsePortBindings(hc.PortBindings);
    const networkMode = optString(hc, 'NetworkMode', 'HostConfig') ?? 'default';
    const warnings: string[] = [];
    const hostMode = networkMode === 'host';
    if (hostMode && publish.length) warnings.push('Published ports are discarded when using host network mode');
    const cmd = optStringArray(body, 'Cmd', w) ?? [];
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
      tty: optBool(body, 'Tty', w) ?? false,
      openStdin: optBool(body, 'OpenStdin', w) ?? false,
      autoRemove: optBool(hc, 'AutoRemove', 'HostConfig') ?? false,
      labels: optStringMap(body, 'Labels', w) ?? {},
      publish: hostMode ? [] : publish,
    });
    return json(201, { Id: sandbox.id, Warnings: warnings });
  });

  router.add('GET', '/containers/json', (req) => {
    const filters = parseFilters(req.query.get('filters'), ['id', 'name', 'label', 'network', 'status']);
    const all = queryBool(req.query, 'all');
    const now = Date.now();
    const list = ctl
      .sandboxes()
      .map((s) => ({ s, running: runtime.isRunning(s) }))
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
      .sort((a, b) => b.Created - a.Created);
    return json(200, list);
  });

  router.add('GET', '/containers/{id}/json', (req) => json(200, inspect(ctl.sandbox(req.params.id!))));

  router.add('POST', '/containers/{id}/start', async (req) => {
    const s = ctl.sandbox(req.params.id!);
    if (runtime.isRunning(s)) return empty(304);
    await runtime.start(s);
    return empty(204);
  });

  router.add('POST', '/containers/{id}/wait', async (req) => {
    const s = ctl.sandbox(req.params.id!);
    const code = await runtime.wait(s);
    return json(200, { StatusCode: code, Error: null });
  });

  router.add('POST', '/containers/{id}/kill', async (req) => {
    const s = ctl.sandbox(req.params.id!);
    if (!runtime.isRunning(s)) throw new CnmError('forbidden', `Cannot kill container: ${req.params.id}: Container ${s.id} is not running`);
    const signal = (req.query.get('signal') || 'SIGKILL').toUpperCase();
    await runtime.kill(s, (signal.startsWith('SIG') ? signal : `SIG${signal}`) as NodeJS.Signals);
    return empty(204);
  });

  router.add('POST', '/containers/{id}/stop', async (req) => {
    const s = ctl.sandbox(req.params.id!);
    const t = req.query.get('t') ?? '10';
    if (!/^\d+$/.test(t)) throw invalid(`invalid value for t: ${JSON.stringify(t)}: a number of seconds`);
    if (!runtime.isRunning(s)) return empty(304);
    await runtime.stop(s, Number(t));
    return empty(204);
  });

  router.add('DELETE', '/containers/{id}', async (req) => {
    const s = ctl.sandbox(req.params.id!);
    if (runtime.isRunning(s)) {
      if (!queryBool(req.query, 'force')) {
        throw new CnmError('conflict', `You cannot remove a running container ${s.id}. Stop the container before attempting removal or force remove`);
      }
    }
    await runtime.killAll(s);
    await ctl.removeSandbox(s.id);
    return empty(204);
  });

  // cnm's own: what the CLI needs to run a program inside a sandbox itself (run -it, exec).
  router.add('GET', '/cnm/sandboxes/{id}/exec', (req) => {
    const s = ctl.sandbox(req.params.id!);
    if (req.query.get('requireRunning') === '1' && !runtime.isRunning(s)) throw new CnmError('conflict', `Container ${s.id} is not running`);
    return json(200, { Id: s.id, Argv: runtime.execSpec(s).argv, Cmd: s.cmd });
  });

  router.add('POST', '/cnm/sandboxes/{id}/process', async (req) => {
    const body = object(req.body, 'request body');
    const pid = body.Pid;
    if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) throw invalid('body.Pid must be a positive integer');
    await runtime.adopt(ctl.sandbox(req.params.id!), pid);
    return empty(204);
  });

  router.add('POST', '/cnm/sandboxes/{id}/exit', async (req) => {
    const body = object(req.body, 'request body');
    const code = body.ExitCode;
    if (typeof code !== 'number' || !Number.isInteger(code)) throw invalid('body.ExitCode must be an integer');
    await runtime.reportExit(ctl.sandbox(req.params.id!), code);
    return empty(204);
  });
}
