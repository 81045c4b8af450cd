/**
 * Docker's remote network driver protocol (libnetwork's remote driver, API 1.x), as cnm answers
 * it: requests checked and mapped to controller requests, and controller results shaped into
 * Docker's responses. Pure: test/unit/docker-plugin-protocol.test.ts. The summary of the
 * protocol cnm relies on is in README.md next to this file.
 */
import { CnmError, invalid, messageOf } from '../errors';
import type { Handoff, HandoffRequest } from '../controller/handoffs';
import { DOCKER_NETWORK_LABEL, handoffNetworkName } from '../controller/handoffs';
import type { CreateNetworkRequest } from '../controller/networks';
import type { SubnetRequest } from '../ipam';
import type { PublishedPortRequest } from '../controller/model';
import { DOCKER_ADDRESS_SPACE } from '../controller/docker-ipam';
import { VALID_NAME } from '../controller/ids';

/** `-o cnm.driver=...`: which of cnm's drivers makes the network. */
export const DRIVER_OPTION = 'cnm.driver';
export const PLUGIN_DRIVERS = ['bridge', 'macvlan', 'overlay'] as const;
/**
 * `-o cnm.network=NAME` (overlay only): the overlay network's name in cnm's cluster, the same on
 * every dockerd host. The first host's CreateNetwork makes it, the others' use it.
 */
export const NETWORK_OPTION = 'cnm.network';

const GENERIC = 'com.docker.network.generic';
const ENABLE_IPV6 = 'com.docker.network.enable_ipv6';
const INTERNAL = 'com.docker.network.internal';

/** Content type of every plugin response (Docker's plugin API v1). */
export const PLUGIN_CONTENT_TYPE = 'application/vnd.docker.plugins.v1+json';

export class PluginRequestError extends Error {}

interface IpamData {
  AddressSpace?: string;
  Pool?: string;
  Gateway?: string;
  AuxAddresses?: Record<string, string> | null;
}

function object(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new PluginRequestError(`${what} must be a JSON object`);
  return v as Record<string, unknown>;
}

function id(body: Record<string, unknown>, key: string): string {
  const v = body[key];
  if (typeof v !== 'string' || !/^[0-9a-zA-Z]{12,64}$/.test(v)) throw new PluginRequestError(`${key} is missing or not a Docker id`);
  return v;
}

function bare(cidrOrAddress: string | undefined): string | undefined {
  return cidrOrAddress ? cidrOrAddress.split('/')[0] : undefined;
}

function subnets(data: unknown, what: string): SubnetRequest[] {
  if (data === undefined || data === null) return [];
  if (!Array.isArray(data)) throw new PluginRequestError(`${what} must be a list`);
  return data.map((raw: unknown) => {
    const d = object(raw, what) as IpamData;
    if (typeof d.Pool !== 'string' || !d.Pool) throw new PluginRequestError(`${what} has an entry without a Pool`);
    const aux: Record<string, string> = {};
    for (const [k, v] of Object.entries(d.AuxAddresses ?? {})) aux[k] = bare(v)!;
    const gateway = bare(d.Gateway);
    return { subnet: d.Pool, ...(gateway ? { gateway } : {}), ...(Object.keys(aux).length ? { auxAddresses: aux } : {}) };
  });
}

function truthy(v: unknown): boolean {
  return v === true || v === 'true';
}

/** CreateNetwork → the cnm network (named after Docker's id, labelled with it). */
export function createNetworkRequest(raw: unknown): CreateNetworkRequest {
  const body = object(raw, 'the request');
  const networkId = id(body, 'NetworkID');
  const options = object(body.Options ?? {}, 'Options');
  const generic: Record<string, string> = {};
  for (const [k, v] of Object.entries(object(options[GENERIC] ?? {}, GENERIC))) generic[k] = String(v);
  const { [DRIVER_OPTION]: chosen, [NETWORK_OPTION]: shared, ...driverOptions } = generic;
  const driver = chosen ?? 'bridge';
  if (!(PLUGIN_DRIVERS as readonly string[]).includes(driver)) {
    throw invalid(`unknown cnm driver "${driver}": use -o cnm.driver=bridge, macvlan or overlay`);
  }
  const enableIPv6 = truthy(options[ENABLE_IPV6]);
  const ipamConfig = [...subnets(body.IPv4Data, 'IPv4Data'), ...subnets(body.IPv6Data, 'IPv6Data')];
  const common = { driver, options: driverOptions, ipamConfig, enableIPv6, internal: truthy(options[INTERNAL]) };
  if (driver !== 'overlay') {
    if (shared !== undefined) throw invalid(`-o ${NETWORK_OPTION} names a cnm overlay network shared by dockerd hosts: use it with -o ${DRIVER_OPTION}=overlay`);
    return { name: handoffNetworkName(networkId), labels: { [DOCKER_NETWORK_LABEL]: networkId }, ...common };
  }
  if (!shared) throw invalid(`-o ${DRIVER_OPTION}=overlay needs -o ${NETWORK_OPTION}=NAME: the overlay network's name in cnm's cluster, the same on every dockerd host`);
  if (!VALID_NAME.test(shared)) throw invalid(`invalid -o ${NETWORK_OPTION}=${shared}: use letters, digits, '_', '.' and '-', starting with a letter or digit`);
  const spaces = (['IPv4Data', 'IPv6Data'] as const).flatMap((field) => (Array.isArray(body[field]) ? (body[field] as unknown[]) : []).map((d) => (object(d, field) as IpamData).AddressSpace));
  if (!spaces.length || spaces.some((s) => s !== DOCKER_ADDRESS_SPACE)) {
    throw invalid(`-o ${DRIVER_OPTION}=overlay needs --ipam-driver cnm: an overlay network's addresses are given out cluster-wide by cnm (Docker's default IPAM would give the same address on two hosts)`);
  }
  return { name: shared, labels: {}, attachable: true, ...common };
}

export function networkIdOf(raw: unknown): string {
  return id(object(raw, 'the request'), 'NetworkID');
}

export function endpointIdOf(raw: unknown): string {
  return id(object(raw, 'the request'), 'EndpointID');
}

export interface EndpointRequestParsed extends HandoffRequest {
  /** what Docker already gave (the response must not repeat it) */
  given: { address: boolean; addressIPv6: boolean; mac: boolean };
}

/** CreateEndpoint: Docker's IPAM has chosen the addresses (Interface.Address, AddressIPv6). */
export function createEndpointRequest(raw: unknown): EndpointRequestParsed {
  const body = object(raw, 'the request');
  const iface = object(body.Interface ?? {}, 'Interface');
  const text = (k: string): string | undefined => (typeof iface[k] === 'string' && iface[k] ? (iface[k] as string) : undefined);
  const ipv4 = text('Address');
  const ipv6 = text('AddressIPv6');
  const mac = text('MacAddress');
  return {
    dockerNetworkId: id(body, 'NetworkID'),
    dockerEndpointId: id(body, 'EndpointID'),
    ...(ipv4 ? { ipv4 } : {}),
    ...(ipv6 ? { ipv6 } : {}),
    ...(mac ? { mac } : {}),
    given: { address: Boolean(ipv4), addressIPv6: Boolean(ipv6), mac: Boolean(mac) },
  };
}

/** What cnm chose that Docker did not give: libnetwork refuses a response that changes a given field. */
export function createEndpointResponse(req: EndpointRequestParsed, h: Handoff): { Interface: Record<string, string> } {
  const out: Record<string, string> = {};
  if (!req.given.mac && h.endpoint.mac) out.MacAddress = h.endpoint.mac;
  if (!req.given.address && h.endpoint.ipv4) out.Address = h.endpoint.ipv4;
  if (!req.given.addressIPv6 && h.endpoint.ipv6) out.AddressIPv6 = h.endpoint.ipv6;
  return { Interface: out };
}

/** Join: the interface to move into the container (renamed DstPrefix + N), and its gateways. */
export function joinResponse(h: Handoff): Record<string, unknown> {
  return {
    InterfaceName: { SrcName: h.endpoint.ifName, DstPrefix: 'eth' },
    ...(h.gatewayV4 ? { Gateway: h.gatewayV4 } : {}),
    ...(h.gatewayV6 ? { GatewayIPv6: h.gatewayV6 } : {}),
    StaticRoutes: [],
    DisableGatewayService: false,
  };
}

/** A failure's text as a Docker user reads it in the CLI. */
export function errorText(err: unknown): string {
  if (err instanceof PluginRequestError) return `cnm: bad plugin request: ${err.message}`;
  if (err instanceof CnmError) return `cnm: ${err.message}`;
  return `cnm failed: ${messageOf(err)}`;
}

/**
 * A failure as libnetwork reads it: the network driver protocol's responses carry it in "Err",
 * the IPAM protocol's in "Error" (each side decodes only its own field).
 */
export function errorResponse(path: string, err: unknown): { Err: string } | { Error: string } {
  const text = errorText(err);
  return path.startsWith('/IpamDriver.') ? { Error: text } : { Err: text };
}

export const CAPABILITIES = { Scope: 'local', ConnectivityScope: 'local' };

// ---- IpamDriver (libnetwork's IPAM plugin protocol, summarised in src/docker-plugin/README.md) ----

export const IPAM_CAPABILITIES = { RequiresMACAddress: false, RequiresRequestReplay: false };

/** Docker asks for the address spaces once; cnm has one, used for local and global requests. */
export function addressSpacesResponse(space: string): Record<string, string> {
  return { LocalDefaultAddressSpace: space, GlobalDefaultAddressSpace: space };
}

export interface PoolRequestParsed {
  pool?: string;
  subPool?: string;
  v6: boolean;
}

export function requestPoolRequest(raw: unknown, space: string): PoolRequestParsed {
  const body = object(raw, 'the request');
  if (body.AddressSpace !== undefined && body.AddressSpace !== '' && body.AddressSpace !== space) {
    throw invalid(`cnm's IPAM has one address space, "${space}", not "${String(body.AddressSpace)}"`);
  }
  const text = (k: string): string | undefined => (typeof body[k] === 'string' && body[k] ? (body[k] as string) : undefined);
  const pool = text('Pool');
  const subPool = text('SubPool');
  return { ...(pool ? { pool } : {}), ...(subPool ? { subPool } : {}), v6: truthy(body.V6) };
}

export function poolIdOf(raw: unknown): string {
  const v = object(raw, 'the request').PoolID;
  if (typeof v !== 'string' || !v) throw new PluginRequestError('PoolID is missing');
  return v;
}

/** RequestAddress/ReleaseAddress: the pool and the address (bare or CIDR; empty = any). */
export function addressRequest(raw: unknown): { poolId: string; address?: string } {
  const body = object(raw, 'the request');
  const address = typeof body.Address === 'string' && body.Address ? bare(body.Address) : undefined;
  return { poolId: poolIdOf(body), ...(address ? { address } : {}) };
}

const PORT_MAP = 'com.docker.network.portmap';
/** Go's syscall protocol numbers, as libnetwork's PortBinding.Proto marshals them. */
const PROTOCOLS: Record<number, 'tcp' | 'udp'> = { 6: 'tcp', 17: 'udp' };

/** ProgramExternalConnectivity: the endpoint and its -p ports ({Proto, Port, HostIP, HostPort, HostPortEnd}). */
export function externalConnectivityRequest(raw: unknown): { endpointId: string; publish: PublishedPortRequest[] } {
  const body = object(raw, 'the request');
  const endpointId = id(body, 'EndpointID');
  const options = object(body.Options ?? {}, 'Options');
  const map = options[PORT_MAP] ?? [];
  if (!Array.isArray(map)) throw new PluginRequestError(`${PORT_MAP} must be a list`);
  const publish = map.map((rawBinding: unknown): PublishedPortRequest => {
    const b = object(rawBinding, PORT_MAP);
    const proto = PROTOCOLS[Number(b.Proto)];
    if (!proto) throw invalid(`cnm publishes tcp and udp ports only (protocol number ${String(b.Proto)})`);
    const port = Number(b.Port);
    const start = Number(b.HostPort ?? 0);
    const end = Number(b.HostPortEnd ?? 0) || start;
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new PluginRequestError(`bad container port ${String(b.Port)}`);
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > 65535) throw new PluginRequestError(`bad host port range ${String(b.HostPort)}-${String(b.HostPortEnd)}`);
    const hostIp = typeof b.HostIP === 'string' && b.HostIP !== '<nil>' ? b.HostIP : '';
    return { proto, containerPort: port, hostIp, hostPortStart: start, hostPortEnd: end };
  });
  return { endpointId, publish };
}
