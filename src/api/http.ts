/**
 * HTTP plumbing for the Engine-compatible API: version-prefixed routing, bounded JSON bodies,
 * Docker's headers and `{"message": ...}` errors. Handlers never see raw requests.
 */
import type http from 'node:http';
import { CnmError, messageOf, statusOf } from '../errors';

export const API_VERSION = '1.41';
export const MIN_API_VERSION = '1.12';
const MAX_BODY = 1 << 20;

export interface Request {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  /** the client went away (for long-polls such as wait) */
  closed: Promise<void>;
}

export type Reply =
  | { status: number; json: unknown }
  | { status: number; empty: true }
  | { status: number; text: string; contentType: string };

export type Handler = (req: Request) => Promise<Reply> | Reply;

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: Handler;
}

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, path: string, handler: Handler): void {
    const keys: string[] = [];
    const pattern = new RegExp(`^${path.replace(/\{(\w+)\}/g, (_m, k: string) => (keys.push(k), '([^/]+)'))}$`);
    this.routes.push({ method, pattern, keys, handler });
  }

  match(method: string, path: string): { handler: Handler; params: Record<string, string> } | 'wrong-method' | undefined {
    let pathMatched = false;
    for (const r of this.routes) {
      const m = r.pattern.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (r.method !== method && !(method === 'HEAD' && r.method === 'GET')) continue;
      const params: Record<string, string> = {};
      r.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1]!)));
      return { handler: r.handler, params };
    }
    return pathMatched ? 'wrong-method' : undefined;
  }
}

export const json = (status: number, body: unknown): Reply => ({ status, json: body });
export const empty = (status = 204): Reply => ({ status, empty: true });

function commonHeaders(res: http.ServerResponse): void {
  res.setHeader('Api-Version', API_VERSION);
  res.setHeader('Docker-Experimental', 'false');
  res.setHeader('Ostype', 'linux');
  res.setHeader('Server', 'cnm');
}

function send(res: http.ServerResponse, reply: Reply, head: boolean): void {
  commonHeaders(res);
  if ('json' in reply) {
    const body = `${JSON.stringify(reply.json)}\n`;
    res.writeHead(reply.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(head ? undefined : body);
  } else if ('text' in reply) {
    res.writeHead(reply.status, { 'Content-Type': reply.contentType, 'Content-Length': Buffer.byteLength(reply.text) });
    res.end(head ? undefined : reply.text);
  } else {
    res.writeHead(reply.status, { 'Content-Length': 0 });
    res.end();
  }
}

export function sendError(res: http.ServerResponse, err: unknown): void {
  send(res, json(statusOf(err), { message: messageOf(err) }), false);
}

async function readBody(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new CnmError('invalid', `request body is too large: the limit is ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) return undefined;
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
  if (type && type !== 'application/json') throw new CnmError('invalid', `Content-Type specified (${type}) must be 'application/json'`);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CnmError('invalid', `invalid JSON body: ${messageOf(err)}`);
  }
}

/** Strips /v1.XX; refuses versions below the minimum like Docker. */
function routePath(url: URL): string {
  const m = /^\/v(\d+\.\d+)(\/.*)$/.exec(url.pathname);
  if (!m) return url.pathname;
  const [major, minor] = m[1]!.split('.').map(Number) as [number, number];
  const [minMajor, minMinor] = MIN_API_VERSION.split('.').map(Number) as [number, number];
  if (major < minMajor || (major === minMajor && minor < minMinor)) {
    throw new CnmError('invalid', `client version ${m[1]} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
  }
  return m[2]!;
}

export function handle(router: Router, onError: (err: unknown, req: http.IncomingMessage) => void): http.RequestListener {
  return (req, res) => {
    void (async () => {
      try {
        const url = new URL(req.url ?? '/', 'http://cnm');
        const path = routePath(url);
        const method = req.method ?? 'GET';
        const m = router.match(method, path);
        if (m === undefined) throw new CnmError('notFound', `page not found: ${method} ${path}`);
        if (m === 'wrong-method') throw new CnmError('notFound', `page not found: ${method} ${path} (this path takes another method)`);
        const body = await readBody(req);
        const closed = new Promise<void>((resolve) => res.once('close', () => resolve()));
        const reply = await m.handler({ method, path, params: m.params, query: url.searchParams, body, closed });
        send(res, reply, method === 'HEAD');
      } catch (err) {
        if (!(err instanceof CnmError)) onError(err, req);
        if (!res.headersSent) sendError(res, err);
        else res.destroy();
      }
    })();
  };
}
