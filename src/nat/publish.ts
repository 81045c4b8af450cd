/**
 * `-p`/`--publish` specs, parsed the way Docker parses them (go-connections nat.ParsePortSpec):
 * `[IP:][HOSTPORT[-END]:]PORT[-END][/tcp|/udp]`, IPv6 host addresses in brackets, with Docker's
 * error texts. The result is a list of port requests for the allocator (./ports.ts).
 */
import { invalid } from '../errors';
import { canonicalIp } from './validate';
import type { NatProto } from './state';

export interface PortRequest {
  proto: NatProto;
  /** The host address to bind, canonical; '' when the spec named none (Docker: all addresses). */
  hostIp: string;
  /**
   * Host ports to pick from: both 0 for an ephemeral port, equal for one fixed port, a range
   * (`8000-8010:80`) to take the first free port of.
   */
  hostPortStart: number;
  hostPortEnd: number;
  containerPort: number;
}

/** Parses one `-p` value; throws CnmError('invalid') with Docker's message. */
export function parsePublish(spec: string): PortRequest[] {
  const [rawIp, hostPort, rest] = splitParts(spec);
  const [protoText, containerPort] = splitProtoPort(rest);

  let ip = rawIp;
  if (ip.startsWith('[')) {
    if (!ip.endsWith(']') || ip.length < 3) throw invalid(`Invalid ip address ${ip}: missing ']' in address`);
    ip = ip.slice(1, -1);
  }
  const hostIp = parseHostIp(ip);
  if (containerPort === '') throw invalid(`No port specified: ${spec}<empty>`);

  const container = parsePortRange(containerPort);
  if (!container || container.start === 0) throw invalid(`Invalid containerPort: ${containerPort}`);
  let host = { start: 0, end: 0 };
  if (hostPort !== '') {
    const parsed = parsePortRange(hostPort);
    if (!parsed) throw invalid(`Invalid hostPort: ${hostPort}`);
    host = parsed;
  }
  const containerCount = container.end - container.start;
  if (hostPort !== '' && containerCount !== host.end - host.start && containerCount !== 0) {
    // A host range with one container port is allowed: it is the range to pick a free port from.
    throw invalid(`Invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`);
  }
  const proto = protoText.toLowerCase();
  if (proto === 'sctp') throw invalid(`cnm publishes tcp and udp ports only: ${containerPort}/sctp`);
  if (proto !== 'tcp' && proto !== 'udp') throw invalid(`Invalid proto: ${protoText}`);

  const requests: PortRequest[] = [];
  for (let i = 0; i <= containerCount; i++) {
    const oneToOne = containerCount > 0 && hostPort !== '';
    requests.push({
      proto,
      hostIp,
      hostPortStart: oneToOne ? host.start + i : host.start,
      hostPortEnd: oneToOne ? host.start + i : host.end,
      containerPort: container.start + i,
    });
  }
  return requests;
}

/**
 * One `HostConfig.PortBindings` entry of the Engine API (`"80/tcp": [{HostIp, HostPort}, ...]`),
 * with the checks and the canonical host address a `-p` spec gets. The key is checked even when
 * it has no bindings.
 */
export function parsePortBindings(key: string, bindings: { hostIp: string; hostPort: string }[]): PortRequest[] {
  const m = /^(\d+)(?:\/(tcp|udp|sctp))?$/.exec(key);
  const containerPort = m ? Number(m[1]) : 0;
  if (!m || containerPort < 1 || containerPort > 65535) throw invalid(`invalid port specification: "${key}"`);
  const proto = m[2] ?? 'tcp';
  if (proto === 'sctp') throw invalid(`cnm publishes tcp and udp ports only: ${containerPort}/sctp`);
  return bindings.map(({ hostIp, hostPort }) => {
    const host = hostPort === '' ? { start: 0, end: 0 } : parsePortRange(hostPort);
    if (!host) throw invalid(`Invalid hostPort: ${hostPort}`);
    return { proto: proto as NatProto, hostIp: parseHostIp(hostIp), hostPortStart: host.start, hostPortEnd: host.end, containerPort };
  });
}

function parseHostIp(ip: string): string {
  if (ip === '') return '';
  try {
    return canonicalIp(ip);
  } catch {
    throw invalid(`Invalid ip address: ${ip}`);
  }
}

/** Docker's splitParts: the last part is the container port, the one before the host port. */
function splitParts(spec: string): [ip: string, hostPort: string, containerPort: string] {
  const parts = spec.split(':');
  const n = parts.length;
  const last = parts[n - 1]!;
  if (n === 1) return ['', '', last];
  if (n === 2) return ['', parts[0]!, last];
  return [parts.slice(0, n - 2).join(':'), parts[n - 2]!, last];
}

/** Docker's SplitProtoPort: `80/udp` → [udp, 80]; no protocol means tcp. */
function splitProtoPort(raw: string): [proto: string, port: string] {
  const parts = raw.split('/');
  if (raw === '' || parts[0] === '') return ['', ''];
  if (parts.length === 1 || parts[1] === '') return ['tcp', parts[0]!];
  return [parts[1]!, parts[0]!];
}

/** `80` or `80-90` with each side a 16-bit number (Go's ParseUint(s, 10, 16)); null if invalid. */
function parsePortRange(text: string): { start: number; end: number } | null {
  const parts = text.split('-');
  if (parts.length > 2) return null;
  const numbers = parts.map((p) => (/^\d{1,5}$/.test(p) ? Number(p) : NaN));
  if (numbers.some((p) => !(p <= 65535))) return null;
  const start = numbers[0]!;
  const end = numbers[1] ?? start;
  return end < start ? null : { start, end };
}
