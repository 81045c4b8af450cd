/**
 * Records → Docker Engine API JSON. Pure presentation: field order and the places where Docker
 * omits keys or prints null matter, because clients print what they get.
 */
import { endpointAliases } from '../controller/endpoints';
import { humanDuration } from '../human-duration';
import { cidr as ipCidr, stripPrefixLength } from '../ipam';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from '../controller/model';
import type { State } from '../controller/state';
import type { ContainerJSON, ContainerPort, ContainerSummary, EndpointSettings, IPAMConfigEntry, NetworkContainer, NetworkResource, PortMap } from './engine-types';

/** Go's encoding/json writes map keys sorted; clients print what they receive. */
function sorted<T>(map: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Go's time.Time in JSON: RFC 3339 with the nanoseconds' trailing zeros (and a bare dot) trimmed. */
export function goTime(rfc3339: string): string {
  return rfc3339.replace(/\.(\d*?)0+Z$/, (_m, digits: string) => (digits ? `.${digits}Z` : 'Z'));
}

export function presentNetwork(n: NetworkRecord, state: State): NetworkResource {
  const containers: Record<string, NetworkContainer> = {};
  for (const e of state.endpointsOfNetwork(n.id)) {
    const s = state.sandboxes.get(e.sandboxId);
    if (!s) continue;
    containers[s.id] = { Name: s.name, EndpointID: e.id, MacAddress: e.mac, IPv4Address: e.ipv4, IPv6Address: e.ipv6 };
  }
  return {
    Name: n.name,
    Id: n.id,
    Created: goTime(n.created),
    Scope: n.scope,
    Driver: n.driver,
    EnableIPv6: n.enableIPv6,
    IPAM: { Driver: n.ipamDriver, Options: n.ipamOptions, Config: n.pools.map((p) => ipamEntry(n, p)) },
    Internal: n.internal,
    Attachable: n.attachable,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: sorted(containers),
    Options: sorted(n.options),
    Labels: sorted(n.labels),
  };
}

function ipamEntry(n: NetworkRecord, p: NetworkRecord['pools'][number]): IPAMConfigEntry {
  const entry: IPAMConfigEntry = { Subnet: p.subnet };
  if (p.ipRange) entry.IPRange = p.ipRange;
  // Docker shows the gateway of automatic pools and of explicit gateways, not the implicit .1
  // of a user subnet nor the default bridge's.
  if (p.gateway && (p.gatewayExplicit || (p.auto && !n.predefined))) entry.Gateway = p.gateway;
  if (Object.keys(p.auxAddresses).length) entry.AuxiliaryAddresses = p.auxAddresses;
  return entry;
}

function prefixOf(cidr: string): number {
  return cidr ? ipCidr.prefixLength(cidr) : 0;
}

export function endpointSettings(s: SandboxRecord, e: EndpointRecord, n: NetworkRecord): EndpointSettings {
  const v4 = n.pools.find((p) => p.family === 4 && p.gateway);
  const v6 = n.pools.find((p) => p.family === 6 && p.gateway);
  const ipam = e.staticIpv4 || e.staticIpv6 ? { ...(e.staticIpv4 ? { IPv4Address: e.staticIpv4 } : {}), ...(e.staticIpv6 ? { IPv6Address: e.staticIpv6 } : {}) } : null;
  return {
    IPAMConfig: ipam,
    Links: null,
    Aliases: endpointAliases(s, e, n),
    NetworkID: n.id,
    EndpointID: e.id,
    Gateway: e.ipv4 && v4?.gateway ? v4.gateway : '',
    IPAddress: stripPrefixLength(e.ipv4),
    IPPrefixLen: prefixOf(e.ipv4),
    IPv6Gateway: e.ipv6 && v6?.gateway ? v6.gateway : '',
    GlobalIPv6Address: stripPrefixLength(e.ipv6),
    GlobalIPv6PrefixLen: prefixOf(e.ipv6),
    MacAddress: e.mac,
    DriverOpts: Object.keys(e.driverOptions).length ? e.driverOptions : null,
  };
}

export function portMap(s: SandboxRecord, endpoints: EndpointRecord[]): PortMap {
  const map: PortMap = {};
  for (const req of s.publish) map[`${req.containerPort}/${req.proto}`] ??= [];
  for (const e of endpoints) {
    for (const p of e.ports) {
      const key = `${p.containerPort}/${p.proto}`;
      (map[key] ??= []).push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
    }
  }
  return map;
}

/** HostConfig.PortBindings: what was asked for (several -p may share a container port). */
function requestedBindings(s: SandboxRecord): PortMap {
  const map: PortMap = {};
  for (const p of s.publish) {
    const hostPort = p.hostPortStart === 0 ? '' : p.hostPortStart === p.hostPortEnd ? String(p.hostPortStart) : `${p.hostPortStart}-${p.hostPortEnd}`;
    (map[`${p.containerPort}/${p.proto}`] ??= [])!.push({ HostIp: p.hostIp, HostPort: hostPort });
  }
  return map;
}

export interface ProcessView {
  running: boolean;
  pid: number;
}

/** A sandbox's endpoints and its per-network settings (none for container: mode, as Docker). */
function sandboxNetworks(s: SandboxRecord, state: State): { endpoints: EndpointRecord[]; networks: Record<string, EndpointSettings> } {
  const endpoints = s.mode.kind === 'container' ? [] : state.endpointsOfSandbox(state.namespaceOwner(s).id);
  const networks: Record<string, EndpointSettings> = {};
  for (const e of endpoints) {
    const n = state.networks.get(e.networkId);
    if (n) networks[n.name] = endpointSettings(s, e, n);
  }
  return { endpoints, networks };
}

export function presentContainer(s: SandboxRecord, state: State, proc: ProcessView, files: { resolvConf: string; hosts: string; hostname: string; sandboxKey: string }): ContainerJSON {
  const { endpoints, networks } = sandboxNetworks(s, state);
  const first = Object.values(networks)[0];
  const defaultBridge = Object.entries(networks).find(([name]) => name === 'bridge')?.[1];
  const ports = portMap(s, endpoints);
  const status = stateOf(s, proc);
  return {
    Id: s.id,
    Created: goTime(s.created),
    Path: s.cmd[0] ?? '',
    Args: s.cmd.slice(1),
    State: {
      Status: status,
      Running: status === 'running',
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: proc.running ? proc.pid : 0,
      ExitCode: s.process.exitCode,
      Error: '',
      StartedAt: goTime(runsRuntimeProgram(s) ? s.created : s.process.startedAt),
      FinishedAt: goTime(s.process.finishedAt),
    },
    Image: '',
    ResolvConfPath: files.resolvConf,
    HostnamePath: files.hostname,
    HostsPath: files.hosts,
    Name: `/${s.name}`,
    RestartCount: 0,
    Driver: 'cnm',
    Platform: 'linux',
    HostConfig: {
      NetworkMode: s.networkMode,
      PortBindings: sorted(requestedBindings(s)),
      Dns: s.dns.servers,
      DnsSearch: s.dns.search,
      DnsOptions: s.dns.options,
      ExtraHosts: s.extraHosts.length ? s.extraHosts : null,
      AutoRemove: s.autoRemove,
    },
    Config: {
      Hostname: s.hostname,
      Domainname: s.domainname,
      Cmd: s.cmd,
      // "/" is the default, which Docker shows as "" (no WorkingDir asked for)
      WorkingDir: s.workingDir && s.workingDir !== '/' ? s.workingDir : '',
      Env: s.env?.length ? s.env : null,
      Tty: s.tty,
      OpenStdin: s.openStdin,
      Labels: sorted(s.labels),
      ...(s.publish.length ? { ExposedPorts: Object.fromEntries(s.publish.map((p) => [`${p.containerPort}/${p.proto}`, {}])) } : {}),
    },
    NetworkSettings: {
      Bridge: '',
      SandboxID: state.namespaceOwner(s).id,
      SandboxKey: files.sandboxKey,
      Ports: sorted(ports),
      Gateway: defaultBridge?.Gateway ?? '',
      IPAddress: defaultBridge?.IPAddress ?? '',
      IPPrefixLen: defaultBridge?.IPPrefixLen ?? 0,
      IPv6Gateway: defaultBridge?.IPv6Gateway ?? '',
      GlobalIPv6Address: defaultBridge?.GlobalIPv6Address ?? '',
      GlobalIPv6PrefixLen: defaultBridge?.GlobalIPv6PrefixLen ?? 0,
      MacAddress: defaultBridge?.MacAddress ?? first?.MacAddress ?? '',
      Networks: sorted(networks),
    },
  };
}

export function presentSummary(s: SandboxRecord, state: State, proc: ProcessView, now: number): ContainerSummary {
  const { endpoints, networks } = sandboxNetworks(s, state);
  const ports: ContainerPort[] = [];
  for (const e of endpoints) {
    for (const p of e.ports) ports.push({ IP: p.hostIp, PrivatePort: p.containerPort, PublicPort: p.hostPort, Type: p.proto });
  }
  const status = stateOf(s, proc);
  return {
    Id: s.id,
    Names: [`/${s.name}`],
    Image: '',
    ImageID: '',
    Command: s.cmd.join(' '),
    Created: Math.floor(Date.parse(s.created) / 1000),
    Ports: ports,
    Labels: s.labels,
    State: status,
    Status: statusText(s, proc, now),
    HostConfig: { NetworkMode: s.networkMode },
    NetworkSettings: { Networks: networks },
  };
}

/**
 * A namespace a container runtime owns (CNI attach, Docker hand-off) runs the runtime's program,
 * not one of cnm's: it is up for as long as cnm holds the attachment, since it was made.
 */
export function runsRuntimeProgram(s: SandboxRecord): boolean {
  return s.mode.kind === 'attached' || s.mode.kind === 'handoff';
}

/** Up as docker ps and info count it: cnm's program runs, or a runtime's does. */
export function isUp(s: SandboxRecord, runtime: { isRunning(s: SandboxRecord): boolean }): boolean {
  return runsRuntimeProgram(s) || runtime.isRunning(s);
}

/** Docker's State: running, created or exited. */
function stateOf(s: SandboxRecord, proc: ProcessView): 'running' | 'created' | 'exited' {
  if (proc.running || runsRuntimeProgram(s)) return 'running';
  return s.process.status === 'created' ? 'created' : 'exited';
}

/** "Up 5 minutes", "Exited (0) 2 minutes ago", "Created" — docker ps's Status column. */
export function statusText(s: SandboxRecord, proc: ProcessView, now: number): string {
  if (runsRuntimeProgram(s)) return `Up ${humanDuration(now - Date.parse(s.created))}`;
  if (proc.running) return `Up ${humanDuration(now - Date.parse(s.process.startedAt))}`;
  if (s.process.status === 'created') return 'Created';
  return `Exited (${s.process.exitCode}) ${humanDuration(now - Date.parse(s.process.finishedAt))} ago`;
}

