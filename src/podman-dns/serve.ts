/**
 * The cnm-dns daemon (the child `cnm-dns run` forks): reads the configuration directory, writes
 * `aardvark.pid`, serves, reloads at once on SIGHUP, and exits when no network file remains,
 * removing its pid file, as aardvark-dns 1.4 does. Reports readiness (or why it could not start)
 * on the fd its parent gave it.
 */
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { isNetworkFileName, parseNetworkFile, PID_FILE, type PodmanNetwork } from './config';
import { planOf } from './plan';
import { PodmanDnsServer } from './server';

export interface ServeOptions {
  configDir: string;
  port: number;
  /** aardvark's --filter-search-domain, `.dns.podman` by default. */
  searchDomain: string;
  /** Unix socket serving GET /metrics (Prometheus text), or null for none. */
  metricsSocket: string | null;
  /** Where readiness goes ("ready\n" or "error: ...\n"), null in the foreground. */
  readyFd: number | null;
  log: (message: string) => void;
}

/** Every network file in dir, parsed, and what was wrong in them; unreadable files are skipped. */
export function readConfigDir(dir: string): { networks: PodmanNetwork[]; problems: string[] } {
  const networks: PodmanNetwork[] = [];
  const problems: string[] = [];
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    // The directory itself is gone (its tmpfs unmounted, say): no network left.
    return { networks, problems: [`cannot read ${dir}: ${(err as Error).message}`] };
  }
  for (const entry of entries) {
    if (!entry.isFile() || !isNetworkFileName(entry.name)) continue;
    let text: string;
    try {
      text = fs.readFileSync(path.join(dir, entry.name), 'utf8');
    } catch {
      continue; // removed while we read the directory: its network is gone
    }
    const parsed = parseNetworkFile(entry.name, text);
    problems.push(...parsed.problems);
    if (parsed.network !== null) networks.push(parsed.network);
  }
  return { networks, problems };
}

export async function serve(opts: ServeOptions): Promise<void> {
  const pidFile = path.join(opts.configDir, PID_FILE);
  const domain = opts.searchDomain.replace(/^\.+|\.+$/g, '');
  const tell = (line: string): void => {
    if (opts.readyFd === null) return;
    try {
      fs.writeSync(opts.readyFd, `${line}\n`);
      fs.closeSync(opts.readyFd);
    } catch {
      // the parent is gone: nobody to tell
    }
    opts.readyFd = null;
  };
  const fail = (message: string): never => {
    opts.log(message);
    tell(`error: ${message}`);
    removePidFile(pidFile);
    process.exit(1);
  };

  if (!fs.statSync(opts.configDir, { throwIfNoEntry: false })?.isDirectory()) fail(`config directory ${opts.configDir} must exist and be a directory`);
  // Node's default for SIGHUP is to exit: catch it before anyone can find the pid file. One that
  // comes before the first plan is live is taken right after it (a kill of a stale pid file's
  // process, say).
  let started = false;
  let hupWhileStarting = false;
  process.on('SIGHUP', () => {
    if (started) requestReload();
    else hupWhileStarting = true;
  });
  const first = readConfigDir(opts.configDir);
  for (const p of first.problems) opts.log(p);
  let networks = first.networks;
  if (networks.length === 0) fail(`no network configuration in ${opts.configDir}: nothing to serve${first.problems.length > 0 ? ` (${first.problems.join('; ')})` : ''}`);

  const server = new PodmanDnsServer({ port: opts.port, domain, resolvConfPath: '/etc/resolv.conf', ttl: 86400, log: opts.log });
  let metrics: http.Server | null = null;
  const stop = async (code: number): Promise<never> => {
    removePidFile(pidFile);
    await server.close();
    if (metrics !== null) metrics.close();
    process.exit(code);
  };
  try {
    await server.apply(planOf(networks, domain));
  } catch (err) {
    await server.close();
    fail((err as Error).message);
  }
  if (server.listening().length === 0) {
    await server.close();
    fail(`none of the gateway addresses (${networks.flatMap((n) => n.gateways).join(', ')}) is on this host`);
  }

  // Reloads run one after another; a SIGHUP during one makes exactly one more.
  let reloading: Promise<void> | null = null;
  let again = false;
  const reload = async (): Promise<void> => {
    do {
      again = false;
      const read = readConfigDir(opts.configDir);
      for (const p of read.problems) opts.log(p);
      networks = read.networks;
      if (networks.length === 0) {
        opts.log('no network configuration left: exiting');
        await stop(0);
      }
      await server.apply(planOf(networks, domain)).catch((err: unknown) => opts.log((err as Error).message));
    } while (again);
  };
  function requestReload(): void {
    if (reloading !== null) {
      again = true;
      return;
    }
    reloading = reload().finally(() => (reloading = null));
  }
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
  // Only a server that listens names itself: a second one that cannot bind leaves the running
  // one's pid file alone. netavark holds its lock until run returns: nothing changes meanwhile.
  fs.writeFileSync(pidFile, String(process.pid));
  started = true;
  if (hupWhileStarting) requestReload();
  tell('ready');
  // After ready: node:http is a tenth of the start-up netavark waits for.
  if (opts.metricsSocket !== null) metrics = await serveMetrics(opts.metricsSocket, server, opts.log);
}

function removePidFile(pidFile: string): void {
  try {
    if (fs.readFileSync(pidFile, 'utf8').trim() === String(process.pid)) fs.unlinkSync(pidFile);
  } catch {
    // not ours or already gone
  }
}

async function serveMetrics(socketPath: string, server: PodmanDnsServer, log: (message: string) => void): Promise<http.Server> {
  const http = await import('node:http');
  try {
    if (fs.statSync(socketPath, { throwIfNoEntry: false })?.isSocket()) fs.unlinkSync(socketPath);
  } catch {
    // left for listen() to report
  }
  const http_ = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
      res.end(server.renderMetrics());
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('cnm-dns serves GET /metrics only\n');
    }
  });
  http_.on('error', (err) => log(`metrics socket ${socketPath}: ${err.message}`));
  http_.listen(socketPath);
  http_.unref();
  const close = http_.close.bind(http_);
  http_.close = ((cb?: (err?: Error) => void) => {
    try {
      fs.unlinkSync(socketPath);
    } catch {
      // gone
    }
    return close(cb);
  }) as typeof http_.close;
  return http_;
}
