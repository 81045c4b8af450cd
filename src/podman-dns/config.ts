/**
 * aardvark-dns 1.4's configuration directory, as netavark 1.4 writes it (src/podman-dns/README.md):
 * one file per network, named after the network (`%int` suffix: internal, from aardvark 1.11),
 * plus `aardvark.pid`. Line 1: `gw4[,gw6][ dns1,dns2]` (the gateway addresses to listen on, then
 * the network's DNS servers); each further line one container:
 * `<id> <v4,...> <v6,...> <name,alias,...>[ dns,...]` (an empty field is an empty string).
 * Pure: text in, plain data and problems out.
 */
import { isIPv4, isIPv6, isIP } from 'node:net';

export const PID_FILE = 'aardvark.pid';
const INTERNAL_SUFFIX = '%int';

export interface PodmanContainer {
  /** Lower-cased, as aardvark does. */
  readonly id: string;
  readonly ipv4: readonly string[];
  readonly ipv6: readonly string[];
  /** Container name, aliases, short id; lower-cased. */
  readonly names: readonly string[];
  /** `podman run --dns` servers, when netavark wrote them (5th field). */
  readonly dnsServers: readonly string[];
}

export interface PodmanNetwork {
  readonly name: string;
  readonly internal: boolean;
  /** Where the resolver listens for this network (v4 and v6). */
  readonly gateways: readonly string[];
  /** Network-scoped DNS servers (line 1, second field). */
  readonly dnsServers: readonly string[];
  readonly containers: readonly PodmanContainer[];
}

export interface ParsedFile {
  network: PodmanNetwork | null;
  problems: string[];
}

/** Files in the directory that are not networks. */
export function isNetworkFileName(name: string): boolean {
  return name !== PID_FILE && !name.startsWith('.') && name !== INTERNAL_SUFFIX;
}

function ipList(field: string, check: (s: string) => boolean): string[] | null {
  if (field === '') return [];
  const items = field.split(',');
  return items.every(check) ? items : null;
}

/**
 * One network file. A bad first line rejects the file (nothing to listen on); a bad container
 * line is skipped with a problem (aardvark 1.4 rejects the whole directory instead, and a reload
 * with one bad file would stop its server: we keep serving everything else).
 */
export function parseNetworkFile(fileName: string, text: string): ParsedFile {
  const problems: string[] = [];
  const internal = fileName.endsWith(INTERNAL_SUFFIX);
  const name = internal ? fileName.slice(0, -INTERNAL_SUFFIX.length) : fileName;
  const lines = text.split('\n').filter((line) => line !== '');
  const first = lines.shift();
  if (first === undefined) return { network: null, problems: [`${fileName}: empty file, expected the gateway line "gw4[,gw6][ dns1,dns2]"`] };
  const head = first.split(' ');
  const gateways = ipList(head[0]!, (s) => isIP(s) !== 0);
  const dnsServers = head.length > 1 ? ipList(head[1]!, (s) => isIP(s) !== 0) : [];
  if (gateways === null || gateways.length === 0 || dnsServers === null || head.length > 2) {
    return { network: null, problems: [`${fileName} line 1: ${JSON.stringify(first)} is not "gw4[,gw6][ dns1,dns2]" (IP addresses separated by commas)`] };
  }
  const containers: PodmanContainer[] = [];
  const seen = new Set<string>();
  lines.forEach((line, i) => {
    const where = `${fileName} line ${i + 2}`;
    const parts = line.split(' ');
    if (parts.length < 4 || parts.length > 5) {
      problems.push(`${where}: ${JSON.stringify(line)} is not "<id> <v4,...> <v6,...> <name,alias,...>[ dns,...]"`);
      return;
    }
    const [rawId, v4Field, v6Field, namesField, dnsField = ''] = parts as [string, string, string, string, string?];
    const ipv4 = ipList(v4Field, isIPv4);
    const ipv6 = ipList(v6Field, isIPv6);
    const servers = ipList(dnsField, (s) => isIP(s) !== 0);
    const names = namesField.split(',').filter(Boolean).map((n) => n.toLowerCase());
    const id = rawId.toLowerCase();
    if (id === '') problems.push(`${where}: no container id`);
    else if (ipv4 === null) problems.push(`${where}: ${JSON.stringify(v4Field)} is not a list of IPv4 addresses`);
    else if (ipv6 === null) problems.push(`${where}: ${JSON.stringify(v6Field)} is not a list of IPv6 addresses`);
    else if (servers === null) problems.push(`${where}: ${JSON.stringify(dnsField)} is not a list of DNS server addresses`);
    else if (names.length === 0) problems.push(`${where}: no container name`);
    else if (seen.has(id)) problems.push(`${where}: container ${id} is listed twice; the first line is used`);
    else {
      seen.add(id);
      containers.push({ id, ipv4, ipv6, names, dnsServers: servers });
    }
  });
  return { network: { name, internal, gateways, dnsServers, containers }, problems };
}

/** Renders a network file the way netavark 1.4 writes it (tests, bench). */
export function renderNetworkFile(network: PodmanNetwork): string {
  const head = network.gateways.join(',') + (network.dnsServers.length > 0 ? ` ${network.dnsServers.join(',')}` : '');
  const lines = network.containers.map((c) => {
    const fields = [c.id, c.ipv4.join(','), c.ipv6.join(','), c.names.join(',')];
    if (c.dnsServers.length > 0) fields.push(c.dnsServers.join(','));
    return fields.join(' ');
  });
  return [head, ...lines].join('\n') + '\n';
}
