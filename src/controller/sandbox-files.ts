/**
 * The files a sandbox's programs see as /etc/resolv.conf, /etc/hosts and /etc/hostname,
 * rendered from state (pure) and written in place: processes bind-mount these inodes, so a
 * rename would leave them reading the old file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isLoopbackAddress, renderResolvConf, type ResolvConf } from '../os/resolvconf';
import { EMBEDDED_DNS } from '../resolver';

/** What Docker writes when no usable upstream is left. */
const FALLBACK_NAMESERVERS = ['8.8.8.8', '8.8.4.4'];

const HOSTS_HEADER = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

export interface ResolvInput {
  /** the sandbox is on at least one network with the embedded DNS */
  embeddedDns: boolean;
  /** the sandbox uses the host's namespace, where loopback upstreams are reachable */
  hostNamespace: boolean;
  /** --dns / --dns-search / --dns-option of the sandbox */
  user: { servers: string[]; search: string[]; options: string[] };
  /** upstreams of the daemon (cnmd --dns, else the host's resolv.conf) and the host's search/options */
  host: ResolvConf;
}

export function sandboxResolvConf(input: ResolvInput): ResolvConf {
  const search = input.user.search.length ? input.user.search : input.host.search;
  if (input.embeddedDns) {
    const userNdots = input.user.options.some((o) => o.startsWith('ndots:'));
    return { nameservers: [EMBEDDED_DNS], search, options: userNdots ? input.user.options : ['ndots:0', ...input.user.options] };
  }
  const servers = input.user.servers.length ? input.user.servers : input.host.nameservers;
  // A sandbox's own namespace cannot reach the host's loopback resolver (127.0.0.53 and the like).
  const usable = input.hostNamespace ? servers : servers.filter((s) => !isLoopbackAddress(s));
  return {
    nameservers: usable.length ? usable : FALLBACK_NAMESERVERS,
    search,
    options: input.user.options.length ? input.user.options : input.host.options,
  };
}

export interface HostsInput {
  hostname: string;
  domainname: string;
  extraHosts: string[]; // "name:ip"
  /** the sandbox's addresses, in connect order (without prefix) */
  addresses: string[];
}

export function sandboxHosts(input: HostsInput): string {
  const lines = [...HOSTS_HEADER];
  for (const entry of input.extraHosts) {
    const sep = entry.indexOf(':');
    lines.push(`${entry.slice(sep + 1)}\t${entry.slice(0, sep)}`);
  }
  const names = input.domainname ? `${input.hostname}.${input.domainname} ${input.hostname}` : input.hostname;
  for (const address of input.addresses) lines.push(`${address}\t${names}`);
  return `${lines.join('\n')}\n`;
}

export interface SandboxPaths {
  dir: string;
  resolvConf: string;
  hosts: string;
  hostname: string;
}

export function sandboxPaths(execRoot: string, id: string): SandboxPaths {
  const dir = path.join(execRoot, 'sandboxes', id);
  return { dir, resolvConf: path.join(dir, 'resolv.conf'), hosts: path.join(dir, 'hosts'), hostname: path.join(dir, 'hostname') };
}

/** Writes content into the existing inode (truncate + write), creating the file if needed. */
export function writeInPlace(file: string, content: string): void {
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT, 0o644);
  try {
    fs.ftruncateSync(fd, 0);
    fs.writeSync(fd, content, 0, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
}

export function writeSandboxFiles(paths: SandboxPaths, files: { resolvConf: ResolvConf; hosts: string; hostname: string }): void {
  fs.mkdirSync(paths.dir, { recursive: true, mode: 0o755 });
  writeInPlace(paths.resolvConf, renderResolvConf(files.resolvConf));
  writeInPlace(paths.hosts, files.hosts);
  writeInPlace(paths.hostname, `${files.hostname}\n`);
}
