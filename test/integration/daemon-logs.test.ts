/**
 * What an operator sees of cnmd: its process is named cnmd (ps, top, /proc/PID/comm), every
 * failed request leaves a warn line with method, path, status and the error text, successes are
 * debug lines, --log-level filters them, and NAT changes are logged.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import t from 'tap';
import { Lab } from '../helpers/lab';

interface Line {
  level: string;
  msg: string;
  component?: string;
  method?: string;
  path?: string;
  status?: number;
  durationMs?: number;
  error?: string;
  ports?: number;
}

function lines(lab: Lab): Line[] {
  return lab.daemonLog
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);
}

/** Log lines are written when the answer is sent: give the daemon a moment to write them. */
async function eventually(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
}

t.test('requests are logged; failures at warn with what went wrong', async (t) => {
  const lab = await Lab.start();
  t.teardown(() => lab.close());

  t.equal((await lab.api('GET', '/v1.41/no/such/thing')).status, 404);
  t.equal((await lab.api('POST', '/v1.41/networks/create', { Name: 'x', Driver: 42 })).status, 400);
  t.equal((await lab.api('GET', '/_ping')).status, 200);
  await eventually(() => lines(lab).filter((l) => l.msg === 'request').length >= 3);
  const requests = lines(lab).filter((l) => l.msg === 'request' && l.component === 'api');

  const notFound = requests.find((l) => l.status === 404);
  t.match(notFound, { level: 'warn', method: 'GET', path: '/v1.41/no/such/thing', status: 404, error: 'page not found' }, '404 at warn');
  t.type(notFound?.durationMs, 'number', 'with its duration');
  const bad = requests.find((l) => l.status === 400);
  t.match(bad, { level: 'warn', method: 'POST', path: '/v1.41/networks/create', status: 400 }, '400 at warn');
  t.match(bad?.error, /Driver/, 'with the error the client got');
  t.match(
    requests.find((l) => l.path === '/_ping'),
    { level: 'debug', method: 'GET', status: 200 },
    'a success is a debug line',
  );

  t.equal((await lab.cli('network', 'create', '--subnet', '10.77.0.0/24', 'logs')).code, 0);
  t.equal((await lab.cli('run', '-d', '--name', 'pub', '--network', 'logs', '-p', '18080:80', 'sleep', 'infinity')).code, 0);
  await eventually(() => lines(lab).some((l) => l.component === 'nat' && l.ports === 1));
  t.match(
    lines(lab).find((l) => l.component === 'nat' && l.ports === 1),
    { level: 'debug', msg: 'applied the nftables ruleset' },
    'the ruleset applied for a published port is logged',
  );
  t.equal((await lab.cli('rm', '-f', 'pub')).code, 0);
});

t.test('--log-level warn keeps failures and drops successes', async (t) => {
  const lab = await Lab.start({ daemonArgs: ['--log-level', 'warn'] });
  t.teardown(() => lab.close());
  t.equal((await lab.api('GET', '/_ping')).status, 200);
  t.equal((await lab.api('DELETE', '/v1.41/networks/nosuchnet')).status, 404);
  await eventually(() => lines(lab).some((l) => l.status === 404));
  const all = lines(lab);
  t.ok(all.some((l) => l.level === 'warn' && l.method === 'DELETE' && l.path === '/v1.41/networks/nosuchnet' && l.status === 404 && /nosuchnet/.test(l.error ?? '')), 'the 404 is there');
  t.notOk(all.some((l) => l.level === 'debug' || l.level === 'info'), 'nothing below warn');
});

t.test('the process is named cnmd', async (t) => {
  const lab = await Lab.start();
  t.teardown(() => lab.close());
  const pid = lab.daemonPid!;
  t.equal(fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim(), 'cnmd', '/proc/PID/comm');
  t.equal(execFileSync('ps', ['-o', 'comm=', '-p', String(pid)], { encoding: 'utf8' }).trim(), 'cnmd', 'ps -o comm=');
  t.match(execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' }).trim(), /^cnmd/, 'ps -o args=');
});
