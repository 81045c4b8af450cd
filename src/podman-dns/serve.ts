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

/** Every network file in dir, parsed; problems are logged, unreadable files skipped. */
export function readConfigDir(dir: string, log: (message: string) => void): PodmanNetwork[] {
  const networks: PodmanNetwork[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isFile() || !isNetworkFileName(entry.name)) continue;
    let text: string;
    try {
      text = fs.readFileSync(path.join(dir, entry.name), 'utf8');
    } catch {
      continue; // removed while we read the directory: its network is gone
    }
    const { network, problems } = parseNetworkFile(entry.name, text);
    for (const p of problems) log(p);
    if (network !== null) networks.push(network);
  }
  return networks;
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
  let networks = readConfigDir(opts.configDir, opts.log);
  if (networks.length === 0) fail(`no network configuration in ${opts.configDir}: nothing to serve`);
  fs.writeFileSync(pidFile, String(process.pid));

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
      networks = readConfigDir(opts.configDir, opts.log);
      if (networks.length === 0) {
        opts.log('no network configuration left: exiting');
        await stop(0);
      }
      await server.apply(planOf(networks, domain)).catch((err: unknown) => opts.log((err as Error).message));
    } while (again);
  };
  process.on('SIGHUP', () => {
    if (reloading !== null) {
      again = true;
      return;
    }
    reloading = reload().finally(() => (reloading = null));
  });
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
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
