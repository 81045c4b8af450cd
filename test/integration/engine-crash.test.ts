/**
 * kill -9 at any moment: SIGKILL the daemon while 50 connects (and then 30 sandbox creations)
 * are in flight, restart it, and find every sandbox either fully connected or not at all, with
 * no stray link, address, namespace or row.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { ContainerJSON, NetworkResource } from '../../src/api/engine-types';
import { Lab, sleep } from '../helpers/lab';

interface Observed {
  links: string[];
  addrs: string;
}

async function sandboxView(lab: Lab, id: string): Promise<Observed> {
  const ns = path.join(lab.execRoot, 'netns', id);
  const links = (await lab.inNs(ns, ['ip', '-o', 'link'])).split('\n').filter(Boolean).map((l) => l.split(':')[1]!.trim().split('@')[0]!);
  const addrs = await lab.inNs(ns, ['ip', '-o', '-4', 'addr']);
  return { links, addrs };
}

/** Checks that the kernel and the daemon's view agree for every sandbox; returns connected ids. */
async function checkConsistent(t: Test, lab: Lab, network: string): Promise<Set<string>> {
  const list = (await lab.api('GET', '/containers/json?all=1')).body as { Id: string }[];
  const connected = new Set<string>();
  const seenIps = new Set<string>();
  const hostVeths = (await lab.inHost(['ip', '-o', 'link'])).split('\n').filter((l) => /: veth[0-9a-f]{7}@/.test(l)).map((l) => /: (veth[0-9a-f]{7})@/.exec(l)![1]!);
  const expectedVeths = new Set<string>();
  for (const { Id } of list) {
    const c = (await lab.api('GET', `/containers/${Id}/json`)).body as ContainerJSON;
    const view = await sandboxView(lab, Id);
    for (const [name, ep] of Object.entries(c.NetworkSettings.Networks)) {
      t.notOk(seenIps.has(ep.IPAddress), `address ${ep.IPAddress} is unique`);
      seenIps.add(ep.IPAddress);
      t.match(view.addrs, new RegExp(`inet ${ep.IPAddress.replace(/\./g, '\\.')}/`), `${c.Name} has ${ep.IPAddress} (${name})`);
      expectedVeths.add(`veth${ep.EndpointID.slice(0, 7)}`);
      if (name === network) connected.add(Id);
    }
    t.equal(view.links.length, Object.keys(c.NetworkSettings.Networks).length + 1, `${c.Name}: one interface per endpoint, nothing else (${view.links.join(',')})`);
  }
  t.same(hostVeths.sort(), [...expectedVeths].sort(), 'host veths are exactly the endpoints');
  const nsFiles = fs.readdirSync(path.join(lab.execRoot, 'netns')).sort();
  t.same(nsFiles, list.map((c) => c.Id).sort(), 'namespace files are exactly the sandboxes');
  const net = (await lab.api('GET', `/networks/${network}`)).body as NetworkResource;
  t.equal(Object.keys(net.Containers).length, connected.size, 'network lists exactly the connected sandboxes');
  return connected;
}

t.test('SIGKILL during 50 parallel connects, then during 30 parallel creates', async (t) => {
  const lab = await Lab.start();
  t.teardown(() => lab.close());
  t.equal((await lab.cli('network', 'create', '--subnet', '10.50.0.0/24', 'crashnet')).code, 0);
  const ids: string[] = [];
  for (let i = 0; i < 50; i++) {
    const r = await lab.api('POST', `/containers/create?name=s${i}`, { Cmd: ['true'], HostConfig: { NetworkMode: 'bridge' } });
    t.equal(r.status, 201);
    ids.push((r.body as { Id: string }).Id);
  }

  const connects = ids.map((id) => lab.api('POST', '/networks/crashnet/connect', { Container: id }).catch(() => undefined));
  await sleep(60);
  await lab.stopDaemon('SIGKILL');
  await Promise.all(connects);
  await lab.startDaemon();
  const connected = await checkConsistent(t, lab, 'crashnet');
  t.ok(connected.size < 50, `the kill interrupted the connects (${connected.size} of 50 done)`);

  // The daemon works normally afterwards: the remaining sandboxes connect and get fresh addresses.
  for (const id of ids.filter((i) => !connected.has(i))) {
    const r = await lab.api('POST', '/networks/crashnet/connect', { Container: id });
    t.equal(r.status, 200, r.raw);
  }
  t.equal((await checkConsistent(t, lab, 'crashnet')).size, 50);

  const creates = Array.from({ length: 30 }, (_, i) =>
    lab.api('POST', `/containers/create?name=c${i}`, { Cmd: ['true'], HostConfig: { NetworkMode: 'crashnet' } }).catch(() => undefined),
  );
  await sleep(40);
  await lab.stopDaemon('SIGKILL');
  await Promise.all(creates);
  await lab.startDaemon();
  await checkConsistent(t, lab, 'crashnet');
  t.match(lab.daemonLog, /finishing an operation interrupted by a daemon crash|removing/, 'the restart found something to repair');
});

/** Processes whose network namespace is the sandbox's (the test sees them through /proc). */
function processesIn(nsInode: number): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (fs.statSync(`/proc/${name}/ns/net`).ino !== nsInode) continue;
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      pids.push(Number(name));
    } catch {
      // gone
    }
  }
  return pids;
}

/**
 * The process trees in the sandbox, by their roots: a program runs under its supervisor
 * (cnm-exec), whose pid is the recorded one, so one copy is one root with its child.
 */
function programsIn(nsInode: number): number[] {
  const pids = processesIn(nsInode);
  const inside = new Set(pids);
  return pids.filter((pid) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      return !inside.has(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      return false;
    }
  });
}

t.test('SIGKILL during parallel starts: every program is owned or gone; start makes one copy; rm -f leaves nothing', async (t) => {
  const lab = await Lab.start();
  t.teardown(() => lab.close());
  t.equal((await lab.cli('network', 'create', '--subnet', '10.51.0.0/24', 'startnet')).code, 0);
  const inodes = new Map<string, number>();
  let interrupted = 0;
  // Kills at several moments of the starts: before most spawns, among them, after most.
  for (const [round, delay] of [5, 40, 120, 300].entries()) {
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await lab.api('POST', `/containers/create?name=r${round}s${i}`, { Cmd: ['sleep', '1000'], HostConfig: { NetworkMode: 'startnet' } });
      t.equal(r.status, 201, r.raw);
      const id = (r.body as { Id: string }).Id;
      ids.push(id);
      inodes.set(id, fs.statSync(path.join(lab.execRoot, 'netns', id)).ino);
    }
    const starts = ids.map((id) => lab.api('POST', `/containers/${id}/start`).catch(() => undefined));
    await sleep(delay);
    await lab.stopDaemon('SIGKILL');
    await Promise.all(starts);
    await lab.startDaemon();

    for (const id of ids) {
      const c = (await lab.api('GET', `/containers/${id}/json`)).body as ContainerJSON;
      const present = programsIn(inodes.get(id)!);
      if (c.State.Running) t.same(present, [c.State.Pid], `round ${round}: ${c.Name} runs, and only its recorded pid ${c.State.Pid}`);
      else {
        interrupted++;
        t.same(present, [], `round ${round}: ${c.Name} is not running (pid ${c.State.Pid}) and has no process`);
      }
    }
    // start never makes a second copy, even asked twice at once.
    await Promise.all(ids.flatMap((id) => [lab.api('POST', `/containers/${id}/start`), lab.api('POST', `/containers/${id}/start`)]));
    for (const id of ids) {
      const c = (await lab.api('GET', `/containers/${id}/json`)).body as ContainerJSON;
      t.ok(c.State.Running, `round ${round}: ${c.Name} runs after start`);
      t.same(programsIn(inodes.get(id)!), [c.State.Pid], `round ${round}: ${c.Name} has exactly one copy`);
    }
  }
  t.ok(interrupted > 0, `some starts were interrupted (${interrupted} of 48)`);
  t.match(lab.daemonLog, /finishing an operation interrupted by a daemon crash.*"op":"startProcess"/, 'a restart undid a start that had spawned its program');

  // rm -f kills every process in the sandbox, not only the recorded one.
  const [first] = inodes.keys();
  const ns = path.join(lab.execRoot, 'netns', first!);
  const stray = spawn('nsenter', [`--net=${ns}`, 'sleep', '1000'], { detached: true, stdio: 'ignore' });
  stray.unref();
  await sleep(200);
  t.equal(programsIn(inodes.get(first!)!).length, 2, 'the program and a second process in the sandbox');
  // Known by pid and start time: once a namespace is gone its inode may be reused by another.
  // A zombie is dead (its parent, this test for the extra process, has not reaped it yet).
  const startTime = (pid: number): string | undefined => {
    try {
      const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop()!.split(' ');
      return fields[0] === 'Z' ? undefined : fields[19];
    } catch {
      return undefined;
    }
  };
  t.equal([...inodes.values()].flatMap(programsIn).length, inodes.size + 1, 'one program per sandbox and the extra process');
  const before = [...inodes.values()].flatMap(processesIn).map((pid) => ({ pid, start: startTime(pid) }));
  for (const id of inodes.keys()) t.equal((await lab.api('DELETE', `/containers/${id}?force=1`)).status, 204);
  const left = before.filter((p) => p.start !== undefined && startTime(p.pid) === p.start).map((p) => p.pid);
  const describe = (pid: number): string => {
    try {
      return `${pid}: ${fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')}`;
    } catch {
      return `${pid}: gone`;
    }
  };
  t.same(left, [], `no process is left in any removed sandbox ${left.map(describe).join('; ')}`);
});
