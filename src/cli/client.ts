/** The CLI's side of the API: JSON over the daemon's Unix socket (or loopback TCP). */
import http from 'node:http';
import type net from 'node:net';

export class DaemonError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class ConnectionError extends Error {}

export interface Endpoint {
  socketPath?: string;
  host?: string;
  port?: number;
}

/** -H / CNM_HOST: unix:///path, /path, tcp://host:port. */
export function parseHost(value: string | undefined): Endpoint {
  const v = value || 'unix:///run/cnm/cnm.sock';
  if (v.startsWith('unix://')) return { socketPath: v.slice('unix://'.length) };
  if (v.startsWith('/')) return { socketPath: v };
  const m = /^(?:tcp:\/\/)?([^:]+|\[[^\]]+\]):(\d+)$/.exec(v);
  if (m) return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
  throw new ConnectionError(`invalid daemon address "${v}": use unix:///path/to/cnm.sock or tcp://127.0.0.1:PORT`);
}

export class Client {
  constructor(private readonly endpoint: Endpoint) {}

  /** The daemon's Unix socket, when that is how it is reached. */
  get socketPath(): string | undefined {
    return this.endpoint.socketPath;
  }

  describe(): string {
    return this.endpoint.socketPath ? `unix://${this.endpoint.socketPath}` : `tcp://${this.endpoint.host}:${this.endpoint.port}`;
  }

  private target(method: string, path: string, query: Record<string, string | undefined> | undefined, headers: Record<string, string | number>): http.RequestOptions {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) qs.set(k, v);
    return {
      ...(this.endpoint.socketPath ? { socketPath: this.endpoint.socketPath } : { host: this.endpoint.host, port: this.endpoint.port }),
      method,
      path: `/v1.41${path}${qs.toString() ? `?${qs}` : ''}`,
      headers,
    };
  }

  private connectionError(err: NodeJS.ErrnoException): ConnectionError {
    return new ConnectionError(`Cannot connect to the cnm daemon at ${this.describe()}. Is cnmd running? (${err.code ?? err.message})`);
  }

  /** A streamed answer (logs -f, wait): resolves with the response once its headers are in. */
  stream(method: string, path: string, query?: Record<string, string | undefined>): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = http.request(this.target(method, path, query, {}), (res) => {
        if ((res.statusCode ?? 0) < 400) return resolve(res);
        readError(res).then(reject, reject);
      });
      req.on('error', (err: NodeJS.ErrnoException) => reject(this.connectionError(err)));
      req.end();
    });
  }

  /** The connection taken over after `101 UPGRADED` (attach, exec start), as the docker CLI does. */
  hijack(path: string, body: unknown, query?: Record<string, string | undefined>): Promise<net.Socket> {
    const payload = body === undefined ? '' : JSON.stringify(body);
    const headers: Record<string, string | number> = { Connection: 'Upgrade', Upgrade: 'tcp', 'Content-Length': Buffer.byteLength(payload) };
    if (payload) headers['Content-Type'] = 'application/json';
    return new Promise((resolve, reject) => {
      const req = http.request(this.target('POST', path, query, headers));
      req.on('upgrade', (_res, socket, head) => {
        if (head.length) socket.unshift(head);
        resolve(socket);
      });
      req.on('response', (res) => {
        if ((res.statusCode ?? 0) >= 400) readError(res).then(reject, reject);
        else reject(new DaemonError(res.statusCode ?? 0, `the daemon answered ${res.statusCode} instead of switching protocols`));
      });
      req.on('error', (err: NodeJS.ErrnoException) => reject(this.connectionError(err)));
      req.end(payload);
    });
  }

  async request<T = unknown>(method: string, path: string, body?: unknown, query?: Record<string, string | undefined>): Promise<T> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) qs.set(k, v);
    const fullPath = `/v1.41${path}${qs.toString() ? `?${qs}` : ''}`;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise<T>((resolve, reject) => {
      const req = http.request(
        {
          ...(this.endpoint.socketPath ? { socketPath: this.endpoint.socketPath } : { host: this.endpoint.host, port: this.endpoint.port }),
          method,
          path: fullPath,
          headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            if (status >= 400) {
              let message = text.trim();
              try {
                message = (JSON.parse(text) as { message?: string }).message ?? message;
              } catch {
                // not JSON: keep the text
              }
              reject(new DaemonError(status, message));
              return;
            }
            if (!text.trim()) resolve(undefined as T);
            else if ((res.headers['content-type'] ?? '').includes('json')) resolve(JSON.parse(text) as T);
            else resolve(text as T);
          });
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        reject(new ConnectionError(`Cannot connect to the cnm daemon at ${this.describe()}. Is cnmd running? (${err.code ?? err.message})`));
      });
      if (payload) req.write(payload);
      req.end();
    });
  }
}

function readError(res: http.IncomingMessage): Promise<DaemonError> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let message = text.trim();
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {
        // not JSON: keep the text
      }
      resolve(new DaemonError(res.statusCode ?? 0, message));
    });
  });
}
