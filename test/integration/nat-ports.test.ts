/**
 * The port allocator with real sockets in a private namespace (host processes that already hold
 * a port, sockets cnm holds), the nftables binding's errors against a real kernel, and the
 * Firewall's resources.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { Firewall, NftError, parsePublish, PortAllocator, socketReserver } from '../../src/nat';
import { Nft } from '../../src/nat/nft';
import { closeFd, createNetns, deleteNetns, openSocketInNetns } from '../../src/os/native';
import { inNs } from '../helpers/lab';


t.test('ports in a private namespace', async (t) => {
  const ns = path.join(os.tmpdir(), `cnmt${process.pid}-${Math.random().toString(16).slice(2, 8)}`);
  createNetns(ns);
  const fds: number[] = [];
  t.teardown(() => {
    for (const fd of fds) closeFd(fd);
    deleteNetns(ns);
  });
  const hostProcess = (proto: 'tcp' | 'udp', ip: string, port: number): void => {
    fds.push(openSocketInNetns(ns, proto, ip, port));
  };
  const canBind = (proto: 'tcp' | 'udp', ip: string, port: number): boolean => {
    try {
      closeFd(openSocketInNetns(ns, proto, ip, port));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') return false;
      throw err;
    }
  };
  const ports = new PortAllocator({ reserver: socketReserver(ns) });
  t.teardown(() => ports.releaseAll());
  const v4 = { ipv4: '10.0.0.2' };

  t.test('a port a host process listens on', async (t) => {
    hostProcess('tcp', '0.0.0.0', 8080);
    hostProcess('udp', '127.0.0.1', 5353);
    t.throws(() => ports.allocate('a', parsePublish('8080:80'), v4), {
      message: 'Error starting userland proxy: listen tcp4 0.0.0.0:8080: bind: address already in use',
    });
    t.throws(() => ports.allocate('a', parsePublish('127.0.0.1:8080:80'), v4), /listen tcp4 127\.0\.0\.1:8080: bind: address already in use/);
    t.throws(() => ports.allocate('a', parsePublish('5353:53/udp'), v4), /listen udp4 0\.0\.0\.0:5353: bind: address already in use/);
    t.equal(ports.allocate('a', parsePublish('8080:80/udp'), v4)[0]!.hostPort, 8080, 'the other protocol is free');
    t.throws(() => ports.allocate('b', parsePublish('192.0.2.99:8084:80'), v4), {
      message: 'Error starting userland proxy: listen tcp4 192.0.2.99:8084: bind: cannot assign requested address',
    });
  });

  t.test('ephemeral ports skip ports host processes hold', async (t) => {
    hostProcess('tcp', '0.0.0.0', 32768);
    hostProcess('tcp', '127.0.0.1', 32769);
    t.equal(ports.allocate('c', parsePublish('80'), v4)[0]!.hostPort, 32770);
  });

  t.test('held sockets keep host processes off published ports until release', async (t) => {
    ports.allocate('d', [...parsePublish('9090:80'), ...parsePublish('127.0.0.1:9191:53/udp')], v4);
    t.notOk(canBind('tcp', '0.0.0.0', 9090), '0.0.0.0:9090/tcp is held');
    t.notOk(canBind('tcp', '127.0.0.1', 9090), 'so is 127.0.0.1:9090/tcp');
    t.notOk(canBind('udp', '127.0.0.1', 9191), '127.0.0.1:9191/udp is held');
    const stdout = await inNs(ns, ['ss', '-Hltn', 'sport = :9090']);
    t.match(stdout, /0\.0\.0\.0:9090/, 'ss shows the published port as listening');
    ports.release('d');
    t.ok(canBind('tcp', '0.0.0.0', 9090), 'free after release');
    t.ok(canBind('udp', '127.0.0.1', 9191), 'free after release');
  });

  t.test('one dual-stack socket holds 0.0.0.0 and ::', async (t) => {
    const bindings = ports.allocate('e', parsePublish('7070:80'), { ipv4: '10.0.0.2', ipv6: 'fd00::2' });
    t.same(bindings.map((b) => b.hostIp), ['0.0.0.0', '::']);
    t.notOk(canBind('tcp', '0.0.0.0', 7070));
    t.notOk(canBind('tcp', '::1', 7070));
    ports.release('e');
    t.ok(canBind('tcp', '0.0.0.0', 7070));
  });
});

t.test('nft errors name the offending command; a failed batch applies nothing', async (t) => {
  const ns = path.join(os.tmpdir(), `cnmt${process.pid}-${Math.random().toString(16).slice(2, 8)}`);
  createNetns(ns);
  const nft = Nft.open(ns);
  t.teardown(() => {
    nft.close();
    deleteNetns(ns);
  });
  const batch = ['add table inet cnmt', 'add chain inet cnmt c', 'add rule inet cnmt c tcp dport 99999 accept', ''].join('\n');
  const err = await nft.run(batch).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof NftError, 'an NftError');
  const e = err as NftError;
  t.equal(e.line, 3);
  t.equal(e.command, 'add rule inet cnmt c tcp dport 99999 accept');
  t.equal(e.reason, 'Service out of range');
  t.equal(e.kind, 'internal');
  t.same((await nft.listJson('list tables')).nftables.filter((o) => 'table' in o), [], 'nothing was applied');

  const kernel = (await nft.run('add table inet cnmt\nadd chain inet cnmt c\nadd rule inet cnmt c jump nowhere\n').then(
    () => undefined,
    (x: unknown) => x,
  )) as NftError;
  t.equal(kernel.line, 3, 'a kernel refusal is located too');
  t.match(kernel.reason, /Could not process rule/);

  await nft.run('add table inet cnmt\n');
  const list = await nft.listJson('list tables');
  t.same(list.nftables.filter((o) => 'table' in o).map((o) => (o.table as { name: string }).name), ['cnmt']);
  const root = Nft.open();
  t.teardown(() => root.close());
  const rootTables = (await root.listJson('list tables')).nftables.filter((o) => 'table' in o);
  t.notOk(rootTables.some((o) => (o.table as { name: string }).name === 'cnmt'), 'the table went to the private namespace only');
});

t.test('Firewall leaves no fd, socket or timer behind', async (t) => {
  const ns = path.join(os.tmpdir(), `cnmt${process.pid}-${Math.random().toString(16).slice(2, 8)}`);
  createNetns(ns);
  t.teardown(() => deleteNetns(ns));
  // What each fd points at (socket:[…], net:[…], /memfd:…): new entries after close are leaks.
  const fds = (): Set<string> =>
    new Set(readdirSync('/proc/self/fd').flatMap((fd) => {
      try {
        return [`${fd} ${readlinkSync(`/proc/self/fd/${fd}`)}`];
      } catch {
        return []; // the fd of the directory listing itself
      }
    }));
  const leaked = (): string[] => [...fds()].filter((fd) => !before.has(fd));
  const before = fds();
  const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

  const restores: unknown[] = [];
  const firewall = Firewall.open({ netnsPath: ns, restoreDelayMs: 200, onRestore: (r) => restores.push(r) });
  t.ok(leaked().length >= 3, 'open holds the namespace, the nft context and the netlink socket');
  await firewall.apply({ networks: [], ports: [] });
  // Damage, then close before the restore is due: the pending restore must die with it.
  await inNs(ns, ['nft', 'delete', 'table', 'inet', 'cnm']);
  await new Promise((r) => setTimeout(r, 50));
  firewall.close();
  await new Promise((r) => setTimeout(r, 400));
  t.same(restores, [], 'no restore after close');
  t.equal(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length, timersBefore, 'no timer left');
  t.same(leaked(), [], 'every fd closed');

  const second = Firewall.open({ netnsPath: ns });
  await second.apply({ networks: [], ports: [] });
  await second.teardown();
  t.same(leaked(), [], 'teardown closes everything too');
  const stdout = await inNs(ns, ['nft', 'list', 'ruleset']);
  t.equal(stdout, '', 'and removes the table');
});
