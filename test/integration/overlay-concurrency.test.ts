/**
 * 50 sandboxes connected at once to one overlay network, spread over three hosts with their own
 * daemons: every one gets an address, no two the same, and every host's DNS knows all of them.
 */
import t from 'tap';
import { ClusterLab, digFrom, sandboxIp, until } from '../helpers/cluster-lab';

t.test('50 concurrent connects across three hosts: no duplicate address', async (t) => {
  const lab = await ClusterLab.start();
  t.teardown(() => lab.close());
  const hosts = [lab.host(0), lab.host(1), lab.host(2)];
  const created = await hosts[0]!.cli('network', 'create', '-d', 'overlay', '--subnet', '10.250.0.0/24', '--attachable', 'ov');
  t.equal(created.code, 0, created.err);
  for (const h of hosts) await until(async () => (await h.cli('network', 'ls', '-q', '--filter', 'name=ov')).out !== '', 5000, 'ov listed');
  // Sandboxes exist first; the 50 connects then race each other.
  const names = Array.from({ length: 50 }, (_, i) => `s${i}`);
  const hostOf = (i: number): (typeof hosts)[0] => hosts[i % 3]!;
  for (const [i, name] of names.entries()) {
    const r = await hostOf(i).cli('run', '-d', '--name', name, '--network', 'none', 'sleep', 'infinity');
    t.equal(r.code, 0, r.err);
  }
  // `none` refuses other networks: disconnect it first (Docker's rule), then connect all at once.
  for (const [i, name] of names.entries()) t.equal((await hostOf(i).cli('network', 'disconnect', 'none', name)).code, 0);
  const start = Date.now();
  const results = await Promise.all(names.map((name, i) => hostOf(i).cli('network', 'connect', 'ov', name)));
  const ms = Date.now() - start;
  t.same(results.filter((r) => r.code !== 0).map((r) => r.err), [], 'every connect succeeded');
  t.comment(`50 concurrent connects over 3 hosts in ${ms} ms`);
  const ips = await Promise.all(names.map((name, i) => sandboxIp(hostOf(i), name, 'ov')));
  t.equal(new Set(ips).size, 50, 'fifty different addresses');
  t.same(
    [...ips].sort((a, b) => Number(a.split('.')[3]) - Number(b.split('.')[3])),
    Array.from({ length: 50 }, (_, i) => `10.250.0.${i + 2}`),
    'the fifty lowest after the reserved gateway (.1)',
  );
  // Every host's sandboxes resolve every other host's.
  for (const [i] of hosts.entries()) {
    const probe = names[i]!;
    const target = names[(i + 1) % 50 + 3]!;
    const targetIp = ips[names.indexOf(target)]!;
    await until(async () => (await digFrom(hostOf(i), probe, target)).includes(targetIp), 10000, `${target} resolvable from ${probe}`);
  }
  t.pass('names resolve across hosts');
});
