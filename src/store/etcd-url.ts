/** `--cluster-store etcd://HOST:PORT[,HOST:PORT...]` parsed into the etcd client's hosts. Pure. */
import { invalid } from '../errors';

const HOST = /^(\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9.-]+):(\d{1,5})$/;

/** The members' gRPC addresses, `HOST:PORT` each (the client takes an array). */
export function parseClusterStoreUrl(value: string): string[] {
  const match = /^etcd:\/\/(.+)$/.exec(value.trim());
  if (!match) throw invalid(`invalid --cluster-store "${value}": use etcd://HOST:PORT[,HOST:PORT...]`);
  const hosts = match[1]!.split(',').map((h) => h.trim().replace(/\/+$/, ''));
  for (const host of hosts) {
    const m = HOST.exec(host);
    const port = m ? Number(m[2]) : 0;
    if (!m || port < 1 || port > 65535) throw invalid(`invalid etcd member "${host}" in --cluster-store: use HOST:PORT`);
  }
  return [...new Set(hosts)];
}
