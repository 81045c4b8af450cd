/**
 * The API's HTTP layer without a daemon: version prefixes, routing, Docker's headers, bounded
 * JSON bodies and error mapping, served on a temporary Unix socket with test handlers.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { handle, json, MAX_BODY, Router, type Request } from '../../src/api/http';
import { compareVersions, splitVersion } from '../../src/api/version';
import { CnmError } from '../../src/errors';

t.test('splitVersion and compareVersions', async (t) => {
  t.same(splitVersion('/v1.41/networks'), { version: '1.41', path: '/networks' });
  t.same(splitVersion('/v1.50/networks/x/connect'), { version: '1.50', path: '/networks/x/connect' }, 'later versions are served');
  t.same(splitVersion('/networks'), { version: undefined, path: '/networks' });
  t.same(splitVersion('/v1.41'), { version: undefined, path: '/v1.41' }, 'a version alone is no path');
  t.same(splitVersion('/vx.y/networks'), { version: undefined, path: '/vx.y/networks' });
  t.same(splitVersion('/v1.12/_ping'), { version: '1.12', path: '/_ping' }, 'the minimum itself');
  t.throws(() => splitVersion('/v1.11/_ping'), { kind: 'invalid', message: /client version 1\.11 is too old\. Minimum supported API version is 1\.12/ });
  t.throws(() => splitVersion('/v0.99/_ping'), { kind: 'invalid', message: /too old/ });
  t.ok(compareVersions('1.9', '1.41') < 0, 'numeric, not textual');
  t.ok(compareVersions('1.41', '1.41') === 0);
  t.ok(compareVersions('2.0', '1.99') > 0);
});

t.test('Router.match', async (t) => {
  const router = new Router();
  const a = (): ReturnType<typeof json> => json(200, 'a');
  const b = (): ReturnType<typeof json> => json(200, 'b');
  router.add('GET', '/networks/{id}', a);
  router.add('POST', '/networks/{id}/connect', b);
  t.same(router.match('GET', '/networks/my%20net'), { handler: a, params: { id: 'my net' } }, 'parameters are decoded');
  t.same(router.match('GET', '/networks/a%2Fb'), { handler: a, params: { id: 'a/b' } }, 'an escaped slash stays in the parameter');
  t.equal(router.match('POST', '/networks/x/connect')?.handler, b);
  t.equal(router.match('DELETE', '/networks/x'), undefined, 'wrong method: no match');
  t.equal(router.match('HEAD', '/networks/x'), undefined, 'HEAD only where registered');
  t.equal(router.match('GET', '/networks/x/'), undefined);
  t.equal(router.match('GET', '/networks/'), undefined, 'an empty parameter is no match');
  t.throws(() => router.match('GET', '/networks/%E0%A4%A'), { kind: 'invalid', message: /invalid URL escape/ });
});

interface Served {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

t.test('handle: headers, bodies, errors', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnm-api-unit-'));
  const socket = path.join(dir, 'api.sock');
  const seen: Request[] = [];
  const internal: unknown[] = [];
  const router = new Router();
  router.add('GET', '/echo/{name}', (req) => (seen.push(req), json(200, { name: req.params.name, q: req.query.get('q'), version: req.version ?? null })));
  router.add('POST', '/echo', (req) => (seen.push(req), json(201, req.body ?? null)));
  router.add('GET', '/text', () => ({ status: 200, text: 'OK', contentType: 'text/plain; charset=utf-8', headers: { Pragma: 'no-cache' } }));
  router.add('HEAD', '/text', () => ({ status: 200, text: 'OK', contentType: 'text/plain; charset=utf-8' }));
  router.add('DELETE', '/thing', () => ({ status: 204, empty: true }));
  router.add('GET', '/conflict', () => {
    throw new CnmError('conflict', 'already there');
  });
  router.add('GET', '/bug', () => {
    throw new TypeError('oops');
  });
  const server = http.createServer(handle(router, (err) => internal.push(err)));
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const call = (method: string, urlPath: string, body?: string, headers: Record<string, string> = {}): Promise<Served> =>
    new Promise((resolve, reject) => {
      const req = http.request({ socketPath: socket, method, path: urlPath, headers: body !== undefined ? { 'Content-Type': 'application/json', ...headers } : headers }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
      });
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });

  await t.test("Docker's headers on every response", async (t) => {
    for (const r of [await call('GET', '/echo/x'), await call('GET', '/nope'), await call('GET', '/conflict')]) {
      t.equal(r.headers['api-version'], '1.41');
      t.equal(r.headers['docker-experimental'], 'false');
      t.equal(r.headers.ostype, 'linux');
      t.match(r.headers.server, /^cnm\/\S+ \(linux\)$/);
    }
  });

  await t.test('routing and request parts', async (t) => {
    t.same(JSON.parse((await call('GET', '/v1.41/echo/a%20b?q=1')).body), { name: 'a b', q: '1', version: '1.41' });
    t.same(JSON.parse((await call('GET', '/echo/c')).body), { name: 'c', q: null, version: null });
    const missing = await call('GET', '/v1.41/missing');
    t.same([missing.status, JSON.parse(missing.body)], [404, { message: 'page not found' }]);
    const wrongMethod = await call('PUT', '/echo/x');
    t.same([wrongMethod.status, JSON.parse(wrongMethod.body)], [404, { message: 'page not found' }], "wrong method: Docker's 404, not 405");
    t.equal((await call('GET', '/v1.2/echo/x')).status, 400, 'a too old version');
  });

  await t.test('replies', async (t) => {
    const text = await call('GET', '/text');
    t.same([text.status, text.body, text.headers['content-type'], text.headers['content-length'], text.headers.pragma], [200, 'OK', 'text/plain; charset=utf-8', '2', 'no-cache']);
    const head = await call('HEAD', '/text');
    t.same([head.status, head.body, head.headers['content-length']], [200, '', '0']);
    const del = await call('DELETE', '/thing');
    t.same([del.status, del.body, del.headers['content-type']], [204, '', undefined]);
    const created = await call('POST', '/echo', '{"Name":"x"}');
    t.same([created.status, created.headers['content-type'], created.body], [201, 'application/json', '{"Name":"x"}\n'], 'JSON ends with a newline, as Go encodes it');
  });

  await t.test('bodies', async (t) => {
    t.equal((await call('POST', '/echo', '  ')).body, 'null\n', 'a blank body is no body');
    t.equal((await call('POST', '/echo', '{"a":1}', { 'Content-Type': 'application/json; charset=utf-8' })).status, 201, 'parameters of the JSON type are fine');
    const wrongType = await call('POST', '/echo', '{}', { 'Content-Type': 'text/plain' });
    t.same([wrongType.status, JSON.parse(wrongType.body).message], [400, "Content-Type specified (text/plain) must be 'application/json'"]);
    const bad = await call('POST', '/echo', '{"a":');
    t.equal(bad.status, 400);
    t.match(JSON.parse(bad.body).message, /^invalid JSON body: /);
    const atLimit = JSON.stringify({ x: 'y'.repeat(MAX_BODY - 8) });
    t.equal(atLimit.length, MAX_BODY);
    t.equal((await call('POST', '/echo', atLimit)).status, 201, 'exactly the limit is read');
    const over = await call('POST', '/echo', `${atLimit} `);
    t.same([over.status, JSON.parse(over.body).message, over.headers.connection], [400, `request body is too large: the limit is ${MAX_BODY} bytes`, 'close']);
  });

  await t.test('errors', async (t) => {
    const conflict = await call('GET', '/conflict');
    t.same([conflict.status, JSON.parse(conflict.body)], [409, { message: 'already there' }]);
    t.equal(internal.length, 0, 'a CnmError is the user’s, not logged');
    const bug = await call('GET', '/bug');
    t.same([bug.status, JSON.parse(bug.body)], [500, { message: 'oops' }]);
    t.equal(internal.length, 1, 'anything else is logged');
    t.equal(bug.headers.connection, 'keep-alive', 'no body left unread: the connection stays');
  });

  await t.test('a client leaving mid-body is not an internal error', async (t) => {
    const before = internal.length;
    await new Promise<void>((resolve) => {
      const c = net.connect(socket, () => {
        c.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a"');
        setTimeout(() => c.destroy(), 50);
      });
      c.on('close', () => setTimeout(resolve, 50));
    });
    t.equal(internal.length, before);
  });
});
