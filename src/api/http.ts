/**
 * HTTP plumbing for the Engine-compatible API: version-prefixed routing, bounded JSON bodies,
 * Docker's headers and `{"message": ...}` errors. Handlers never see raw requests, and a request
 * that fails here (unknown path, wrong method, bad body) reaches no handler, so it changes nothing.
 */
import type http from 'node:http';
import type net from 'node:net';
import { PassThrough, type Readable } from 'node:stream';
import { CnmError, invalid, messageOf, statusOf } from '../errors';
import type { ErrorResponse } from './engine-types';
import { API_VERSION, CNM_VERSION, splitVersion } from './version';

/** The largest request body read; Engine API bodies are a few kilobytes. */
export const MAX_BODY = 1 << 20;

export interface Request {
  method: string;
  /** the path without its /vX.Y prefix */
  path: string;
  /** the /vX.Y of the request, undefined when unversioned */
  version: string | undefined;
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  /** the client went away (for long-polls such as wait) */
  closed: Promise<void>;
}

/** A response body written as it comes (logs -f, events): write until done or the client leaves. */
export interface StreamOut {
  write(chunk: Buffer | string): void;
  /** the client went away */
  closed: Promise<void>;
}

/** A hijacked connection (attach, exec start): output out, the client's stdin in. */
export interface Hijacked extends StreamOut {
  /** what the client sends after the request (its stdin); ends when it half-closes */
  input: Readable | undefined;
}

export const RAW_STREAM = 'application/vnd.docker.raw-stream';

type Body =
  | { json: unknown }
  | { empty: true }
  | { text: string; contentType: string }
  | { stream: (out: StreamOut) => Promise<void>; contentType: string }
  /** answered 101 and handed the socket when the client asked to upgrade, else a 200 stream */
  | { hijack: (conn: Hijacked) => Promise<void> };
export type Reply = Body & { status: number; headers?: Record<string, string> };

export type Handler = (req: Request) => Promise<Reply> | Reply;

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: Handler;
}

export type Match = { handler: Handler; params: Record<string, string> } | undefined;

/**
 * Routes by method and path. HEAD is answered only where a route registers it (Docker answers
 * HEAD only on /_ping); anything else is "page not found", as in Docker, whose router sends
 * unknown paths and wrong methods to the same handler.
 */
export class Router {
  private readonly routes: Route[] = [];

  add(method: string, path: string, handler: Handler): void {
    const keys: string[] = [];
    const pattern = new RegExp(`^${path.replace(/\{(\w+)\}/g, (_m, k: string) => (keys.push(k), '([^/]+)'))}$`);
    this.routes.push({ method, pattern, keys, handler });
  }

  match(method: string, path: string): Match {
    for (const r of this.routes) {
      const m = r.method === method ? r.pattern.exec(path) : null;
      if (!m) continue;
      const params: Record<string, string> = {};
      r.keys.forEach((k, i) => (params[k] = decodeParam(m[i + 1]!)));
      return { handler: r.handler, params };
    }
    return undefined;
  }
}

function decodeParam(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw invalid(`invalid URL escape in "${raw}"`);
  }
}

export const json = (status: number, body: unknown): Reply => ({ status, json: body });
export const empty = (status = 204): Reply => ({ status, empty: true });

/** What Docker's middleware puts on every response; clients negotiate from Api-Version. */
function commonHeaders(res: http.ServerResponse): void {
  res.setHeader('Api-Version', API_VERSION);
  res.setHeader('Docker-Experimental', 'false');
  res.setHeader('Ostype', 'linux');
  res.setHeader('Server', `cnm/${CNM_VERSION} (linux)`);
}

async function send(res: http.ServerResponse, reply: Reply, head: boolean, closed: Promise<void>): Promise<void> {
  commonHeaders(res);
  for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
  if ('stream' in reply || 'hijack' in reply) {
    res.writeHead(reply.status, { 'Content-Type': 'stream' in reply ? reply.contentType : RAW_STREAM });
    res.flushHeaders();
    const out: Hijacked = { write: (chunk) => void res.write(chunk), closed, input: undefined };
    await ('stream' in reply ? reply.stream(out) : reply.hijack(out));
    res.end();
  } else if ('json' in reply) {
    const body = `${JSON.stringify(reply.json)}\n`;
    res.writeHead(reply.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(head ? undefined : body);
  } else if ('text' in reply) {
    // A HEAD answer says how long the GET body would be... except Docker's /_ping says 0.
    const length = head ? 0 : Buffer.byteLength(reply.text);
    res.writeHead(reply.status, { 'Content-Type': reply.contentType, 'Content-Length': length });
    res.end(head ? undefined : reply.text);
  } else {
    res.writeHead(reply.status, { 'Content-Length': 0 });
    res.end();
  }
}

/** The message of each error answer, for the request log (src/api/request-log.ts). */
export const errorMessages = new WeakMap<http.ServerResponse, string>();

function sendError(req: http.IncomingMessage, res: http.ServerResponse, err: unknown): void {
  errorMessages.set(res, messageOf(err));
  // A body left unread (too large, or refused before reading) would have to be read to the end
  // to keep the connection: close it after the answer instead.
  const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
  if (hasBody && !req.complete) res.setHeader('Connection', 'close');
  void send(res, json(statusOf(err), { message: messageOf(err) } satisfies ErrorResponse), false, Promise.resolve());
}

const tooLarge = (): CnmError => invalid(`request body is too large: the limit is ${MAX_BODY} bytes`);

async function readBody(req: http.IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY) throw tooLarge();
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    // The client went away mid-body: its fault, not ours, and no one is left to answer.
    if (err instanceof CnmError || !req.destroyed) throw err;
    throw invalid('the client closed the connection before the whole body arrived');
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) return undefined;
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
  if (type && type !== 'application/json') throw invalid(`Content-Type specified (${type}) must be 'application/json'`);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw invalid(`invalid JSON body: ${messageOf(err)}`);
  }
}

/** Splits the request target by hand: URL parsing would fold "//" and ".." into other paths. */
function target(rawUrl: string): { pathname: string; query: URLSearchParams } {
  const q = rawUrl.indexOf('?');
  return { pathname: q < 0 ? rawUrl : rawUrl.slice(0, q), query: new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1)) };
}

export function handle(router: Router, onError: (err: unknown, req: http.IncomingMessage) => void): http.RequestListener {
  return (req, res) => {
    void (async () => {
      try {
        const { pathname, query } = target(req.url ?? '/');
        const { version, path } = splitVersion(pathname);
        const method = req.method ?? 'GET';
        const m = router.match(method, path);
        if (!m) throw new CnmError('notFound', 'page not found');
        const body = await readBody(req);
        const closed = new Promise<void>((resolve) => res.once('close', () => resolve()));
        const reply = await m.handler({ method, path, version, params: m.params, query, body, closed });
        await send(res, reply, method === 'HEAD', closed);
      } catch (err) {
        if (!(err instanceof CnmError)) onError(err, req);
        if (!res.headersSent) sendError(req, res, err);
        else res.destroy();
      }
    })();
  };
}

/** The body of an upgrade request: Content-Length bytes from what was read with the head, then the socket. */
async function readUpgradeBody(req: http.IncomingMessage, socket: net.Socket, head: Buffer): Promise<{ body: unknown; rest: Buffer }> {
  const length = Number(req.headers['content-length'] ?? 0);
  if (!Number.isInteger(length) || length < 0 || length > MAX_BODY) throw tooLarge();
  let buf = head;
  while (buf.length < length) {
    const chunk = await new Promise<Buffer | null>((resolve) => {
      const done = (c: Buffer | null): void => {
        socket.off('data', onData);
        socket.off('end', onEnd);
        socket.pause();
        resolve(c);
      };
      const onData = (c: Buffer): void => done(c);
      const onEnd = (): void => done(null);
      socket.on('data', onData);
      socket.once('end', onEnd);
      socket.resume();
    });
    if (!chunk) throw invalid('the client closed the connection before the whole body arrived');
    buf = Buffer.concat([buf, chunk]);
  }
  const text = buf.subarray(0, length).toString('utf8');
  let body: unknown;
  try {
    body = text.trim() ? (JSON.parse(text) as unknown) : undefined;
  } catch (err) {
    throw invalid(`invalid JSON body: ${messageOf(err)}`);
  }
  return { body, rest: buf.subarray(length) };
}

function rawResponse(status: number, headers: Record<string, string | number>, body = ''): string {
  const all: Record<string, string | number> = { 'Api-Version': API_VERSION, 'Docker-Experimental': 'false', Ostype: 'linux', Server: `cnm/${CNM_VERSION} (linux)`, ...headers };
  const lines = [`HTTP/1.1 ${status} ${status === 101 ? 'UPGRADED' : status < 400 ? 'OK' : 'Error'}`, ...Object.entries(all).map(([k, v]) => `${k}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/**
 * Requests with `Upgrade: tcp` (the docker CLI's attach and exec start): the route answers as
 * usual, except that a hijack reply takes the socket after `101 UPGRADED`, as Docker's does.
 */
export function handleUpgrade(router: Router, onError: (err: unknown, req: http.IncomingMessage) => void): (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => void {
  return (req, socket, head) => {
    socket.on('error', () => undefined);
    void (async () => {
      try {
        const { pathname, query } = target(req.url ?? '/');
        const { version, path } = splitVersion(pathname);
        const method = req.method ?? 'GET';
        const m = router.match(method, path);
        if (!m) throw new CnmError('notFound', 'page not found');
        const { body, rest } = await readUpgradeBody(req, socket, head);
        const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
        const reply = await m.handler({ method, path, version, params: m.params, query, body, closed });
        if (!('hijack' in reply)) {
          const text = 'json' in reply ? `${JSON.stringify(reply.json)}\n` : 'text' in reply ? reply.text : '';
          socket.end(rawResponse(reply.status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), Connection: 'close' }, text));
          return;
        }
        socket.write(rawResponse(101, { 'Content-Type': RAW_STREAM, Connection: 'Upgrade', Upgrade: 'tcp' }));
        const input = new PassThrough();
        if (rest.length) input.write(rest);
        socket.pipe(input);
        socket.resume();
        await reply.hijack({ write: (chunk) => void (socket.writable && socket.write(chunk)), closed, input });
        socket.end();
      } catch (err) {
        if (!(err instanceof CnmError)) onError(err, req);
        const text = `${JSON.stringify({ message: messageOf(err) })}\n`;
        if (socket.writable) socket.end(rawResponse(statusOf(err), { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), Connection: 'close' }, text));
      }
    })();
  };
}
