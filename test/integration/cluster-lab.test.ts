/**
 * The multi-host lab itself: hosts reach each other over the underlay, the etcd cluster has a
 * leader, every cnmd answers, and close() leaves no namespace, process or file behind.
 */
import fs from 'node:fs';
import t from 'tap';
import { isNetnsMount } from '../../src/os/native';
import { ClusterLab, OUTSIDE_ADDRESS } from '../helpers/cluster-lab';

t.test('three hosts, an etcd cluster, a cnmd each; nothing left after close', async (t) => {
  const start = Date.now();
  const lab = await ClusterLab.start();
  t.comment(`lab up in ${Date.now() - start} ms`);
  let closed = false;
  t.teardown(async () => {
    if (!closed) await lab.close();
  });
  t.equal(lab.hosts.length, 3);
  t.same(lab.hosts.map((h) => h.address), ['10.99.0.11', '10.99.0.12', '10.99.0.13']);
  t.ok(await lab.etcd!.leader(), 'etcd has a leader');
  t.equal(lab.etcd!.url, 'etcd://10.99.0.11:2379,10.99.0.12:2379,10.99.0.13:2379');
  for (const h of lab.hosts) {
    await lab.inNs(h.ns, ['ping', '-c', '1', '-W', '1', OUTSIDE_ADDRESS]);
    for (const other of lab.hosts) if (other !== h) await lab.inNs(h.ns, ['ping', '-c', '1', '-W', '1', other.address]);
    const ping = await h.lab.api('GET', '/_ping');
    t.equal(ping.status, 200, `${h.name}: cnmd answers`);
  }
  const pids = lab.hosts.map((h) => h.lab.daemonPid!);
  const namespaces = [lab.underlay, ...lab.hosts.map((h) => h.ns)];
  await lab.close();
  closed = true;
  t.notOk(fs.existsSync(lab.dir), 'temp dir removed');
  t.notOk(namespaces.some((ns) => isNetnsMount(ns)), 'namespaces removed');
  for (const pid of pids) t.throws(() => process.kill(pid, 0), 'cnmd gone');
  for (const name of lab.etcd!.names) t.notOk(lab.etcd!.isRunning(name), `etcd ${name} gone`);
});
