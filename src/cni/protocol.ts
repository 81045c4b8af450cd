/**
 * The CNI protocol as cnm speaks it (containernetworking/cni SPEC.md, summarised in
 * src/cni/README.md): what the `cnm` plugin hands cnmd, how that is checked, and how a result is
 * shaped for the version the runtime asked for. Pure: no I/O, unit-tested without root.
 */
import type { PublishedPortRequest } from '../controller/model';

/** Versions whose result shape cnm writes; 0.1.0/0.2.0 results had another shape (ip4/ip6). */
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];

/** CNI's well-known error codes (SPEC.md "Error"); 100 and up are cnm's own. */
export const CniCode = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnvironment: 4,
  ioFailure: 5,
  decodeFailure: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  notAvailable: 50,
  /** cnmd refused the request as it stands (an address in use, a name taken, an incomplete attachment) */
  refused: 100,
  /** cnmd failed doing what it should have been able to do */
  internal: 101,
} as const;

export class CniError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly details = '',
  ) {
    super(message);
    this.name = 'CniError';
  }
}

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS';

/** The body the plugin posts to cnmd: the CNI environment, and the configuration from stdin. */
export interface PluginRequest {
  command: string;
  containerId: string;
  netns: string;
  ifName: string;
  args: string;
  path: string;
  config: unknown;
}

export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
  hostIP: string;
}

/** A checked request, in the controller's terms. */
export interface CniRequest {
  command: CniCommand;
  version: CniVersion;
  network: string;
  containerId: string;
  ifName: string;
  netns: string;
  /** K8S_POD_NAME, or the container id when the runtime gives no name (ctr) */
  name: string;
  aliases: string[];
  ipv4?: string;
  ipv6?: string;
  mac?: string;
  publish: PublishedPortRequest[];
  /** GC: the attachments the runtime still has on this network */
  validAttachments?: { containerId: string; ifName: string }[];
}

const COMMANDS: readonly string[] = ['ADD', 'DEL', 'CHECK', 'GC', 'STATUS'];
/** Runtimes pass interface names to the kernel: IFNAMSIZ - 1 characters, no '/' or space. */
const IFNAME = /^[^\s/:]{1,15}$/;
/** Podman's and containerd's ids; CNI only asks for alphanumerics plus '_', '.' and '-'. */
const CONTAINER_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const MAC = /^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** CNI_ARGS: "K=V;K=V". A pair without '=' is a malformed environment. */
export function parseCniArgs(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const pair of text.split(';')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new CniError(CniCode.invalidEnvironment, `CNI_ARGS has a malformed pair "${pair}": use KEY=VALUE separated by ';'`);
    out.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function configError(message: string): CniError {
  return new CniError(CniCode.invalidConfig, message);
}

/** The version a configuration (or a request without one) speaks; unknown versions are code 1. */
export function configVersion(config: unknown): CniVersion {
  const v = isObject(config) ? config.cniVersion : undefined;
  if (typeof v !== 'string' || !v) throw configError('the network configuration has no "cniVersion": add "cniVersion": "1.0.0" to the conflist');
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(v)) {
    throw new CniError(CniCode.incompatibleVersion, `CNI version ${v} is not supported by cnm: use one of ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  return v as CniVersion;
}

function stripPrefix(cidr: string): string {
  const slash = cidr.indexOf('/');
  return slash < 0 ? cidr : cidr.slice(0, slash);
}

function addresses(args: Map<string, string>, runtime: Record<string, unknown>): { ipv4?: string; ipv6?: string } {
  const asked: string[] = [];
  const fromArgs = args.get('IP');
  if (fromArgs) asked.push(...fromArgs.split(','));
  const ips = runtime.ips;
  if (ips !== undefined) {
    if (!Array.isArray(ips) || ips.some((ip) => typeof ip !== 'string')) throw configError('runtimeConfig.ips must be a list of addresses');
    asked.push(...(ips as string[]));
  }
  const out: { ipv4?: string; ipv6?: string } = {};
  for (const raw of asked) {
    const ip = stripPrefix(raw.trim());
    const v4 = IPV4.exec(ip);
    if (v4 && v4.slice(1).every((o) => Number(o) <= 255)) out.ipv4 ??= ip;
    else if (ip.includes(':')) out.ipv6 ??= ip;
    else throw new CniError(CniCode.invalidEnvironment, `"${raw}" is not an IP address: pass IP=<IPv4 or IPv6 address>`);
  }
  return out;
}

function portMappings(runtime: Record<string, unknown>): PublishedPortRequest[] {
  const list = runtime.portMappings;
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw configError('runtimeConfig.portMappings must be a list');
  return list.map((m: unknown) => {
    if (!isObject(m)) throw configError('runtimeConfig.portMappings has an entry that is not an object');
    const { hostPort, containerPort } = m;
    const protocol = (m.protocol ?? 'tcp') as string;
    const hostIP = (m.hostIP ?? '') as string;
    const valid = (p: unknown): p is number => Number.isInteger(p) && (p as number) > 0 && (p as number) <= 65535;
    if (!valid(containerPort)) throw configError(`portMappings: containerPort ${String(containerPort)} is not a port (1-65535)`);
    if (!valid(hostPort)) throw configError(`portMappings: hostPort ${String(hostPort)} is not a port (1-65535)`);
    if (protocol !== 'tcp' && protocol !== 'udp') throw configError(`portMappings: protocol "${protocol}" is not supported: use tcp or udp`);
    if (typeof hostIP !== 'string') throw configError('portMappings: hostIP must be a string');
    return { proto: protocol, containerPort, hostIp: hostIP, hostPortStart: hostPort, hostPortEnd: hostPort };
  });
}

function aliasesFor(runtime: Record<string, unknown>, network: string): string[] {
  const all = runtime.aliases;
  if (all === undefined || all === null) return [];
  if (!isObject(all)) throw configError('runtimeConfig.aliases must map network names to lists of names');
  const mine = all[network];
  if (mine === undefined || mine === null) return [];
  if (!Array.isArray(mine) || mine.some((a) => typeof a !== 'string')) throw configError(`runtimeConfig.aliases.${network} must be a list of names`);
  return mine as string[];
}

function validAttachments(config: Record<string, unknown>): { containerId: string; ifName: string }[] {
  const list = config['cni.dev/valid-attachments'] ?? [];
  if (!Array.isArray(list)) throw configError('"cni.dev/valid-attachments" must be a list');
  return list.map((a: unknown) => {
    if (!isObject(a) || typeof a.containerID !== 'string' || typeof a.ifname !== 'string') {
      throw configError('"cni.dev/valid-attachments" entries need "containerID" and "ifname"');
    }
    return { containerId: a.containerID, ifName: a.ifname };
  });
}

/**
 * Checks a plugin request and turns it into the controller's terms. Every refusal is a CniError
 * with the code a runtime expects: 4 for the environment, 7 for the configuration, 1 for the version.
 */
export function parseRequest(req: PluginRequest): CniRequest {
  if (!COMMANDS.includes(req.command)) throw new CniError(CniCode.invalidEnvironment, `CNI_COMMAND "${req.command}" is not one of ADD, DEL, CHECK, VERSION, GC, STATUS`);
  const command = req.command as CniCommand;
  const config = req.config;
  if (!isObject(config)) throw new CniError(CniCode.decodeFailure, 'the network configuration on stdin is not a JSON object');
  const version = configVersion(config);
  if (typeof config.name !== 'string' || !config.name) throw configError('the network configuration has no "name": it must be the name of a cnm network (cnm network ls)');
  if (config.type !== undefined && config.type !== 'cnm') throw configError(`the configuration's "type" is "${String(config.type)}", not "cnm"`);
  const runtime = config.runtimeConfig === undefined ? {} : config.runtimeConfig;
  if (!isObject(runtime)) throw configError('"runtimeConfig" must be an object');
  const perContainer = command === 'ADD' || command === 'DEL' || command === 'CHECK';
  if (perContainer) {
    if (!req.containerId) throw new CniError(CniCode.invalidEnvironment, 'CNI_CONTAINERID is not set');
    if (!CONTAINER_ID.test(req.containerId)) throw new CniError(CniCode.invalidEnvironment, `CNI_CONTAINERID "${req.containerId}" has characters CNI does not allow (letters, digits, '_', '.', '-')`);
    if (!req.ifName) throw new CniError(CniCode.invalidEnvironment, 'CNI_IFNAME is not set');
    if (!IFNAME.test(req.ifName)) throw new CniError(CniCode.invalidEnvironment, `CNI_IFNAME "${req.ifName}" is not a valid interface name (1-15 characters, no '/', ':' or space)`);
    if (command !== 'DEL' && !req.netns) throw new CniError(CniCode.invalidEnvironment, 'CNI_NETNS is not set: ADD and CHECK need the container network namespace');
  }
  if (version !== '1.1.0' && (command === 'GC' || command === 'STATUS')) {
    throw new CniError(CniCode.incompatibleVersion, `${command} needs cniVersion 1.1.0; the configuration says ${version}`);
  }
  const args = parseCniArgs(req.args);
  const podName = args.get('K8S_POD_NAME');
  const mac = args.get('MAC') ?? (typeof runtime.mac === 'string' ? runtime.mac : undefined);
  if (mac !== undefined && !MAC.test(mac)) throw new CniError(CniCode.invalidEnvironment, `MAC "${mac}" is not a MAC address (xx:xx:xx:xx:xx:xx)`);
  return {
    command,
    version,
    network: config.name,
    containerId: req.containerId,
    ifName: req.ifName,
    netns: req.netns,
    name: podName || req.containerId,
    aliases: aliasesFor(runtime, config.name),
    ...addresses(args, runtime),
    ...(mac ? { mac: mac.toLowerCase() } : {}),
    publish: command === 'ADD' ? portMappings(runtime) : [],
    ...(command === 'GC' ? { validAttachments: validAttachments(config) } : {}),
  };
}

/** What an attachment is, in the terms a CNI result reports. */
export interface AttachmentView {
  ifName: string;
  mac: string;
  netns: string;
  /** address/prefix */
  ipv4?: string;
  ipv6?: string;
  gatewayV4?: string;
  gatewayV6?: string;
  nameservers: string[];
}

/** A result in the asked version's shape: 0.3.x and 0.4.0 tag each address with its family. */
export function shapeResult(version: CniVersion, a: AttachmentView): Record<string, unknown> {
  const tagged = version.startsWith('0.');
  const ips: Record<string, unknown>[] = [];
  const routes: Record<string, unknown>[] = [];
  for (const [family, address, gateway] of [
    ['4', a.ipv4, a.gatewayV4],
    ['6', a.ipv6, a.gatewayV6],
  ] as const) {
    if (!address) continue;
    ips.push({ ...(tagged ? { version: family } : {}), address, ...(gateway ? { gateway } : {}), interface: 0 });
    if (gateway) routes.push({ dst: family === '4' ? '0.0.0.0/0' : '::/0', gw: gateway });
  }
  return {
    cniVersion: version,
    interfaces: [{ name: a.ifName, mac: a.mac, sandbox: a.netns }],
    ips,
    ...(routes.length ? { routes } : {}),
    dns: { nameservers: a.nameservers },
  };
}

export function errorBody(version: string, err: CniError): Record<string, unknown> {
  return { cniVersion: version, code: err.code, msg: err.message, ...(err.details ? { details: err.details } : {}) };
}
