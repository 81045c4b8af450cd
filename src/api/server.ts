/** The daemon's API server on a Unix socket (mode 0660), optionally also on loopback TCP. */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Controller } from '../controller/controller';
import type { Logger } from '../log';
import type { ProcessRuntime } from '../runtime/processes';
import { addContainerRoutes } from './containers';
import { handle, Router } from './http';
import { addNetworkRoutes } from './networks';
import { addSystemRoutes } from './system';

export interface ApiOptions {
  socketPath: string;
  /** numeric gid owning the socket, if not root's */
  socketGid?: number;
  execRoot: string;
  metrics: () => string;
  log: Logger;
}

export function buildRouter(ctl: Controller, runtime: ProcessRuntime, opts: Pick<ApiOptions, 'execRoot' | 'metrics'>): Router {
  const router = new Router();
  addSystemRoutes(router, ctl, opts.metrics);
  addNetworkRoutes(router, ctl);
  addContainerRoutes(router, ctl, runtime, opts.execRoot);
  return router;
}

export class ApiServer {
  private readonly servers: http.Server[] = [];

  constructor(
    private readonly router: Router,
    private readonly log: Logger,
  ) {}

  private create(): http.Server {
    const server = http.createServer(
      handle(this.router, (err, req) => this.log.log('error', 'request failed', { method: req.method, url: req.url, error: err instanceof Error ? err.stack : String(err) })),
    );
    server.keepAliveTimeout = 30_000;
    this.servers.push(server);
    return server;
  }

  async listenUnix(socketPath: string, gid?: number): Promise<void> {
    fs.mkdirSync(path.dirname(socketPath), { recursive: true });
    fs.rmSync(socketPath, { force: true });
    const server = this.create();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    fs.chmodSync(socketPath, 0o660);
    if (gid !== undefined) fs.chownSync(socketPath, 0, gid);
  }

  async listenTcp(host: string, port: number): Promise<void> {
    const server = this.create();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  }

  async close(): Promise<void> {
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
