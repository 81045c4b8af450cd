/**
 * cnm run|exec|logs|ps|rm|inspect|port|start|stop|top|version: sandboxes handled the way docker
 * handles containers, through the Engine API only (so they work over --tcp and from any mount
 * namespace). A sandbox's program is a host program run inside the sandbox's namespaces.
 */
import type http from 'node:http';
import os from 'node:os';
import { StringDecoder } from 'node:string_decoder';
import type { ContainerJSON, ContainerSummary, NetworkResource } from '../../api/engine-types';
import { FrameDecoder } from '../../api/stream-frames';
import { API_VERSION, CNM_VERSION } from '../../api/version';
import { parsePublish } from '../../nat/publish';
import { bool, keyValues, list, str, UsageError, type FlagSpec } from '../args';
import { DaemonError, type Client } from '../client';
import { filterQuery, forEachRef, needArgs, refuseTtyWithoutTerminal, withHelp, type Command, type CommandContext } from '../command';
import { formatContainerList, formatInspect, formatPorts } from '../format';
import { runSession } from '../session';

const RUN_FLAGS: FlagSpec[] = [
  { name: 'add-host', kind: 'list', help: 'Add a custom host-to-IP mapping (host:ip)' },
  { name: 'alias', kind: 'list', aliases: ['network-alias'], help: 'Add network-scoped alias for the container' },
  { name: 'detach', short: 'd', kind: 'bool', help: 'Run container in background and print container ID' },
  { name: 'dns', kind: 'list', help: 'Set custom DNS servers' },
  { name: 'dns-option', kind: 'list', aliases: ['dns-opt'], help: 'Set DNS options' },
  { name: 'dns-search', kind: 'list', help: 'Set custom DNS search domains' },
  { name: 'domainname', kind: 'string', help: 'Container NIS domain name' },
  { name: 'env', short: 'e', kind: 'list', help: 'Set environment variables' },
  { name: 'expose', kind: 'list', help: 'Expose a port or a range of ports (what -P publishes)' },
  { name: 'hostname', short: 'h', kind: 'string', help: 'Container host name' },
  { name: 'interactive', short: 'i', kind: 'bool', help: 'Keep STDIN open even if not attached' },
  { name: 'ip', kind: 'string', help: 'IPv4 address (e.g., 172.30.100.104)' },
  { name: 'ip6', kind: 'string', help: 'IPv6 address (e.g., 2001:db8::33)' },
  { name: 'label', short: 'l', kind: 'list', help: 'Set meta data on a container' },
  { name: 'name', kind: 'string', help: 'Assign a name to the container' },
  { name: 'network', kind: 'list', aliases: ['net'], value: 'network', help: 'Connect a container to a network' },
  { name: 'publish', short: 'p', kind: 'list', help: "Publish a container's port(s) to the host" },
  { name: 'publish-all', short: 'P', kind: 'bool', help: 'Publish all exposed ports (--expose) to random ports' },
  { name: 'rm', kind: 'bool', help: 'Automatically remove the container when it exits' },
  { name: 'tty', short: 't', kind: 'bool', help: 'Allocate a pseudo-TTY' },
  { name: 'workdir', short: 'w', kind: 'string', help: 'Working directory inside the container (default /)' },
];

/** --expose 80, 80/udp, 7000-7001: the Engine API's ExposedPorts keys. */
function exposedPorts(specs: string[]): Record<string, Record<string, never>> {
  const out: Record<string, Record<string, never>> = {};
  for (const spec of specs) {
    const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/.exec(spec);
    if (!m) throw new UsageError(`invalid argument "${spec}" for "--expose" flag: use PORT[-PORT][/PROTO]`);
    const first = Number(m[1]);
    const last = m[2] ? Number(m[2]) : first;
    if (first < 1 || last > 65535 || last < first) throw new UsageError(`invalid range format for --expose: ${spec}`);
    for (let port = first; port <= last; port++) out[`${port}/${m[3] ?? 'tcp'}`] = {};
  }
  return out;
}

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
      Env: list(p, 'env'),
      WorkingDir: str(p, 'workdir') ?? '',
      ExposedPorts: exposedPorts(list(p, 'expose')),
      Tty: bool(p, 'tty'),
      OpenStdin: bool(p, 'interactive'),
      StdinOnce: bool(p, 'interactive'),
      AttachStdin: bool(p, 'interactive'),
      AttachStdout: !bool(p, 'detach'),
      AttachStderr: !bool(p, 'detach'),
      Labels: keyValues(list(p, 'label'), '--label', false),
      HostConfig: {
        NetworkMode: networkMode,
        PortBindings: portBindings(list(p, 'publish')),
        PublishAllPorts: bool(p, 'publish-all'),
        // the terminal's size from the start: a resize after start may come after the program looked
        ...(bool(p, 'tty') && process.stdout.isTTY && process.stdout.rows ? { ConsoleSize: [process.stdout.rows, process.stdout.columns] } : {}),
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

/** The JSON body of a streamed answer (wait), once it ends. */
function readJson<T>(res: http.IncomingMessage): Promise<T> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as T);
      } catch {
        reject(new Error('the daemon ended the wait without an exit status'));
      }
    });
    res.on('error', reject);
  });
}

/** Ctrl-C and kill of the CLI go to the program (docker's --sig-proxy), while it is attached without a tty. */
function proxySignals(ctx: CommandContext, id: string): () => void {
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => [s, () => void ctx.client.request('POST', `/containers/${id}/kill`, undefined, { signal: s }).catch(() => undefined)] as const);
  for (const [s, h] of handlers) process.on(s, h);
  return () => {
    for (const [s, h] of handlers) process.off(s, h);
  };
}

const run: Command = async (argv, ctx) => {
  const usage = 'cnm run [OPTIONS] COMMAND [ARG...]';
  const p = withHelp(argv, ctx, usage, 'Create a sandbox and run a host program inside it', RUN_FLAGS, { stopAtFirstOperand: true });
  if (!p) return 0;
  needArgs(ctx, p.args, 1, Infinity, usage);
  if (!bool(p, 'detach') && refuseTtyWithoutTerminal(ctx, bool(p, 'interactive'), bool(p, 'tty'))) return 1;
  const { body, name } = createBody(p, p.args);
  const created = await ctx.client.request<{ Id: string; Warnings: string[] | null }>('POST', '/containers/create', body, { name });
  for (const w of created.Warnings ?? []) ctx.io.err(`WARNING: ${w}\n`);
  const id = created.Id;
  // A run that fails leaves nothing behind: no sandbox holding an address.
  const undo = (err: unknown): Promise<never> => ctx.client.request('DELETE', `/containers/${id}`, undefined, { force: '1' }).then(() => Promise.reject(err), () => Promise.reject(err));
  if (bool(p, 'detach')) {
    await ctx.client.request('POST', `/containers/${id}/start`).catch(undo);
    ctx.io.out(`${id}\n`);
    return 0;
  }
  const tty = bool(p, 'tty');
  const interactive = bool(p, 'interactive');
  // As the docker CLI: attach, then wait (its headers say it is in place), then start.
  const { socket, status } = await (async () => {
    const sock = await ctx.client.hijack(`/containers/${id}/attach`, undefined, { stream: '1', stdout: '1', stderr: '1', stdin: interactive ? '1' : undefined });
    const waiting = await ctx.client.stream('POST', `/containers/${id}/wait`, { condition: bool(p, 'rm') ? 'removed' : 'next-exit' });
    await ctx.client.request('POST', `/containers/${id}/start`);
    return { socket: sock, status: readJson<{ StatusCode: number }>(waiting) };
  })().catch(undo);
  const unproxy = tty ? () => undefined : proxySignals(ctx, id);
  try {
    await runSession(socket, {
      tty,
      stdin: interactive,
      io: ctx.io,
      onResize: (rows, cols) => void ctx.client.request('POST', `/containers/${id}/resize`, undefined, { h: String(rows), w: String(cols) }).catch(() => undefined),
    });
    return (await status).StatusCode;
  } finally {
    unproxy();
  }
};

const exec: Command = async (argv, ctx) => {
  const usage = 'cnm exec [OPTIONS] CONTAINER COMMAND [ARG...]';
  const flags: FlagSpec[] = [
    { name: 'detach', short: 'd', kind: 'bool', help: 'Detached mode: run command in the background' },
    { name: 'env', short: 'e', kind: 'list', help: 'Set environment variables' },
    { name: 'interactive', short: 'i', kind: 'bool', help: 'Keep STDIN open even if not attached' },
    { name: 'tty', short: 't', kind: 'bool', help: 'Allocate a pseudo-TTY' },
    { name: 'workdir', short: 'w', kind: 'string', help: 'Working directory inside the container' },
  ];
  const p = withHelp(argv, ctx, usage, 'Run a command in a running sandbox', flags, { stopAtFirstOperand: true });
  if (!p) return 0;
  needArgs(ctx, p.args, 2, Infinity, usage);
  const [ref, ...cmd] = p.args;
  const tty = bool(p, 'tty');
  const interactive = bool(p, 'interactive');
  if (!bool(p, 'detach') && refuseTtyWithoutTerminal(ctx, interactive, tty)) return 1;
  const size = tty && process.stdout.isTTY && process.stdout.rows ? [process.stdout.rows, process.stdout.columns] : undefined;
  const created = await ctx.client.request<{ Id: string }>('POST', `/containers/${encodeURIComponent(ref!)}/exec`, {
    AttachStdin: interactive,
    AttachStdout: true,
    AttachStderr: true,
    Tty: tty,
    Cmd: cmd,
    Env: list(p, 'env'),
    WorkingDir: str(p, 'workdir') ?? '',
    ...(size ? { ConsoleSize: size } : {}),
  });
  if (bool(p, 'detach')) {
    await ctx.client.request('POST', `/exec/${created.Id}/start`, { Detach: true, Tty: tty });
    return 0;
  }
  const socket = await ctx.client.hijack(`/exec/${created.Id}/start`, { Detach: false, Tty: tty });
  await runSession(socket, {
    tty,
    stdin: interactive,
    io: ctx.io,
    onResize: (rows, cols) => void ctx.client.request('POST', `/exec/${created.Id}/resize`, undefined, { h: String(rows), w: String(cols) }).catch(() => undefined),
  });
  const info = await ctx.client.request<{ ExitCode: number | null }>('GET', `/exec/${created.Id}/json`);
  return info.ExitCode ?? 0;
};

const logs: Command = async (argv, ctx) => {
  const usage = 'cnm logs [OPTIONS] CONTAINER';
  const flags: FlagSpec[] = [
    { name: 'follow', short: 'f', kind: 'bool', help: 'Follow log output' },
    { name: 'since', kind: 'string', help: 'Show logs since timestamp (Unix seconds or RFC 3339)' },
    { name: 'tail', short: 'n', kind: 'string', help: 'Number of lines to show from the end of the logs (default "all")' },
    { name: 'timestamps', short: 't', kind: 'bool', help: 'Show timestamps' },
    { name: 'until', kind: 'string', help: 'Show logs before a timestamp (Unix seconds or RFC 3339)' },
  ];
  const p = withHelp(argv, ctx, usage, "Fetch the logs of a sandbox's program", flags);
  if (!p) return 0;
  needArgs(ctx, p.args, 1, 1, usage);
  const res = await ctx.client.stream('GET', `/containers/${encodeURIComponent(p.args[0]!)}/logs`, {
    stdout: '1',
    stderr: '1',
    follow: bool(p, 'follow') ? '1' : undefined,
    tail: str(p, 'tail'),
    timestamps: bool(p, 'timestamps') ? '1' : undefined,
    since: str(p, 'since'),
    until: str(p, 'until'),
  });
  const raw = (res.headers['content-type'] ?? '').includes('raw-stream');
  const out = new StringDecoder('utf8');
  const err = new StringDecoder('utf8');
  const frames = new FrameDecoder((stream, payload) => (stream === 2 ? ctx.io.err(err.write(payload)) : ctx.io.out(out.write(payload))));
  await new Promise<void>((resolve, reject) => {
    res.on('data', (d: Buffer) => (raw ? ctx.io.out(out.write(d)) : frames.push(d)));
    res.on('end', resolve);
    res.on('error', reject);
  });
  return 0;
};

const top: Command = async (argv, ctx) => {
  const usage = 'cnm top CONTAINER [ps OPTIONS]';
  const p = withHelp(argv, ctx, usage, "Display the running processes of a sandbox", [], { stopAtFirstOperand: true });
  if (!p) return 0;
  needArgs(ctx, p.args, 1, Infinity, usage);
  const r = await ctx.client.request<{ Titles: string[]; Processes: string[][] }>('GET', `/containers/${encodeURIComponent(p.args[0]!)}/top`, undefined, {
    ps_args: p.args.length > 1 ? p.args.slice(1).join(' ') : undefined,
  });
  const rows = [r.Titles, ...r.Processes];
  ctx.io.out(rows.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(20))).join('').trimEnd()).join('\n') + '\n');
  return 0;
};

const version: Command = async (argv, ctx) => {
  const p = withHelp(argv, ctx, 'cnm version', 'Show the cnm version information', []);
  if (!p) return 0;
  needArgs(ctx, p.args, 0, 0, 'cnm version');
  const lines = ['Client:', ` Version:           ${CNM_VERSION}`, ` API version:       ${API_VERSION}`, ` Node.js version:   ${process.version}`, ` OS/Arch:           linux/${os.arch() === 'x64' ? 'amd64' : os.arch()}`, '', ''];
  ctx.io.out(lines.join('\n'));
  const v = await ctx.client.request<{ Version: string; ApiVersion: string; MinAPIVersion: string; GoVersion: string; Os: string; Arch: string; KernelVersion: string }>('GET', '/version');
  ctx.io.out(
    [
      'Server: cnm',
      ' Engine:',
      `  Version:          ${v.Version}`,
      `  API version:      ${v.ApiVersion} (minimum version ${v.MinAPIVersion})`,
      `  Node.js version:  ${v.GoVersion.replace(/^node /, '')}`,
      `  OS/Arch:          ${v.Os}/${v.Arch}`,
      `  Kernel version:   ${v.KernelVersion}`,
      '',
    ].join('\n'),
  );
  return 0;
};

const ps: Command = async (argv, ctx) => {
  const usage = 'cnm ps [OPTIONS]';
  const flags: FlagSpec[] = [
    { name: 'all', short: 'a', kind: 'bool', help: 'Show all containers (default shows just running)' },
    { name: 'filter', short: 'f', kind: 'list', value: 'filter', help: 'Filter output based on conditions provided' },
    { name: 'format', kind: 'string', help: 'Pretty-print containers using a Go template' },
    { name: 'last', short: 'n', kind: 'string', help: 'Show n last created containers (includes all states)' },
    { name: 'latest', short: 'l', kind: 'bool', help: 'Show the latest created container (includes all states)' },
    { name: 'no-trunc', kind: 'bool', help: "Don't truncate output" },
    { name: 'quiet', short: 'q', kind: 'bool', help: 'Only display container IDs' },
  ];
  const p = withHelp(argv, ctx, usage, 'List sandboxes', flags);
  if (!p) return 0;
  needArgs(ctx, p.args, 0, 0, usage);
  const last = bool(p, 'latest') ? '1' : str(p, 'last');
  if (last !== undefined && !/^-?\d+$/.test(last)) throw new UsageError(`invalid argument "${last}" for "-n, --last" flag: a number`);
  const containers = await ctx.client.request<ContainerSummary[]>('GET', '/containers/json', undefined, {
    all: bool(p, 'all') ? '1' : undefined,
    limit: last !== undefined && Number(last) > 0 ? last : undefined,
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

const TIME_FLAG: FlagSpec = { name: 'time', short: 't', kind: 'string', help: 'Seconds to wait before killing the program' };
const SIGNAL_FLAG: FlagSpec = { name: 'signal', short: 's', kind: 'string', help: 'Signal to send to the program' };

/** start, stop, restart and kill: one request per sandbox, with stop's -t and kill's -s as query parameters. */
function simple(action: 'start' | 'stop' | 'restart' | 'kill', summary: string, flags: FlagSpec[] = []): Command {
  return async (argv, ctx) => {
    const usage = `cnm ${action} [OPTIONS] CONTAINER [CONTAINER...]`;
    const p = withHelp(argv, ctx, usage, summary, flags);
    if (!p) return 0;
    needArgs(ctx, p.args, 1, Infinity, usage);
    const query: Record<string, string> = {};
    const time = str(p, 'time');
    if (time !== undefined) query.t = time;
    const signal = str(p, 'signal');
    if (signal !== undefined) query.signal = signal;
    return forEachRef(ctx, p.args, (ref) => ctx.client.request('POST', `/containers/${encodeURIComponent(ref)}/${action}`, undefined, query));
  };
}

export const CONTAINER_COMMANDS: Record<string, { run: Command; summary: string }> = {
  exec: { run: exec, summary: 'Run a command in a running sandbox' },
  logs: { run: logs, summary: "Fetch the logs of a sandbox's program" },
  inspect: { run: inspect, summary: 'Return low-level information on sandboxes and networks' },
  port: { run: port, summary: 'List port mappings or a specific mapping for the sandbox' },
  ps: { run: ps, summary: 'List sandboxes' },
  rm: { run: rm, summary: 'Remove one or more sandboxes' },
  run: { run, summary: 'Create a sandbox and run a host program inside it' },
  start: { run: simple('start', 'Start one or more stopped sandboxes'), summary: 'Start one or more stopped sandboxes' },
  stop: { run: simple('stop', 'Stop one or more running sandboxes', [TIME_FLAG]), summary: 'Stop one or more running sandboxes' },
  restart: { run: simple('restart', 'Restart one or more sandboxes', [TIME_FLAG]), summary: 'Restart one or more sandboxes' },
  kill: { run: simple('kill', 'Kill one or more running sandboxes', [SIGNAL_FLAG]), summary: 'Kill one or more running sandboxes' },
  top: { run: top, summary: 'Display the running processes of a sandbox' },
  version: { run: version, summary: 'Show the cnm version information' },
};
