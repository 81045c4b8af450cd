/**
 * The API's HTTP surface against a real cnmd: /_ping (GET and HEAD) with the headers clients
 * negotiate from, /version and /info, versioned and unversioned paths, and bad requests
 * (unknown paths, wrong methods, bad escapes, bad JSON, wrong field types, huge or lying bodies)
 * each answered with a Docker-shaped 4xx `{"message"}` and no change to anything.
 */
import net from 'node:net';
import t from 'tap';
import { Lab } from '../helpers/lab';
import { stateSnapshot } from './api-clients';

/** Sends raw bytes and returns what came back until the server closed or the wait ran out. */
function raw(socket: string, request: string | Buffer, waitMs = 3000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const c = net.connect(socket);
    let text = '';
    const timer = setTimeout(() => {
      c.destroy();
      resolve({ text, closed: false });
    }, waitMs);
    c.on('data', (d: Buffer) => (text += d.toString()));
    c.on('error', () => undefined); // EPIPE when the server closes while we still send
    c.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
    c.write(request);
  });
}

const header = (text: string, name: string): string | undefined => new RegExp(`^${name}: (.*)\r$`, 'mi').exec(text)?.[1];

t.test('the HTTP surface', async (t) => {
  const lab = await Lab.start();
  t.teardown(() => lab.close());
  t.equal((await lab.cli('network', 'create', '--subnet', '10.66.0.0/24', 'good')).code, 0);
  t.equal((await lab.cli('run', '-d', '--name', 'box', '--network', 'good', 'sleep', 'infinity')).code, 0);

  await t.test('/_ping: GET and HEAD, with the headers clients negotiate from', async (t) => {
    for (const path of ['/_ping', '/v1.41/_ping']) {
      const get = await lab.api('GET', path);
      t.equal(get.status, 200);
      t.equal(get.raw, 'OK');
      t.same(
        [get.headers['api-version'], get.headers['docker-experimental'], get.headers.ostype, get.headers['content-type'], get.headers['cache-control'], get.headers.pragma],
        ['1.41', 'false', 'linux', 'text/plain; charset=utf-8', 'no-cache, no-store, must-revalidate', 'no-cache'],
        path,
      );
      t.match(get.headers.server, /^cnm\/\d+\.\d+\.\d+ \(linux\)$/);
    }
    const head = await raw(lab.socket, 'HEAD /_ping HTTP/1.1\r\nHost: cnm\r\nConnection: close\r\n\r\n');
    t.match(head.text, /^HTTP\/1\.1 200 OK\r\n/);
    t.equal(header(head.text, 'Content-Length'), '0', "Docker's HEAD /_ping says 0");
    t.equal(header(head.text, 'Api-Version'), '1.41');
    t.equal(header(head.text, 'Ostype'), 'linux');
    t.equal(header(head.text, 'Docker-Experimental'), 'false');
    t.ok(head.text.endsWith('\r\n\r\n'), 'no body');
  });

  await t.test('/version and /info', async (t) => {
    const v = (await lab.api('GET', '/version')).body as Record<string, unknown>;
    t.match(v, { ApiVersion: '1.41', MinAPIVersion: '1.12', Os: 'linux', Experimental: false, Components: [{ Name: 'Engine', Details: { ApiVersion: '1.41', MinAPIVersion: '1.12' } }] });
    t.match(v.Arch, /^(amd64|arm64|arm|386|ppc64le|s390x)$/, "Go's architecture names");
    const info = (await lab.api('GET', '/v1.41/info')).body as Record<string, unknown>;
    t.match(info, { Containers: 1, ContainersRunning: 1, OSType: 'linux', Swarm: { LocalNodeState: 'inactive' } });
    t.match((info.Plugins as { Network: string[] }).Network, ['bridge', 'host', 'null']);
  });

  await t.test('versioned paths', async (t) => {
    for (const version of ['', '/v1.24', '/v1.41', '/v1.47', '/v1.50']) {
      const r = await lab.api('GET', `${version}/networks/good`);
      t.equal(r.status, 200, `${version || 'unversioned'}: served`);
    }
    const old = await lab.api('GET', '/v1.11/networks');
    t.same([old.status, old.body], [400, { message: 'client version 1.11 is too old. Minimum supported API version is 1.12, please upgrade your client to a newer version' }]);
  });

  const snapshot = (): Promise<string> => stateSnapshot(lab);
  const before = await snapshot();

  await t.test('bad requests: 4xx and the reason', async (t) => {
    const notFound = { status: 404, message: 'page not found' };
    const cases: { name: string; method: string; path: string; body?: unknown; type?: string; status: number; message: string | RegExp }[] = [
      { name: 'unknown path', method: 'GET', path: '/nothing/here', ...notFound },
      { name: 'unknown versioned path', method: 'GET', path: '/v1.41/nothing', ...notFound },
      { name: 'version alone', method: 'GET', path: '/v1.41', ...notFound },
      { name: 'not a version', method: 'GET', path: '/vx.y/networks', ...notFound },
      { name: 'double slash', method: 'GET', path: '//networks', ...notFound },
      { name: 'dot segments', method: 'GET', path: '/v1.41/../networks', ...notFound },
      { name: 'trailing slash', method: 'GET', path: '/networks/good/', ...notFound },
      { name: 'PUT on a network', method: 'PUT', path: '/networks/good', ...notFound },
      { name: 'GET on create', method: 'GET', path: '/networks/good/connect', ...notFound },
      { name: 'DELETE on the list', method: 'DELETE', path: '/networks', ...notFound },
      { name: 'PATCH', method: 'PATCH', path: '/networks/good', body: {}, ...notFound },
      { name: 'OPTIONS', method: 'OPTIONS', path: '/networks', ...notFound },
      { name: 'HEAD on the list', method: 'HEAD', path: '/networks', status: 404, message: '' },
      { name: 'bad escape', method: 'GET', path: '/networks/%zz', status: 400, message: 'invalid URL escape in "%zz"' },
      { name: 'bad escape on delete', method: 'DELETE', path: '/networks/good%', status: 400, message: 'invalid URL escape in "good%"' },
      { name: 'filters not JSON', method: 'GET', path: '/networks?filters=%7B', status: 400, message: /^invalid filters/ },
      { name: 'filters not arrays', method: 'GET', path: `/networks?filters=${encodeURIComponent('{"name":"x"}')}`, status: 400, message: "invalid filters: the value of 'name' must be an array of strings" },
      { name: 'filter type bogus', method: 'GET', path: `/networks?filters=${encodeURIComponent('{"type":["bogus"]}')}`, status: 400, message: "Invalid filter: 'type'='bogus'" },
      { name: 'prune filter unknown', method: 'POST', path: `/networks/prune?filters=${encodeURIComponent('{"driver":["bridge"]}')}`, status: 400, message: "Invalid filter 'driver'" },
      { name: 'prune until bad', method: 'POST', path: `/networks/prune?filters=${encodeURIComponent('{"until":["yesterday"]}')}`, status: 400, message: /invalid until filter "yesterday"/ },
      { name: 'create: no body', method: 'POST', path: '/networks/create', status: 400, message: 'request body must be a JSON object' },
      { name: 'create: null', method: 'POST', path: '/networks/create', body: 'null', status: 400, message: 'request body must be a JSON object' },
      { name: 'create: truncated JSON', method: 'POST', path: '/networks/create', body: '{"Name":"x"', status: 400, message: /^invalid JSON body/ },
      { name: 'create: IPAM a string', method: 'POST', path: '/networks/create', body: { Name: 'x', IPAM: 'default' }, status: 400, message: 'IPAM must be a JSON object' },
      { name: 'create: Config an object', method: 'POST', path: '/networks/create', body: { Name: 'x', IPAM: { Config: {} } }, status: 400, message: 'IPAM.Config must be an array, not an object' },
      { name: 'create: Labels an array', method: 'POST', path: '/networks/create', body: { Name: 'x', Labels: ['a'] }, status: 400, message: 'body.Labels must be a JSON object' },
      { name: 'create: EnableIPv6 a string', method: 'POST', path: '/networks/create', body: { Name: 'x', EnableIPv6: 'yes' }, status: 400, message: 'body.EnableIPv6 must be a boolean, not a string' },
      { name: 'create: Internal a number', method: 'POST', path: '/networks/create', body: { Name: 'x', Internal: 1 }, status: 400, message: 'body.Internal must be a boolean, not a number' },
      { name: 'create: CheckDuplicate a string', method: 'POST', path: '/networks/create', body: { Name: 'x', CheckDuplicate: 'true' }, status: 400, message: 'body.CheckDuplicate must be a boolean, not a string' },
      { name: 'create: text/plain', method: 'POST', path: '/networks/create', body: '{"Name":"x"}', type: 'text/plain', status: 400, message: "Content-Type specified (text/plain) must be 'application/json'" },
      { name: 'connect: EndpointConfig an array', method: 'POST', path: '/networks/good/connect', body: { Container: 'box', EndpointConfig: [] }, status: 400, message: 'EndpointConfig must be a JSON object' },
      { name: 'connect: IPv4Address a number', method: 'POST', path: '/networks/good/connect', body: { Container: 'box', EndpointConfig: { IPAMConfig: { IPv4Address: 5 } } }, status: 400, message: 'EndpointConfig.IPAMConfig.IPv4Address must be a string, not a number' },
      { name: 'connect: DriverOpts values', method: 'POST', path: '/networks/good/connect', body: { Container: 'box', EndpointConfig: { DriverOpts: { a: 1 } } }, status: 400, message: 'EndpointConfig.DriverOpts.a must be a string, not a number' },
      { name: 'connect: empty Container', method: 'POST', path: '/networks/good/connect', body: { Container: '' }, status: 400, message: /body\.Container is required/ },
      { name: 'disconnect: Container an object', method: 'POST', path: '/networks/good/disconnect', body: { Container: {} }, status: 400, message: 'body.Container must be a string, not an object' },
    ];
    for (const c of cases) {
      const r = await lab.api(c.method, c.path, c.body, c.type ? { 'Content-Type': c.type } : {});
      t.equal(r.status, c.status, `${c.name}: ${r.raw.slice(0, 200)}`);
      if (c.method === 'HEAD') continue;
      const message = (r.body as { message?: string } | undefined)?.message ?? '';
      if (typeof c.message === 'string') t.equal(message, c.message, c.name);
      else t.match(message, c.message, c.name);
      t.equal(r.headers['content-type'], 'application/json', `${c.name}: JSON error body`);
      t.equal(r.headers['api-version'], '1.41', `${c.name}: Api-Version`);
    }
  });

  await t.test('huge and lying bodies', async (t) => {
    const lying = await raw(lab.socket, 'POST /networks/create HTTP/1.1\r\nHost: cnm\r\nContent-Type: application/json\r\nContent-Length: 999999999\r\n\r\n{"Name":"x"}');
    t.match(lying.text, /^HTTP\/1\.1 400 Bad Request\r\n/, 'a declared size over the limit is refused at once');
    t.match(lying.text, /\{"message":"request body is too large: the limit is 1048576 bytes"\}/);
    t.ok(lying.closed, 'and the connection is closed rather than read to the end');

    const chunk = 'x'.repeat(1 << 16);
    const chunks = Array.from({ length: 40 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join('');
    const chunked = await raw(lab.socket, `POST /networks/create HTTP/1.1\r\nHost: cnm\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}`);
    t.match(chunked.text, /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*request body is too large/, 'a chunked body is cut at the limit');
    t.ok(chunked.closed);

    const short = await raw(lab.socket, 'POST /networks/create HTTP/1.1\r\nHost: cnm\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"Name":"x"}', 1500);
    t.equal(short.text, '', 'a body shorter than declared: nothing happens while the rest is awaited');

    const garbage = await raw(lab.socket, 'THIS IS NOT HTTP\r\n\r\n');
    t.match(garbage.text, /^HTTP\/1\.1 400 Bad Request/, 'not HTTP at all: 400 from the HTTP layer');
    t.equal((await lab.api('GET', '/_ping')).status, 200, 'the daemon still answers');
  });

  t.equal(await snapshot(), before, 'no network, sandbox, link or address changed');

  await t.test('racing requests: one wins, the others get the refusal', async (t) => {
    const creates = await Promise.all(Array.from({ length: 8 }, () => lab.api('POST', '/v1.41/networks/create', { Name: 'race', CheckDuplicate: true })));
    t.same(creates.map((r) => r.status).sort(), [201, 409, 409, 409, 409, 409, 409, 409]);
    t.ok(creates.filter((r) => r.status === 409).every((r) => (r.body as { message: string }).message === 'network with name race already exists'));
    const connects = await Promise.all(Array.from({ length: 6 }, () => lab.api('POST', '/v1.41/networks/race/connect', { Container: 'box' })));
    t.same(connects.map((r) => r.status).sort(), [200, 403, 403, 403, 403, 403]);
    t.ok(connects.filter((r) => r.status === 403).every((r) => (r.body as { message: string }).message === 'endpoint with name box already exists in network race'));
    const disconnects = await Promise.all(Array.from({ length: 4 }, () => lab.api('POST', '/v1.41/networks/race/disconnect', { Container: 'box' })));
    t.same(disconnects.map((r) => r.status).sort(), [200, 403, 403, 403]);
    const removes = await Promise.all(Array.from({ length: 4 }, () => lab.api('DELETE', '/v1.41/networks/race')));
    t.same(removes.map((r) => r.status).sort(), [204, 404, 404, 404]);
    t.equal(await snapshot(), before, 'back where it started');
  });
  t.notMatch(lab.daemonLog, /request failed/, 'no request failed inside the daemon (no 500)');
});
