/**
 * The daemon's API server: a Unix socket (mode 0660, owned by root and an optional group), and
 * loopback TCP only when asked for: without TLS, anything else would hand control of the host's
 * networking to whoever reaches the port.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { Controller } from '../controller/controller';
import { invalid } from '../errors';
import type { Logger } from '../log';
import { ExecStore } from '../runtime/exec';
import type { ProcessRuntime } from '../runtime/processes';
import { addAliasRoutes } from './aliases';
import { addCniRoutes } from './cni';
import { addContainerIoRoutes } from './container-io';
import { addContainerRoutes } from './containers';
import { EventLog, addEventRoutes } from './events';
import { addExecRoutes } from './exec';
import { handle, handleUpgrade, Router } from './http';
import { addNetworkRoutes } from './networks';
import { withRequestLog } from './request-log';
import { addSystemRoutes } from './system';

export interface RouterOptions {
  execRoot: string;
  metrics: () => string;
}

export function buildRouter(ctl: Controller, runtime: ProcessRuntime, opts: RouterOptions): Router {
  const router = new Router();
  addSystemRoutes(router, ctl, runtime, opts.metrics);
  addNetworkRoutes(router, ctl);
  addAliasRoutes(router, ctl);
  const events = new EventLog(ctl.state);
  ctl.addListener(events);
  runtime.onChange(() => void events.stateChanged(ctl.state));
  const execs = new ExecStore(runtime);
  addContainerRoutes(router, ctl, runtime, execs, events, opts.execRoot);
  addContainerIoRoutes(router, ctl, runtime, execs, events, opts.execRoot);
  addExecRoutes(router, ctl, execs, events);
  addEventRoutes(router, events);
  addCniRoutes(router, ctl);
  return router;
}

/** Whether a TCP listen address stays on this machine. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  return net.isIPv6(host) && /^(0*:)*:?0*1$/.test(host);
}

export class ApiServer {
  private readonly servers: http.Server[] = [];
  /** hijacked connections (attach, exec), which the HTTP server no longer counts as its own */
  private readonly upgraded = new Set<net.Socket>();

  constructor(
    private readonly router: Router,
    private readonly log: Logger,
  ) {}

  private create(): http.Server {
    const onError = (err: unknown, req: http.IncomingMessage): void => this.log.log('error', 'request failed', { method: req.method, url: req.url, error: err instanceof Error ? err.stack : String(err) });
    const requestLog = this.log.child({ component: 'api' });
    const server = http.createServer(withRequestLog(handle(this.router, onError), requestLog));
    const upgrade = handleUpgrade(this.router, onError);
    server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      this.upgraded.add(socket);
      const started = performance.now();
      socket.once('close', () => {
        this.upgraded.delete(socket);
        // A hijacked stream (attach, exec start) bypasses the request listener: logged when it ends.
        requestLog.log('debug', 'request', { method: req.method, path: req.url, status: 101, durationMs: Math.round((performance.now() - started) * 10) / 10 });
      });
      upgrade(req, socket, head);
    });
    server.keepAliveTimeout = 30_000;
    this.servers.push(server);
    return server;
  }

  /** The socket is born 0660 (umask around the synchronous bind), so no one else ever reaches it. */
  async listenUnix(socketPath: string, gid?: number): Promise<void> {
    fs.mkdirSync(path.dirname(socketPath), { recursive: true });
    fs.rmSync(socketPath, { force: true });
    const server = this.create();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const previous = process.umask(0o117);
      try {
        server.listen(socketPath, () => resolve());
      } finally {
        process.umask(previous);
      }
    });
    fs.chmodSync(socketPath, 0o660);
    if (gid !== undefined) fs.chownSync(socketPath, 0, gid);
  }

  /** Resolves to the bound port (useful with port 0). */
  async listenTcp(host: string, port: number): Promise<number> {
    if (!isLoopback(host)) throw invalid(`refusing to serve the API on ${host}: only loopback addresses are allowed until TLS exists`);
    const server = this.create();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return (server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const socket of this.upgraded) socket.destroy();
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
  }
}
