/** Network sysctls, in the daemon's namespace or inside a namespace file. */
import fs from 'node:fs';
import { runInNetns } from './native';

const keyPath = (key: string): string => `/proc/sys/${key.replace(/\./g, '/')}`;

/**
 * Writes a sysctl such as "net.ipv4.conf.br-x.route_localnet". /proc/sys/net is resolved in the
 * namespace of the thread that opens it, so the write happens inside runInNetns.
 */
export function writeSysctl(key: string, value: string, nsPath?: string): void {
  // Interface names may contain dots; only the prefix's dots are separators.
  const write = (): void => fs.writeFileSync(sysctlFile(key), value);
  if (nsPath) runInNetns(nsPath, write);
  else write();
}

export function readSysctl(key: string, nsPath?: string): string {
  const read = (): string => fs.readFileSync(sysctlFile(key), 'utf8').trim();
  return nsPath ? runInNetns(nsPath, read) : read();
}

/** net.ipv4.conf.<ifname>.<leaf>: the interface name is kept whole even if it has dots. */
function sysctlFile(key: string): string {
  const m = /^(net\.ipv[46]\.(?:conf|neigh)\.)(.+)\.([a-z_0-9]+)$/.exec(key);
  if (m) return `${keyPath(m[1]!.slice(0, -1))}/${m[2]}/${m[3]}`;
  return keyPath(key);
}
