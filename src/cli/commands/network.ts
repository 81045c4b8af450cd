/** cnm network ls|create|inspect|rm|prune|connect|disconnect|alias, as docker network prints them. */
import type { AliasChangeRequest, NetworkConnectRequest, NetworkCreateRequest, NetworkCreateResponse, NetworkDisconnectRequest, NetworkResource } from '../../api/engine-types';
import { groupSubnetFlags } from '../../ipam/flags';
import { bool, keyValues, list, str, UsageError, type FlagSpec } from '../args';
import { DaemonError } from '../client';
import { filterQuery, forEachRef, needArgs, withHelp, type Command } from '../command';
import { formatInspect, formatNetworkList } from '../format';

const LS_FLAGS: FlagSpec[] = [
  { name: 'filter', short: 'f', kind: 'list', value: 'filter', help: "Provide filter values (e.g. 'driver=bridge')" },
  { name: 'format', kind: 'string', help: 'Pretty-print networks using a Go template' },
  { name: 'no-trunc', kind: 'bool', help: 'Do not truncate the output' },
  { name: 'quiet', short: 'q', kind: 'bool', help: 'Only display network IDs' },
];

const CREATE_FLAGS: FlagSpec[] = [
  { name: 'attachable', kind: 'bool', help: 'Enable manual container attachment' },
  { name: 'aux-address', kind: 'list', value: 'map', help: 'Auxiliary IPv4 or IPv6 addresses used by Network driver' },
  { name: 'driver', short: 'd', kind: 'string', help: 'Driver to manage the Network (default "bridge")' },
  { name: 'gateway', kind: 'list', value: 'strings', help: 'IPv4 or IPv6 Gateway for the master subnet' },
  { name: 'internal', kind: 'bool', help: 'Restrict external access to the network' },
  { name: 'ip-range', kind: 'list', value: 'strings', help: 'Allocate container ip from a sub-range' },
  { name: 'ipam-driver', kind: 'string', help: 'IP Address Management Driver (default "default")' },
  { name: 'ipam-opt', kind: 'list', value: 'map', help: 'Set IPAM driver specific options' },
  { name: 'ipv6', kind: 'bool', help: 'Enable IPv6 networking' },
  { name: 'label', kind: 'list', help: 'Set metadata on a network' },
  { name: 'opt', short: 'o', kind: 'list', value: 'map', help: 'Set driver specific options' },
  { name: 'subnet', kind: 'list', value: 'strings', help: 'Subnet in CIDR format that represents a network segment' },
];

const INSPECT_FLAGS: FlagSpec[] = [
  { name: 'format', short: 'f', kind: 'string', help: 'Format the output using the given Go template' },
  { name: 'verbose', short: 'v', kind: 'bool', help: 'Verbose output for diagnostics' },
];

const CONNECT_FLAGS: FlagSpec[] = [
  { name: 'alias', kind: 'list', value: 'strings', help: 'Add network-scoped alias for the container' },
  { name: 'driver-opt', kind: 'list', value: 'strings', help: 'driver options for the network' },
  { name: 'ip', kind: 'string', help: 'IPv4 address (e.g., 172.30.100.104)' },
  { name: 'ip6', kind: 'string', help: 'IPv6 address (e.g., 2001:db8::33)' },
];

const ls: Command = async (argv, ctx) => {
  const usage = 'cnm network ls [OPTIONS]';
  const p = withHelp(argv, ctx, usage, 'List networks', LS_FLAGS);
  if (!p) return 0;
  needArgs(ctx, p.args, 0, 0, usage);
  const networks = await ctx.client.request<NetworkResource[]>('GET', '/networks', undefined, filterQuery(list(p, 'filter')));
  ctx.io.out(formatNetworkList(networks, { format: str(p, 'format'), quiet: bool(p, 'quiet'), noTrunc: bool(p, 'no-trunc') }));
  return 0;
};

const create: Command = async (argv, ctx) => {
  const usage = 'cnm network create [OPTIONS] NETWORK';
  const p = withHelp(argv, ctx, usage, 'Create a network', CREATE_FLAGS);
  if (!p) return 0;
  needArgs(ctx, p.args, 1, 1, usage);
  const config = groupSubnetFlags({
    subnets: list(p, 'subnet'),
    ipRanges: list(p, 'ip-range'),
    gateways: list(p, 'gateway'),
    auxAddresses: keyValues(list(p, 'aux-address'), '--aux-address'),
  });
  const body = {
    Name: p.args[0]!,
    CheckDuplicate: true,
    Driver: str(p, 'driver') ?? 'bridge',
    Options: keyValues(list(p, 'opt'), '--opt'),
    Labels: keyValues(list(p, 'label'), '--label', false),
    IPAM: {
      Driver: str(p, 'ipam-driver') ?? 'default',
      Options: keyValues(list(p, 'ipam-opt'), '--ipam-opt'),
      Config: config.map((c) => ({
        Subnet: c.subnet ?? '', // every entry comes from a --subnet
        ...(c.ipRange ? { IPRange: c.ipRange } : {}),
        ...(c.gateway ? { Gateway: c.gateway } : {}),
        ...(c.auxAddresses ? { AuxiliaryAddresses: c.auxAddresses } : {}),
      })),
    },
    EnableIPv6: bool(p, 'ipv6'),
    Internal: bool(p, 'internal'),
    Attachable: bool(p, 'attachable'),
  } satisfies NetworkCreateRequest;
  const res = await ctx.client.request<NetworkCreateResponse>('POST', '/networks/create', body);
  ctx.io.out(`${res.Id}\n`);
  return 0;
};

const inspect: Command = async (argv, ctx) => {
  const usage = 'cnm network inspect [OPTIONS] NETWORK [NETWORK...]';
  const p = withHelp(argv, ctx, usage, 'Display detailed information on one or more networks', INSPECT_FLAGS);
  if (!p) return 0;
  needArgs(ctx, p.args, 1, Infinity, usage);
  const found: NetworkResource[] = [];
  const missing: string[] = [];
  for (const ref of p.args) {
    try {
      found.push(await ctx.client.request<NetworkResource>('GET', `/networks/${encodeURIComponent(ref)}`));
    } catch (err) {
      if (err instanceof DaemonError && err.status === 404) missing.push(ref);
      else throw err;
    }
  }
  const format = str(p, 'format');
  if (found.length || !format) ctx.io.out(formatInspect(found, 'network', format));
  for (const ref of missing) ctx.io.err(`Error: No such network: ${ref}\n`);
  return missing.length ? 1 : 0;
};

const rm: Command = async (argv, ctx) => {
  const usage = 'cnm network rm NETWORK [NETWORK...]';
  const p = withHelp(argv, ctx, usage, 'Remove one or more networks', []);
  if (!p) return 0;
  needArgs(ctx, p.args, 1, Infinity, usage);
  return forEachRef(
    ctx,
    p.args,
    (ref) => ctx.client.request('DELETE', `/networks/${encodeURIComponent(ref)}`),
    (err, ref) => (err.status === 404 ? `Error: No such network: ${ref}` : `Error response from daemon: ${err.message}`),
  );
};

const prune: Command = async (argv, ctx) => {
  const usage = 'cnm network prune [OPTIONS]';
  const flags: FlagSpec[] = [
    { name: 'filter', kind: 'list', value: 'filter', help: 'Provide filter values (e.g. \'until=<timestamp>\')' },
    { name: 'force', short: 'f', kind: 'bool', help: 'Do not prompt for confirmation' },
  ];
  const p = withHelp(argv, ctx, usage, 'Remove all unused networks', flags);
  if (!p) return 0;
  needArgs(ctx, p.args, 0, 0, usage);
  if (!bool(p, 'force')) {
    const ok = await ctx.io.confirm('WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ');
    if (!ok) return 0;
  }
  const res = await ctx.client.request<{ NetworksDeleted: string[] | null }>('POST', '/networks/prune', undefined, filterQuery(list(p, 'filter')));
  if (res.NetworksDeleted?.length) ctx.io.out(`Deleted Networks:\n${res.NetworksDeleted.join('\n')}\n\n`);
  return 0;
};

const connect: Command = async (argv, ctx) => {
  const usage = 'cnm network connect [OPTIONS] NETWORK CONTAINER';
  const p = withHelp(argv, ctx, usage, 'Connect a container to a network', CONNECT_FLAGS);
  if (!p) return 0;
  needArgs(ctx, p.args, 2, 2, usage);
  const ipv4 = str(p, 'ip');
  const ipv6 = str(p, 'ip6');
  await ctx.client.request('POST', `/networks/${encodeURIComponent(p.args[0]!)}/connect`, {
    Container: p.args[1]!,
    EndpointConfig: {
      IPAMConfig: { ...(ipv4 ? { IPv4Address: ipv4 } : {}), ...(ipv6 ? { IPv6Address: ipv6 } : {}) },
      Aliases: list(p, 'alias'),
      DriverOpts: keyValues(list(p, 'driver-opt'), '--driver-opt'),
    },
  } satisfies NetworkConnectRequest);
  return 0;
};

const disconnect: Command = async (argv, ctx) => {
  const usage = 'cnm network disconnect [OPTIONS] NETWORK CONTAINER';
  const p = withHelp(argv, ctx, usage, 'Disconnect a container from a network', [{ name: 'force', short: 'f', kind: 'bool', help: 'Force the container to disconnect from a network' }]);
  if (!p) return 0;
  needArgs(ctx, p.args, 2, 2, usage);
  await ctx.client.request('POST', `/networks/${encodeURIComponent(p.args[0]!)}/disconnect`, { Container: p.args[1]!, Force: bool(p, 'force') } satisfies NetworkDisconnectRequest);
  return 0;
};

/**
 * cnm network alias add|rm NETWORK SANDBOX ALIAS [ALIAS...]: changes a connected sandbox's
 * aliases in place (Docker needs a disconnect and a connect). Returns once the embedded DNS
 * answers with the change; prints nothing, like connect.
 */
const alias: Command = async (argv, ctx) => {
  const usage = 'cnm network alias add|rm NETWORK CONTAINER ALIAS [ALIAS...]';
  const p = withHelp(argv, ctx, usage, "Add or remove a connected container's network-scoped aliases, without reconnecting it", []);
  if (!p) return 0;
  needArgs(ctx, p.args, 4, Infinity, usage);
  const [action, network, container, ...aliases] = p.args as [string, string, string, ...string[]];
  if (action !== 'add' && action !== 'rm') throw new UsageError(`unknown action "${action}": use add or rm\nSee '${ctx.path} --help'.`);
  await ctx.client.request('POST', `/cnm/networks/${encodeURIComponent(network)}/aliases`, {
    Container: container,
    ...(action === 'add' ? { Add: aliases } : { Remove: aliases }),
  } satisfies AliasChangeRequest);
  return 0;
};

export const NETWORK_COMMANDS: Record<string, { run: Command; summary: string }> = {
  alias: { run: alias, summary: "Add or remove a connected container's aliases (cnm only)" },
  connect: { run: connect, summary: 'Connect a container to a network' },
  create: { run: create, summary: 'Create a network' },
  disconnect: { run: disconnect, summary: 'Disconnect a container from a network' },
  inspect: { run: inspect, summary: 'Display detailed information on one or more networks' },
  ls: { run: ls, summary: 'List networks' },
  prune: { run: prune, summary: 'Remove all unused networks' },
  rm: { run: rm, summary: 'Remove one or more networks' },
};
export const NETWORK_ALIASES: Record<string, string> = { list: 'ls', remove: 'rm' };
