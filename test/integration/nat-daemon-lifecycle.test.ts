/**
 * cnm's nftables table over the daemon's life: it follows `rm` and `network rm` exactly (the
 * ruleset returns to what it was, element for element), it heals within moments after someone
 * deletes or flushes it, a restart (graceful or SIGKILL) brings the mappings and the held host
 * ports back, a daemon stop leaves no cnm table at all, and a foreign table is never touched.
 */
import path from 'node:path';
import t from 'tap';
import { closeFd, openSocketInNetns } from '../../src/os/native';
import { CLIENT_IP, CLIENT_IP6, HOST_IP, HOST_IP6, NatDaemonLab } from './nat-daemon-lab';

t.test('the ruleset over the daemon life', async (t) => {
  const lab = await NatDaemonLab.start(t);
  const foreign = `${lab.lab.id}f`;
  /**
   * `nft list ruleset`, tables in name order and without blank lines: a table re-created after
   * `flush ruleset` is listed after the others and with other spacing.
   */
  const ruleset = async (): Promise<string> => {
    const text = (await lab.ruleset()).split('\n').filter((l) => l.trim() !== '');
    const tables: string[][] = [];
    for (const line of text) {
      if (line.startsWith('table ')) tables.push([]);
      tables[tables.length - 1]!.push(line);
    }
    return tables.map((lines) => lines.join('\n')).sort().join('\n');
  };
  const nft = (...args: string[]): Promise<string> => lab.lab.inHost(['nft', ...args]);
  const addForeignTable = async (): Promise<void> => {
    await nft('add', 'table', 'inet', foreign);
    await nft('add', 'chain', 'inet', foreign, 'input', '{ type filter hook input priority 10; policy accept; }');
    await nft('add', 'rule', 'inet', foreign, 'input', 'tcp', 'dport', '9999', 'drop');
    await nft('add', 'set', 'inet', foreign, 'blocked', '{ type ipv4_addr; elements = { 203.0.113.7 } }');
  };
  const serving = async (): Promise<string[]> =>
    Promise.all([lab.tcp(lab.client, HOST_IP, 8080), lab.udp(lab.client, HOST_IP, 8080), lab.tcp(lab.client, HOST_IP6, 8182)]);
  const expected = [`srv:80 ${CLIENT_IP}`, `srv:5000 ${CLIENT_IP}`, `s6:80 ${CLIENT_IP6}`];

  // Baseline: no daemon, one foreign table.
  await lab.lab.stopDaemon();
  t.equal(await ruleset(), '', 'a stopped daemon leaves no table');
  await addForeignTable();
  const withoutCnm = await ruleset();
  await lab.lab.startDaemon();
  const bare = await ruleset();
  t.match(bare, /table inet cnm \{/);
  t.ok(bare.includes(withoutCnm.trim()), 'the foreign table is untouched');

  t.equal((await lab.cli('network', 'create', '--subnet', '10.64.1.0/24', 'web')).code, 0);
  t.equal((await lab.cli('network', 'create', '--ipv6', '--subnet', '10.64.2.0/24', '--subnet', 'fd64:2::/64', 'dual')).code, 0);
  const networksOnly = await ruleset();
  t.equal((await lab.runServer('srv', ['--network', 'web', '-p', '8080:80', '-p', '8080:5000/udp', '-p', '7000'], ['tcp:80', 'udp:5000', 'tcp:7000'])).code, 0);
  t.equal((await lab.runServer('s6', ['--network', 'dual', '-p', '8182:80', '-p', '127.0.0.1:8183:80/udp'])).code, 0);
  const full = await ruleset();
  t.same(await serving(), expected);
  const ports = (await lab.cli('port', 'srv')).out + (await lab.cli('port', 's6')).out;

  await t.test('someone deletes or flushes the table: cnm puts it back', async (t) => {
    const damage: [string, () => Promise<unknown>][] = [
      ['nft delete table inet cnm', () => nft('delete', 'table', 'inet', 'cnm')],
      ['nft flush table inet cnm', () => nft('flush', 'table', 'inet', 'cnm')],
      ['one map element deleted', () => nft('delete', 'element', 'inet', 'cnm', 'ports4-any', '{ tcp . 8080 }')],
      ['one chain flushed', () => nft('flush', 'chain', 'inet', 'cnm', 'prerouting')],
      ['nft flush ruleset (a firewall reload)', () => nft('flush', 'ruleset')],
    ];
    for (const [what, act] of damage) {
      await act();
      if (what.includes('flush ruleset')) await addForeignTable(); // ours to put back
      // Polling the table, not the ports: a probe that arrives while the table is missing meets
      // the held socket and waits out its whole timeout.
      const { ms } = await lab.until(ruleset, (r) => r === full, 5000, `after ${what}`);
      t.pass(`${what}: the same ruleset again after ${ms} ms`);
      t.ok(ms < 3000, `${what}: within a few seconds`);
      t.same(await serving(), expected, `${what}: serving again`);
    }
  });

  await t.test('3,000 ports published in one run: the daemon lives on and still heals', async (t) => {
    // One apply with thousands of map elements floods the event socket: it used to overrun, and the
    // netlink package's socket aborted cnmd (std::terminate from its poll handler).
    const SERVER = path.join(__dirname, 'nat-daemon-server.js');
    const run = await lab.cli('run', '-d', '--name', 'bulk', '--network', 'web', '-p', '20000-22999:20000-22999', process.execPath, SERVER, 'bulk', 'tcp:20000', 'tcp:22999');
    t.equal(run.code, 0, run.err);
    await lab.until(() => lab.tcp(lab.client, HOST_IP, 22999), (r) => r === `bulk:22999 ${CLIENT_IP}`, 5000, 'the last port of the range');
    t.equal(await lab.tcp(lab.client, HOST_IP, 20000), `bulk:20000 ${CLIENT_IP}`);
    t.equal((await lab.cli('port', 'bulk')).out.split('\n').filter(Boolean).length, 3000);
    for (let i = 0; i < 3; i++) {
      t.equal((await lab.cli('run', '-d', '--name', 'probe', '--network', 'web', '-p', '8090:80', 'sleep', 'infinity')).code, 0);
      t.equal((await lab.cli('rm', '-f', 'probe')).code, 0);
    }
    const withBulk = await ruleset();
    await nft('delete', 'table', 'inet', 'cnm');
    await lab.until(ruleset, (r) => r === withBulk, 5000, 'healed with 3,000 ports');
    t.equal((await lab.cli('rm', '-f', 'bulk')).code, 0);
    t.equal(await ruleset(), full);
    t.same(await serving(), expected);
  });

  await t.test('graceful restart: no cnm table while stopped, everything back after', async (t) => {
    await lab.lab.stopDaemon();
    t.equal(await ruleset(), withoutCnm, 'no cnm rule, set or chain left; the foreign table as it was');
    t.equal(await lab.tcp(lab.client, HOST_IP, 8080, 1), 'refused', 'nothing published while stopped');
    await lab.lab.startDaemon();
    t.equal(await ruleset(), full);
    t.same(await serving(), expected, 'the sandboxes kept running; their mappings are back');
    t.equal((await lab.cli('port', 'srv')).out + (await lab.cli('port', 's6')).out, ports, 'the same host ports, the ephemeral one too');
    t.throws(() => openSocketInNetns(lab.host, 'tcp', '0.0.0.0', 8080), { code: 'EADDRINUSE' }, 'the host port is held again');
  });

  await t.test('SIGKILL and restart', async (t) => {
    await lab.lab.stopDaemon('SIGKILL');
    t.equal(await ruleset(), full, 'the rules outlive a crash');
    await lab.lab.startDaemon();
    t.equal(await ruleset(), full);
    t.same(await serving(), expected);
    t.throws(() => openSocketInNetns(lab.host, 'udp', '0.0.0.0', 8080), { code: 'EADDRINUSE' }, 'the host port is held again');
  });

  await t.test('rm, network rm and stop leave nothing behind', async (t) => {
    t.equal((await lab.cli('rm', '-f', 'srv', 's6')).code, 0);
    t.equal(await ruleset(), networksOnly, 'rm: the ruleset as before the sandboxes');
    t.equal(await lab.tcp(lab.client, HOST_IP, 8080, 1), 'refused');
    const fd = openSocketInNetns(lab.host, 'tcp', '0.0.0.0', 8080);
    closeFd(fd);
    t.pass('rm released the host port');
    t.equal((await lab.cli('network', 'rm', 'web', 'dual')).code, 0);
    t.equal(await ruleset(), bare, 'network rm: the ruleset as before the networks');
    await lab.lab.stopDaemon();
    t.equal(await ruleset(), withoutCnm, 'stop: no cnm table; the foreign one as it was');
  });
});
