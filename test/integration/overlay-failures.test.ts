/**
 * Overlay networks when things die, through real daemons in the cluster lab: a host's cnmd
 * killed with SIGKILL (its endpoints leave the others' DNS and forwarding entries within seconds,
 * its addresses are freed, and it comes back on restart), the etcd leader killed while every host
 * is busy (no operation fails), and the etcd quorum lost (overlay operations fail with a clear
 * error, local networks and the existing data plane keep working, overlay works again after).
 */
import t from 'tap';
import type { Lab } from '../helpers/lab';
import { ClusterLab, digFrom, sandboxIp, until } from '../helpers/cluster-lab';

/** The MACs in a host's VXLAN forwarding entries for a network (`bridge fdb show dev vx-…`). */
async function fdbMacs(lab: ClusterLab, host: number, networkId: string): Promise<string[]> {
  const out = await lab.inNs(lab.hosts[host]!.ns, ['bridge', 'fdb', 'show', 'dev', `vx-${networkId.slice(0, 12)}`], { allowFail: true });
  return out
    .split('\n')
    .map((l) => /^([0-9a-f:]{17}) dst /.exec(l)?.[1])
    .filter((m): m is string => m !== undefined && m !== '00:00:00:00:00:00');
}

async function macOf(lab: Lab, sandbox: string, network: string): Promise<string> {
  const r = await lab.api('GET', `/containers/${sandbox}/json`);
  return (r.body as { NetworkSettings: { Networks: Record<string, { MacAddress: string }> } }).NetworkSettings.Networks[network]!.MacAddress;
}

t.test('overlay failures', async (t) => {
  const lab = await ClusterLab.start();
  t.teardown(() => lab.close());
  const [h1, h2, h3] = [lab.host(0), lab.host(1), lab.host(2)];
  const created = await h1.cli('network', 'create', '-d', 'overlay', '--subnet', '10.220.0.0/24', '--attachable', 'ov');
  t.equal(created.code, 0, created.err);
  const networkId = created.out.trim();
  await until(async () => (await h2.cli('network', 'ls', '-q', '--filter', 'name=ov')).out !== '' && (await h3.cli('network', 'ls', '-q', '--filter', 'name=ov')).out !== '', 5000, 'ov everywhere');
  for (const [h, name] of [[h1, 'a'], [h2, 'b'], [h3, 'c']] as const) {
    const r = await h.cli('run', '-d', '--name', name, '--network', 'ov', 'sleep', 'infinity');
    t.equal(r.code, 0, r.err);
  }
  const bIp = await sandboxIp(h2, 'b', 'ov');
  const bMac = await macOf(h2, 'b', 'ov');
  await until(async () => (await digFrom(h1, 'a', 'b')).includes(bIp) && (await fdbMacs(lab, 0, networkId)).includes(bMac), 5000, 'b known on host 1');

  await t.test('a host killed with SIGKILL: its endpoints vanish from the others, its addresses are freed', async (t) => {
    const killed = Date.now();
    await h2.stopDaemon('SIGKILL');
    const dns = await until(async () => (await digFrom(h1, 'a', 'b')).length === 0, 15000, "b gone from host 1's DNS");
    const dnsMs = Date.now() - killed;
    await until(async () => !(await fdbMacs(lab, 0, networkId)).includes(bMac), 15000, "b's MAC gone from host 1's forwarding entries");
    const fdbMs = Date.now() - killed;
    t.comment(`after SIGKILL of host 2's cnmd: gone from host 1's DNS after ${dnsMs} ms, from its forwarding entries after ${fdbMs} ms`);
    t.ok(dns.ms >= 0 && fdbMs < 10000, 'within a few seconds');
    const ping = await h1.cliProcess(['exec', 'a', 'ping', '-c', '1', '-W', '2', await sandboxIp(h3, 'c', 'ov')]);
    t.equal(ping.code, 0, 'the surviving hosts still reach each other');

    // Its address is free for the others: host 3 can take it.
    const steal = await h3.cli('run', '-d', '--name', 'taker', '--network', 'ov', '--ip', bIp, 'sleep', 'infinity');
    t.equal(steal.code, 0, `the dead host's address ${bIp} is free again: ${steal.err}`);
    t.equal((await h3.cli('rm', '-f', 'taker')).code, 0);

    // Back: the restarted daemon re-claims and re-publishes its sandbox.
    await h2.startDaemon();
    const back = await until(async () => (await digFrom(h1, 'a', 'b')).includes(bIp), 15000, 'b back on host 1');
    t.comment(`host 2 restarted: b resolves on host 1 again after ${back.ms} ms`);
    const ping2 = await h1.cliProcess(['exec', 'a', 'ping', '-c', '1', '-W', '2', 'b']);
    t.equal(ping2.code, 0, 'and is reachable again');
  });

  await t.test('the etcd leader killed while every host works: no operation fails', async (t) => {
    const leader = await lab.etcd!.leader();
    t.ok(leader, `leader: ${leader}`);
    const hosts = [h1, h2, h3];
    let stop = false;
    const failures: string[] = [];
    const slowest: number[] = [];
    const worker = async (h: Lab, n: number): Promise<number> => {
      let done = 0;
      for (let i = 0; !stop; i++) {
        const name = `w${n}-${i}`;
        const start = Date.now();
        const run = await h.cli('run', '-d', '--name', name, '--network', 'ov', 'sleep', 'infinity');
        if (run.code !== 0) failures.push(`${name} run: ${run.err}`);
        const rm = await h.cli('rm', '-f', name);
        if (rm.code !== 0) failures.push(`${name} rm: ${rm.err}`);
        slowest.push(Date.now() - start);
        done++;
      }
      return done;
    };
    const work = hosts.map((h, n) => worker(h, n));
    await new Promise((r) => setTimeout(r, 500));
    await lab.etcd!.kill(leader!);
    await new Promise((r) => setTimeout(r, 4000));
    stop = true;
    const done = (await Promise.all(work)).reduce((a, b) => a + b, 0);
    t.same(failures, [], `${done} run+rm cycles across the leader change, none failed`);
    t.comment(`slowest run+rm during the leader change: ${Math.max(...slowest)} ms; new leader ${await lab.etcd!.leader()}`);
    lab.etcd!.restart(leader!);
    await lab.etcd!.waitHealthy(20000);
  });

  await t.test('quorum lost: overlay operations fail clearly, local networks and the data plane keep working; back after', async (t) => {
    const members = lab.etcd!.names;
    const victims = members.filter((m) => m !== members[0]).slice(0, 2);
    for (const v of victims) await lab.etcd!.kill(v);

    const start = Date.now();
    const create = await h1.cli('network', 'create', '-d', 'overlay', '--subnet', '10.230.0.0/24', 'ov-late');
    t.equal(create.code, 1);
    t.match(create.err, /cluster store unavailable/, create.err);
    t.comment(`overlay create refused after ${Date.now() - start} ms: ${create.err.trim()}`);
    const run = await h2.cli('run', '-d', '--name', 'q', '--network', 'ov', 'sleep', 'infinity');
    t.not(run.code, 0);
    t.match(run.err, /cluster store unavailable/, run.err);
    t.equal((await h2.cli('ps', '-a', '-q', '--filter', 'name=^q$')).out, '', 'the failed run left no sandbox');

    const local = await h3.cli('network', 'create', '--subnet', '10.240.0.0/24', 'local');
    t.equal(local.code, 0, local.err);
    for (const name of ['l1', 'l2']) t.equal((await h3.cli('run', '-d', '--name', name, '--network', 'local', 'sleep', 'infinity')).code, 0);
    const localPing = await h3.cliProcess(['exec', 'l1', 'ping', '-c', '1', '-W', '2', 'l2']);
    t.equal(localPing.code, 0, 'local networks work without quorum');
    const overlayPing = await h1.cliProcess(['exec', 'a', 'ping', '-c', '1', '-W', '2', 'c']);
    t.equal(overlayPing.code, 0, 'existing overlay sandboxes still reach each other by name');

    const outage = Date.now();
    for (const v of victims) lab.etcd!.restart(v);
    const again = await until(async () => {
      const r = await h2.cli('run', '-d', '--name', 'q', '--network', 'ov', 'sleep', 'infinity');
      if (r.code !== 0) await h2.cli('rm', '-f', 'q');
      return r.code === 0;
    }, 30000, 'overlay run succeeds again');
    t.comment(`overlay operations succeed again ${Date.now() - outage} ms after the members restarted (${again.ms} ms of retries)`);
    const qIp = await sandboxIp(h2, 'q', 'ov');
    await until(async () => (await digFrom(h1, 'a', 'q')).includes(qIp), 10000, 'q resolvable on host 1');
    t.pass('and its sandbox is seen by the others');
    const created2 = await h1.cli('network', 'create', '-d', 'overlay', '--subnet', '10.230.0.0/24', 'ov-late');
    t.equal(created2.code, 0, created2.err);
  });
});
