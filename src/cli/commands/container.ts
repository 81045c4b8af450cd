/**
 * cnm run|exec|ps|rm|inspect|port|start|stop: sandboxes handled the way docker handles
 * containers. A sandbox's program is a host program run inside the sandbox's namespaces.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import type { ContainerJSON, ContainerSummary, NetworkResource } from '../../api/engine-types';
import { parsePublish } from '../../nat/publish';
import { bool, keyValues, list, str, UsageError, type FlagSpec } from '../args';
import { DaemonError, type Client } from '../client';
import { filterQuery, forEachRef, needArgs, withHelp, type Command } from '../command';
import { formatContainerList, formatInspect, formatPorts } from '../format';

const RUN_FLAGS: FlagSpec[] = [
  { name: 'add-host', kind: 'list', help: 'Add a custom host-to-IP mapping (host:ip)' },
  { name: 'alias', kind: 'list', aliases: ['network-alias'], help: 'Add network-scoped alias for the container' },
  { name: 'detach', short: 'd', kind: 'bool', help: 'Run container in background and print container ID' },
  { name: 'dns', kind: 'list', help: 'Set custom DNS servers' },
  { name: 'dns-option', kind: 'list', aliases: ['dns-opt'], help: 'Set DNS options' },
  { name: 'dns-search', kind: 'list', help: 'Set custom DNS search domains' },
  { name: 'domainname', kind: 'string', help: 'Container NIS domain name' },
  { name: 'hostname', short: 'h', kind: 'string', help: 'Container host name' },
  { name: 'interactive', short: 'i', kind: 'bool', help: 'Keep STDIN open even if not attached' },
  { name: 'ip', kind: 'string', help: 'IPv4 address (e.g., 172.30.100.104)' },
  { name: 'ip6', kind: 'string', help: 'IPv6 address (e.g., 2001:db8::33)' },
  { name: 'label', short: 'l', kind: 'list', help: 'Set meta data on a container' },
  { name: 'name', kind: 'string', help: 'Assign a name to the container' },
  { name: 'network', kind: 'list', aliases: ['net'], value: 'network', help: 'Connect a container to a network' },
  { name: 'publish', short: 'p', kind: 'list', help: "Publish a container's port(s) to the host" },
  { name: 'rm', kind: 'bool', help: 'Automatically remove the container when it exits' },
  { name: 'tty', short: 't', kind: 'bool', help: 'Allocate a pseudo-TTY' },
];

/** Turns -p specs into the Engine API's PortBindings. */
function portBindings(specs: string[]): Record<string, { HostIp: string; HostPort: string }[]> {
  const out: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const spec of specs) {
    for (const r of parsePublish(spec)) {
      const hostPort = r.hostPortStart === 0 ? '' : r.hostPortStart === r.hostPortEnd ? String(r.hostPortStart) : `${r.hostPortStart}-${r.hostPortEnd}`;
      (out[`${r.containerPort}/${r.proto}`] ??= []).push({ HostIp: r.hostIp, HostPort: hostPort });
    }
  }
  return out;
}

function createBody(p: ReturnType<typeof withHelp> & object, cmd: string[]): { body: unknown; name: string | undefined } {
  const networks = list(p, 'network');
  const networkMode = networks[0] ?? 'default';
  const ipv4 = str(p, 'ip');
  const ipv6 = str(p, 'ip6');
  const aliases = list(p, 'alias');
  const endpoints: Record<string, unknown> = {};
  // --ip/--ip6/--alias apply to the first network, as in docker (and are refused by the daemon
  // on the default bridge instead of being silently dropped).
  if (ipv4 || ipv6 || aliases.length) {
    const key = networkMode === 'default' ? 'bridge' : networkMode;
    endpoints[key] = { IPAMConfig: { ...(ipv4 ? { IPv4Address: ipv4 } : {}), ...(ipv6 ? { IPv6Address: ipv6 } : {}) }, Aliases: aliases };
  }
  for (const extra of networks.slice(1)) endpoints[extra] ??= {};
  return {
    name: str(p, 'name'),
    body: {
      Hostname: str(p, 'hostname') ?? '',
      Domainname: str(p, 'domainname') ?? '',
      Cmd: cmd,
      Tty: bool(p, 'tty'),
      OpenStdin: bool(p, 'interactive'),
      Labels: keyValues(list(p, 'label'), '--label', false),
      HostConfig: {
        NetworkMode: networkMode,
        PortBindings: portBindings(list(p, 'publish')),
        Dns: list(p, 'dns'),
        DnsSearch: list(p, 'dns-search'),
        DnsOptions: list(p, 'dns-option'),
        ExtraHosts: list(p, 'add-host'),
        AutoRemove: bool(p, 'rm'),
      },
      NetworkingConfig: { EndpointsConfig: endpoints },
    },
  };
}

interface ExecInfo {
  Id: string;
  Argv: string[];
  Cmd: string[];
}

/** Runs argv in the foreground with the terminal, forwarding signals; resolves with the exit code. */
function runForeground(argv: string[], interactive: boolean, onStart: (pid: number) => Promise<void>): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: [interactive ? 'inherit' : 'ignore', 'inherit', 'inherit'] });
    const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
    const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => [s, forward(s)] as const);
    for (const [s, h] of handlers) process.on(s, h);
    child.once('error', reject);
    child.once('spawn', () => void onStart(child.pid!).catch(() => undefined));
    child.once('exit', (code, signal) => {
      for (const [s, h] of handlers) process.off(s, h);
      resolve(code ?? 128 + (signal ? signalNumber(signal) : 0));
    });
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  return os.constants.signals[signal] ?? 0;
}

const run: Command = async (argv, ctx) => {
  const usage = 'cnm run [OPTIONS] COMMAND [ARG...]';
  const p = withHelp(argv, ctx, usage, 'Create a sandbox and run a host program inside it', RUN_FLAGS, { stopAtFirstOperand: true });
  if (!p) return 0;
  needArgs(ctx, p.args, 1, Infinity, usage);
  const { body, name } = createBody(p, p.args);
  const created = await ctx.client.request<{ Id: string; Warnings: string[] | null }>('POST', '/containers/create', body, { name });
  for (const w of created.Warnings ?? []) ctx.io.err(`WARNING: ${w}\n`);
  if (bool(p, 'detach')) {
    await ctx.client.request('POST', `/containers/${created.Id}/start`);
    ctx.io.out(`${created.Id}\n`);
    return 0;
  }
  const info = await ctx.client.request<ExecInfo>('GET', `/cnm/sandboxes/${created.Id}/exec`);
  const code = await runForeground([...info.Argv, ...p.args], bool(p, 'interactive'), (pid) => ctx.client.request('POST', `/cnm/sandboxes/${created.Id}/process`, { Pid: pid }));
  await ctx.client.request('POST', `/cnm/sandboxes/${created.Id}/exit`, { ExitCode: code }).catch(() => undefined);
  if (bool(p, 'rm')) await ctx.client.request('DELETE', `/containers/${created.Id}`, undefined, { force: '1' }).catch(() => undefined);
  return code;
};

const exec: Command = async (argv, ctx) => {
  const usage = 'cnm exec [OPTIONS] CONTAINER COMMAND [ARG...]';
  const flags: FlagSpec[] = [
    { name: 'detach', short: 'd', kind: 'bool', help: 'Detached mode: run command in the background' },
    { name: 'interactive', short: 'i', kind: 'bool', help: 'Keep STDIN open even if not attached' },
    { name: 'tty', short: 't', kind: 'bool', help: 'Allocate a pseudo-TTY' },
  ];
  const p = withHelp(argv, ctx, usage, 'Run a command in a running sandbox', flags, { stopAtFirstOperand: true });
  if (!p) return 0;
  needArgs(ctx, p.args, 2, Infinity, usage);
  const [ref, ...cmd] = p.args;
  const info = await ctx.client.request<ExecInfo>('GET', `/cnm/sandboxes/${encodeURIComponent(ref!)}/exec`, undefined, { requireRunning: '1' });
  const full = [...info.Argv, ...cmd];
  if (bool(p, 'detach')) {
    spawn(full[0]!, full.slice(1), { stdio: 'ignore', detached: true }).unref();
    return 0;
  }
  return runForeground(full, bool(p, 'interactive'), async () => undefined);
};

const ps: Command = async (argv, ctx) => {
  const usage = 'cnm ps [OPTIONS]';
  const flags: FlagSpec[] = [
    { name: 'all', short: 'a', kind: 'bool', help: 'Show all containers (default shows just running)' },
    { name: 'filter', short: 'f', kind: 'list', value: 'filter', help: 'Filter output based on conditions provided' },
    { name: 'format', kind: 'string', help: 'Pretty-print containers using a Go template' },
    { name: 'no-trunc', kind: 'bool', help: "Don't truncate output" },
    { name: 'quiet', short: 'q', kind: 'bool', help: 'Only display container IDs' },
  ];
  const p = withHelp(argv, ctx, usage, 'List sandboxes', flags);
  if (!p) return 0;
  needArgs(ctx, p.args, 0, 0, usage);
  const containers = await ctx.client.request<ContainerSummary[]>('GET', '/containers/json', undefined, {
    all: bool(p, 'all') ? '1' : undefined,
    ...filterQuery(list(p, 'filter')),
  });
  ctx.io.out(formatContainerList(containers, { format: str(p, 'format'), quiet: bool(p, 'quiet'), noTrunc: bool(p, 'no-trunc'), all: bool(p, 'all') }));
  return 0;
};

const rm: Command = async (argv, ctx) => {
  const usage = 'cnm rm [OPTIONS] CONTAINER [CONTAINER...]';
  const p = withHelp(argv, ctx, usage, 'Remove one or more sandboxes', [{ name: 'force', short: 'f', kind: 'bool', help: 'Force the removal of a running container (uses SIGKILL)' }]);
  if (!p) return 0;
  needArgs(ctx, p.args, 1, Infinity, usage);
  return forEachRef(ctx, p.args, (ref) => ctx.client.request('DELETE', `/containers/${encodeURIComponent(ref)}`, undefined, { force: bool(p, 'force') ? '1' : undefined }));
};

type Inspected = { kind: 'container'; value: ContainerJSON } | { kind: 'network'; value: NetworkResource };

async function inspectOne(client: Client, ref: string, type: string | undefined): Promise<Inspected | undefined> {
  const attempts: ('container' | 'network')[] = type === 'network' ? ['network'] : type === 'container' ? ['container'] : ['container', 'network'];
  for (const kind of attempts) {
    try {
      if (kind === 'container') return { kind, value: await client.request<ContainerJSON>('GET', `/containers/${encodeURIComponent(ref)}/json`) };
      return { kind, value: await client.request<NetworkResource>('GET', `/networks/${encodeURIComponent(ref)}`) };
    } catch (err) {
      if (!(err instanceof DaemonError && err.status === 404)) throw err;
    }
  }
  return undefined;
}

const inspect: Command = async (argv, ctx) => {
  const usage = 'cnm inspect [OPTIONS] NAME|ID [NAME|ID...]';
  const flags: FlagSpec[] = [
    { name: 'format', short: 'f', kind: 'string', help: 'Format the output using the given Go template' },
    { name: 'type', kind: 'string', help: 'Return JSON for specified type (container or network)' },
  ];
  const p = withHelp(argv, ctx, usage, 'Return low-level information on sandboxes and networks', flags);
  if (!p) return 0;
  needArgs(ctx, p.args, 1, Infinity, usage);
  const type = str(p, 'type');
  if (type && type !== 'container' && type !== 'network') throw new UsageError(`"${type}" is not a valid value for --type`);
  const found: Inspected[] = [];
  const missing: string[] = [];
  for (const ref of p.args) {
    const r = await inspectOne(ctx.client, ref, type);
    if (r) found.push(r);
    else missing.push(ref);
  }
  const format = str(p, 'format');
  if (format) for (const f of found) ctx.io.out(formatInspect([f.value], f.kind, format));
  else ctx.io.out(formatInspect(found.map((f) => f.value), found[0]?.kind ?? 'container'));
  for (const ref of missing) ctx.io.err(`Error: No such object: ${ref}\n`);
  return missing.length ? 1 : 0;
};

const port: Command = async (argv, ctx) => {
  const usage = 'cnm port CONTAINER [PRIVATE_PORT[/PROTO]]';
  const p = withHelp(argv, ctx, usage, 'List port mappings or a specific mapping for the container', []);
  if (!p) return 0;
  needArgs(ctx, p.args, 1, 2, usage);
  const c = await ctx.client.request<ContainerJSON>('GET', `/containers/${encodeURIComponent(p.args[0]!)}/json`);
  ctx.io.out(formatPorts(c.NetworkSettings.Ports, p.args[1], c.Name.replace(/^\//, '')));
  return 0;
};

function simple(action: 'start' | 'stop', summary: string): Command {
  return async (argv, ctx) => {
    const usage = `cnm ${action} CONTAINER [CONTAINER...]`;
    const p = withHelp(argv, ctx, usage, summary, []);
    if (!p) return 0;
    needArgs(ctx, p.args, 1, Infinity, usage);
    return forEachRef(ctx, p.args, (ref) => ctx.client.request('POST', `/containers/${encodeURIComponent(ref)}/${action}`));
  };
}

export const CONTAINER_COMMANDS: Record<string, { run: Command; summary: string }> = {
  exec: { run: exec, summary: 'Run a command in a running sandbox' },
  inspect: { run: inspect, summary: 'Return low-level information on sandboxes and networks' },
  port: { run: port, summary: 'List port mappings or a specific mapping for the sandbox' },
  ps: { run: ps, summary: 'List sandboxes' },
  rm: { run: rm, summary: 'Remove one or more sandboxes' },
  run: { run, summary: 'Create a sandbox and run a host program inside it' },
  start: { run: simple('start', 'Start one or more stopped sandboxes'), summary: 'Start one or more stopped sandboxes' },
  stop: { run: simple('stop', 'Stop one or more running sandboxes'), summary: 'Stop one or more running sandboxes' },
};
