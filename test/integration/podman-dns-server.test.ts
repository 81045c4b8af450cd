/**
 * cnm-dns's server without Podman: gateways and containers on loopback addresses of this test's
 * private namespace, upstream stubs beside them. Views by source address, aardvark's NXDOMAIN rules
 * (and no leak of those names upstream), per-container upstream sets, SERVFAIL in time, TCP,
 * and a new plan taken at once (names, listeners).
 */
import '../helpers/private-netns';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { parseNetworkFile } from '../../src/podman-dns/config';
import { planOf } from '../../src/podman-dns/plan';
import { PodmanDnsServer } from '../../src/podman-dns/server';
import { startStub } from './resolver-stub';
import { until } from '../helpers/lab';

const run = promisify(execFile);

async function dig(server: string, from: string, ...args: string[]): Promise<{ status: string; answers: string[]; ms: number }> {
  const started = Date.now();
  const { stdout } = await run('dig', [`@${server}`, '-b', from, '+time=5', '+tries=1', ...args]).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  const section = /;; ANSWER SECTION:\n([\s\S]*?)(?:\n\n|$)/.exec(stdout)?.[1] ?? '';
  return { status: /status: (\w+)/.exec(stdout)?.[1] ?? 'TIMEOUT', answers: section.split('\n').filter(Boolean).map((l) => l.split(/\s+/).pop()!), ms: Date.now() - started };
}

t.test('views, NXDOMAIN rules, upstream sets, SERVFAIL in time, TCP, reload', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnm-dns-server-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const host = await startStub({ records: { 'x.example': [{ type: 'A', data: '192.0.2.1' }], 'slow.example': [{ type: 'A', data: '192.0.2.9' }] } }, { address: '127.0.0.53', port: 53 });
  const own = await startStub({ records: { 'x.example': [{ type: 'A', data: '198.51.100.7' }] } }, { address: '127.0.0.54', port: 53 });
  t.teardown(() => Promise.all([host.close(), own.close()]));
  const resolvConf = path.join(dir, 'resolv.conf');
  fs.writeFileSync(resolvConf, 'nameserver 127.0.0.53\n');
  const server = new PodmanDnsServer({ port: 53, domain: 'dns.podman', resolvConfPath: resolvConf, ttl: 86400, log: () => {} });
  t.teardown(() => server.close());

  const n1 = parseNetworkFile('n1', `127.10.0.1\naa 127.10.0.2  web,www\ncc 127.10.0.3  custom 127.0.0.54\n`).network!;
  const n2 = parseNetworkFile('n2', `127.20.0.1\nbb 127.20.0.2  db\n`).network!;
  await server.apply(planOf([n1, n2], 'dns.podman'));
  t.same(server.listening().sort(), ['127.10.0.1', '127.20.0.1']);

  t.same((await dig('127.10.0.1', '127.10.0.2', 'www')).answers, ['127.10.0.2'], 'a container: its network');
  t.equal((await dig('127.10.0.1', '127.10.0.2', 'db')).status, 'NXDOMAIN', 'not another network\'s names');
  t.same((await dig('127.20.0.1', '127.20.0.2', 'db.dns.podman')).answers, ['127.20.0.2'], 'name.dns.podman');
  t.same((await dig('127.10.0.1', '127.10.0.200', 'web')).answers, ['127.10.0.2'], 'a stranger: the names of the network it asked on');
  t.equal((await dig('127.20.0.1', '127.10.0.200', 'web')).status, 'NXDOMAIN', 'and only those');

  host.queries.length = 0;
  t.equal((await dig('127.10.0.1', '127.10.0.2', 'nope')).status, 'NXDOMAIN', 'unknown single label');
  t.equal((await dig('127.10.0.1', '127.10.0.2', 'nope.dns.podman')).status, 'NXDOMAIN', 'unknown .dns.podman name');
  t.same(host.queries, [], 'neither went upstream');

  t.same((await dig('127.10.0.1', '127.10.0.2', 'x.example')).answers, ['192.0.2.1'], 'forwarded to the host\'s resolv.conf servers');
  t.same((await dig('127.10.0.1', '127.10.0.3', 'x.example')).answers, ['198.51.100.7'], 'a container with its own --dns servers: those');
  t.same((await dig('127.10.0.1', '127.10.0.2', '+tcp', 'web')).answers, ['127.10.0.2'], 'TCP');

  host.behaviour.mode = 'silent';
  const silent = await dig('127.10.0.1', '127.10.0.2', 'slow.example');
  t.equal(silent.status, 'SERVFAIL', 'a silent upstream: SERVFAIL');
  t.ok(silent.ms < 4500, `well before the client's 5 s (${silent.ms} ms)`);
  host.behaviour.mode = 'answer';

  // A new plan: a container comes, n2 goes.
  const n1b = parseNetworkFile('n1', `127.10.0.1\naa 127.10.0.2  web,www\nee 127.10.0.5  late\n`).network!;
  await server.apply(planOf([n1b], 'dns.podman'));
  t.same((await dig('127.10.0.1', '127.10.0.2', 'late')).answers, ['127.10.0.5'], 'a new container resolves at once');
  t.same(server.listening(), ['127.10.0.1'], 'the listener of a removed network is closed');
  t.equal((await dig('127.20.0.1', '127.20.0.2', '+time=1', 'db')).status, 'TIMEOUT', 'nothing answers there any more');
  t.match(server.renderMetrics(), /cnm_dns_queries_total\{type="A",rcode="NXDOMAIN",source="local"\} [1-9]/, 'metrics count the answers');

  // A gateway the host does not have yet (an IPv6 gateway during DAD): listened on once it comes.
  const n3 = parseNetworkFile('n3', `10.55.0.1\nff 10.55.0.2  soon\n`).network!;
  await server.apply(planOf([n1b, n3], 'dns.podman'));
  t.same(server.listening(), ['127.10.0.1'], 'not yet');
  await run('ip', ['addr', 'add', '10.55.0.1/32', 'dev', 'lo']);
  await run('ip', ['addr', 'add', '10.55.0.2/32', 'dev', 'lo']);
  const soon = await until(async () => (await dig('10.55.0.1', '10.55.0.2', '+time=1', 'soon')).answers[0] === '10.55.0.2', 5000, 'the late gateway to answer');
  t.pass(`answers there once the address exists (${soon.ms} ms)`);
});
