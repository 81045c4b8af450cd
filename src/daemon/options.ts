/** cnmd's command line. */
import fs from 'node:fs';
import path from 'node:path';
import { invalid } from '../errors';
import { parseAddressPoolFlag } from '../ipam/flags';
import type { PoolSpec } from '../ipam';
import type { Level } from '../log';

export interface DaemonOptions {
  root: string;
  execRoot: string;
  socket: string;
  /** gid owning the socket (from --group NAME|GID) */
  socketGid?: number;
  /** Unix socket serving Docker's remote network driver protocol (--docker-plugin) */
  dockerPlugin?: string;
  /** loopback TCP listener */
  tcp?: { host: string; port: number };
  dns: string[];
  dnsTtl: number;
  dnsMaxInflight: number;
  resolvConf: string;
  defaultAddressPools: PoolSpec[];
  logLevel: Level;
  clusterStore?: string;
  clusterAdvertise?: string;
}

export const USAGE = `Usage: cnmd [OPTIONS]

cnm's daemon: networks, sandboxes and their embedded DNS, served over a Docker-compatible API.

Options:
      --root DIR                    State directory (default "/var/lib/cnm")
      --exec-root DIR               Run directory: socket, namespaces, sandbox files (default "/run/cnm")
  -H, --socket PATH                 API socket (default "<exec-root>/cnm.sock"; unix:// prefix accepted)
      --group GROUP                 Group owning the API socket (mode 0660)
      --tcp HOST:PORT               Also serve the API on loopback TCP (no TLS: loopback only)
      --dns IP[:PORT]               Upstream DNS server for sandboxes (repeatable; default: the host's resolv.conf)
      --dns-ttl SECONDS             TTL of the embedded DNS's own answers (default 600)
      --dns-max-inflight N          Forwarded queries in flight before new ones are refused (default 1024)
      --resolv-conf PATH            The host resolv.conf to follow (default "/etc/resolv.conf")
      --default-address-pool base=CIDR,size=N
                                    Pool for automatic subnets (repeatable; replaces the defaults)
      --cluster-store etcd://HOST:PORT[,HOST:PORT...]
                                    Shared store for overlay networks
      --cluster-advertise ADDRESS   This host's address on the underlay (with --cluster-store)
      --docker-plugin PATH          Also serve Docker's network driver plugin protocol on the Unix
                                    socket PATH (/run/docker/plugins/cnm.sock → docker network create -d cnm)
      --log-level LEVEL             debug, info, warn or error (default "info")
  -h, --help                        Print this help
`;

const LEVELS = new Set(['debug', 'info', 'warn', 'error']);

export function parseDaemonArgs(argv: string[]): DaemonOptions | 'help' {
  const o: DaemonOptions = {
    root: '/var/lib/cnm',
    execRoot: '/run/cnm',
    socket: '',
    dns: [],
    dnsTtl: 600,
    dnsMaxInflight: 1024,
    resolvConf: '/etc/resolv.conf',
    defaultAddressPools: [],
    logLevel: 'info',
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') return 'help';
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (arg.startsWith('--') && eq > 0) return arg.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw invalid(`flag needs an argument: ${name}`);
      return v;
    };
    switch (name) {
      case '--root': o.root = value(); break;
      case '--exec-root': o.execRoot = value(); break;
      case '-H':
      case '--socket': o.socket = value().replace(/^unix:\/\//, ''); break;
      case '--group': o.socketGid = groupId(value()); break;
      case '--tcp': o.tcp = parseTcp(value()); break;
      case '--dns': o.dns.push(value()); break;
      case '--dns-ttl': o.dnsTtl = positiveInt(name, value()); break;
      case '--dns-max-inflight': o.dnsMaxInflight = positiveInt(name, value()); break;
      case '--resolv-conf': o.resolvConf = value(); break;
      case '--default-address-pool': o.defaultAddressPools.push(parseAddressPoolFlag(value())); break;
      case '--cluster-store': o.clusterStore = value(); break;
      case '--cluster-advertise': o.clusterAdvertise = value(); break;
      case '--docker-plugin': o.dockerPlugin = path.resolve(value().replace(/^unix:\/\//, '')); break;
      case '--log-level': {
        const level = value();
        if (!LEVELS.has(level)) throw invalid(`invalid log level "${level}": use debug, info, warn or error`);
        o.logLevel = level as Level;
        break;
      }
      default:
        throw invalid(`unknown flag: ${arg}\nSee 'cnmd --help'.`);
    }
  }
  // Absolute from here on: paths are handed to namespaces, other processes and the kernel.
  o.root = path.resolve(o.root);
  o.execRoot = path.resolve(o.execRoot);
  if (!o.socket) o.socket = `${o.execRoot}/cnm.sock`;
  if (Boolean(o.clusterStore) !== Boolean(o.clusterAdvertise)) {
    throw invalid('--cluster-store and --cluster-advertise go together: the store to share overlay networks through, and this host\'s address on the underlay');
  }
  for (const d of o.dns) {
    if (!/^[0-9a-fA-F.:[\]]+$/.test(d)) throw invalid(`invalid --dns "${d}": use an IP address, optionally with :PORT`);
  }
  return o;
}

/** A group name (looked up in /etc/group) or a numeric gid, checked before anything starts. */
function groupId(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  const line = fs
    .readFileSync('/etc/group', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[0] === group);
  if (!line) throw invalid(`--group ${group}: no such group in /etc/group`);
  return Number(line.split(':')[2]);
}

/** 127.x.y.z:PORT, [::1]:PORT or localhost:PORT: without TLS the API stays on this machine. */
export function parseTcp(v: string): { host: string; port: number } {
  const m = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]|localhost):(\d{1,5})$/.exec(v);
  if (!m || Number(m[2]) > 65535 || m[1]!.split('.').some((b) => Number(b) > 255)) {
    throw invalid(`--tcp ${v}: only a loopback address and a port are allowed until TLS exists (e.g. 127.0.0.1:2375)`);
  }
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

function positiveInt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw invalid(`invalid value "${v}" for ${name}: use a positive integer`);
  return n;
}
