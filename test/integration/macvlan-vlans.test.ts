/**
 * The seed's VLAN scenario on a real cnmd, emulated inside a private host namespace: the
 * interfaces `eth0.10` and `eth0.20` already exist (VLAN sub-interfaces cannot be made on this
 * kernel) and are veth links to two separate LAN namespaces, each a bridge holding the router
 * (.1) and a peer machine (.200). Then Docker's refusals, the missing-8021q path, isolated
 * networks, host access, and a daemon killed and restarted.
 */
import t, { type Test } from 'tap';
import { Lab } from '../helpers/lab';

interface Lan {
  ns: string;
  peer: string;
}

/** A LAN behind the host's `eth0.<vlan>`: router 192.168.<vlan>.1 and a peer at .200 on a bridge. */
async function addLan(lab: Lab, vlan: number): Promise<Lan> {
  const ns = lab.newNamespace(`lan${vlan}`);
  const peer = lab.newNamespace(`peer${vlan}`);
  await lab.inHost(['ip', 'link', 'add', `eth0.${vlan}`, 'type', 'veth', 'peer', 'name', 'trunk', 'netns', ns]);
  await lab.inHost(['ip', 'link', 'set', `eth0.${vlan}`, 'up']);
  for (const cmd of [
    ['ip', 'link', 'add', 'lan', 'type', 'bridge'],
    ['ip', 'addr', 'add', `192.168.${vlan}.1/24`, 'dev', 'lan'],
    ['ip', 'link', 'set', 'trunk', 'master', 'lan'],
    ['ip', 'link', 'add', 'topeer', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', peer],
    ['ip', 'link', 'set', 'topeer', 'master', 'lan'],
    ['ip', 'link', 'set', 'lan', 'up'],
    ['ip', 'link', 'set', 'trunk', 'up'],
    ['ip', 'link', 'set', 'topeer', 'up'],
  ]) {
    await lab.inNs(ns, cmd);
  }
  await lab.inNs(peer, ['ip', 'addr', 'add', `192.168.${vlan}.200/24`, 'dev', 'eth0']);
  await lab.inNs(peer, ['ip', 'link', 'set', 'eth0', 'up']);
  return { ns, peer };
}

t.test('macvlan on VLAN parents', async (t) => {
  const lab = await Lab.start();
  t.teardown(() => lab.close());
  const lan10 = await addLan(lab, 10);
  await addLan(lab, 20);

  const ping = async (sandbox: string, address: string): Promise<boolean> => (await lab.cliProcess(['exec', sandbox, 'ping', '-c', '1', '-W', '1', address])).code === 0;
  const hostPing = async (address: string): Promise<boolean> => /1 received/.test(await lab.inHost(['ping', '-c', '1', '-W', '1', address], { allowFail: true }));
  const hostLinks = async (): Promise<string[]> =>
    (await lab.inHost(['ip', '-o', 'link']))
      .trim()
      .split('\n')
      .map((l) => l.split(': ')[1]!.split('@')[0]!)
      .sort();
  const networkNames = async (): Promise<string> => (await lab.cli('network', 'ls', '--format', '{{.Name}}')).out;
  const refused = async (t: Test, args: string[], message: string): Promise<void> => {
    const before = { networks: await networkNames(), links: await hostLinks() };
    const r = await lab.cli('network', 'create', '-d', 'macvlan', ...args);
    t.equal(r.code, 1, args.join(' '));
    t.equal(r.err, `Error response from daemon: ${message}\n`);
    t.same({ networks: await networkNames(), links: await hostLinks() }, before, 'no network, no link');
  };

  await t.test('the seed: vlan10 and vlan20 on the existing eth0.10 and eth0.20', async (t) => {
    for (const vlan of [10, 20]) {
      const r = await lab.cli(
        'network', 'create', '-d', 'macvlan',
        `--subnet=192.168.${vlan}.0/24`, `--ip-range=192.168.${vlan}.0/25`, `--gateway=192.168.${vlan}.1`,
        '-o', `parent=eth0.${vlan}`, `vlan${vlan}`,
      );
      t.equal(r.code, 0, r.err);
      t.match(r.out, /^[0-9a-f]{64}\n$/);
    }
    const ls = await lab.cli('network', 'ls', '-f', 'driver=macvlan', '--format', '{{.Name}} {{.Driver}} {{.Scope}}');
    t.same(ls.out.trim().split('\n').sort(), ['vlan10 macvlan local', 'vlan20 macvlan local']);
    const inspect = await lab.cli('network', 'inspect', '-f', '{{json .Options}} {{json .IPAM.Config}} {{.Internal}}', 'vlan10');
    t.equal(inspect.out, '{"parent":"eth0.10"} [{"Subnet":"192.168.10.0/24","IPRange":"192.168.10.0/25","Gateway":"192.168.10.1"}] false\n');

    for (const [name, net] of [['s10a', 'vlan10'], ['s10b', 'vlan10'], ['s20', 'vlan20']]) {
      const r = await lab.cli('run', '-d', '--name', name!, '--network', net!, 'sleep', 'infinity');
      t.equal(r.code, 0, r.err);
    }
    const parentIndex = (await lab.inHost(['ip', '-o', 'link', 'show', 'eth0.10'])).split(':')[0];
    const link = await lab.cliProcess(['exec', 's10a', 'ip', '-o', 'link', 'show', 'eth0']);
    t.match(link.out, new RegExp(`eth0@if${parentIndex}: `), "eth0@if<parent's index>, as Docker shows it");
    const mac = await lab.cliProcess(['exec', 's10a', 'cat', '/sys/class/net/eth0/address']);
    t.equal(mac.out, '02:42:c0:a8:0a:02\n', "Docker's MAC scheme");
    t.match((await lab.cliProcess(['exec', 's10b', 'ip', '-4', '-o', 'addr', 'show', 'eth0'])).out, /inet 192\.168\.10\.3\/24/);
    t.match((await lab.cliProcess(['exec', 's20', 'ip', '-4', '-o', 'addr', 'show', 'eth0'])).out, /inet 192\.168\.20\.2\/24/);
    t.match((await lab.cliProcess(['exec', 's10a', 'ip', 'route'])).out, /default via 192\.168\.10\.1 dev eth0/);
    const containers = await lab.cli('network', 'inspect', '-f', '{{range .Containers}}{{.Name}} {{.IPv4Address}} {{.MacAddress}}\n{{end}}', 'vlan10');
    t.same(containers.out.trim().split('\n').sort(), ['s10a 192.168.10.2/24 02:42:c0:a8:0a:02', 's10b 192.168.10.3/24 02:42:c0:a8:0a:03']);
  });

  await t.test('each sandbox reaches its own LAN and not the other', async (t) => {
    t.ok(await ping('s10a', '192.168.10.1'), 'VLAN 10 router');
    t.ok(await ping('s10a', '192.168.10.200'), 'VLAN 10 peer machine');
    t.ok(await ping('s10a', '192.168.10.3'), 'the other sandbox on vlan10');
    t.ok(await ping('s20', '192.168.20.1'), 'VLAN 20 router');
    t.ok(await ping('s20', '192.168.20.200'), 'VLAN 20 peer machine');
    t.notOk(await ping('s10a', '192.168.20.1'), 'not the VLAN 20 router');
    t.notOk(await ping('s10a', '192.168.20.2'), 'not the VLAN 20 sandbox');
    t.notOk(await ping('s20', '192.168.10.1'), 'not the VLAN 10 router');
    t.notOk(await ping('s20', '192.168.10.200'), 'not the VLAN 10 peer');
    // The LAN sees the sandbox as a machine of its own: its own MAC behind its own address.
    t.match(await lab.inNs(lan10.peer, ['ip', 'neigh', 'show', '192.168.10.2']), /lladdr 02:42:c0:a8:0a:02/);
  });

  await t.test('two sandboxes on vlan10 resolve each other by name, not the vlan20 one', async (t) => {
    const b = await lab.cliProcess(['exec', 's10a', 'dig', '+short', '+time=2', '+tries=1', '@127.0.0.11', 's10b']);
    t.equal(b.out, '192.168.10.3\n', b.err);
    const a = await lab.cliProcess(['exec', 's10b', 'dig', '+short', '+time=2', '+tries=1', '@127.0.0.11', 's10a']);
    t.equal(a.out, '192.168.10.2\n', a.err);
    const other = await lab.cliProcess(['exec', 's10a', 'dig', '+short', '+time=2', '+tries=1', '@127.0.0.11', 's20']);
    t.notMatch(other.out, /192\.168\.20/);
    t.match((await lab.cliProcess(['exec', 's10a', 'cat', '/etc/resolv.conf'])).out, /nameserver 127\.0\.0\.11/);
  });

  await t.test('no bridge and no NAT rule for macvlan networks', async (t) => {
    const bridges = (await lab.inHost(['ip', '-o', 'link', 'show', 'type', 'bridge'])).trim().split('\n').map((l) => l.split(': ')[1]);
    t.same(bridges, ['cnm0'], 'only the default bridge');
    t.notMatch(await lab.inHost(['nft', 'list', 'ruleset']), /192\.168\.(10|20)/);
  });

  await t.test('without host_access the host cannot reach its macvlan sandboxes', async (t) => {
    await lab.inHost(['ip', 'addr', 'add', '192.168.10.250/24', 'dev', 'eth0.10']);
    t.ok(await hostPing('192.168.10.1'), 'the host reaches the LAN through the parent');
    t.notOk(await hostPing('192.168.10.2'), 'but not the sandbox on it');
    await lab.inHost(['ip', 'addr', 'del', '192.168.10.250/24', 'dev', 'eth0.10']);
  });

  await t.test("Docker's refusals change nothing", async (t) => {
    await refused(t, ['--subnet', '192.168.11.0/24', '-o', 'parent=eth0.10', 'again'], 'network vlan10 is already using parent interface eth0.10');
    await refused(t, ['-o', 'parent=eth0.20', '-o', 'macvlan_mode=private', 'again'], 'network vlan20 is already using parent interface eth0.20');
    await refused(t, ['-o', 'parent=nosuchif0', 'nope'], '-o parent interface nosuchif0 was not found on the host');
    await refused(t, ['-o', 'parent=nosuch.10', 'nope'], '-o parent interface nosuch was not found on the host (nosuch.10 is VLAN 10 on nosuch)');
    await refused(t, ['-o', 'parent=eth0.10', '-o', 'macvlan_mode=bogus', 'nope'], "requested macvlan mode 'bogus' is not valid, 'bridge' mode is the macvlan driver default");
    await refused(t, ['-o', 'parent=eth0.10', '-o', 'mtu=9000', 'nope'], 'unknown option "mtu" for driver macvlan; known options: parent, macvlan_mode, host_access');
  });

  await t.test('a VLAN link cannot be made here (no 8021q): a clear error, nothing left, no pool burnt', async (t) => {
    await lab.inHost(['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0peer']);
    await lab.inHost(['ip', 'link', 'set', 'eth0', 'up']);
    const probe = async (name: string): Promise<string> => {
      t.equal((await lab.cli('network', 'create', name)).code, 0);
      const subnet = (await lab.cli('network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Subnet}}{{end}}', name)).out.trim();
      t.equal((await lab.cli('network', 'rm', name)).code, 0);
      return subnet;
    };
    const first = await probe('probe1');
    await refused(
      t,
      ['-o', 'parent=eth0.30', 'vlan30'],
      'failed to create eth0.30 vlan link: operation not supported (this kernel has no 802.1q VLAN support: load the 8021q module, or create eth0.30 yourself and cnm will use it)',
    );
    const second = await probe('probe2');
    const octet = (cidr: string): number => Number(cidr.split('.')[1]);
    t.equal(octet(second), octet(first) + 1, `the failed create took no pool (${first} then ${second})`);
    t.notMatch(lab.daemonLog, /"level":"error"/);
  });

  await t.test('--internal, or no parent: an isolated network on a private parent', async (t) => {
    for (const args of [['--internal', '-o', 'parent=eth0.10', '--subnet', '10.60.0.0/24', 'iso'], ['--subnet', '10.61.0.0/24', 'noparent']]) {
      const r = await lab.cli('network', 'create', '-d', 'macvlan', ...args);
      t.equal(r.code, 0, r.err);
    }
    for (const [name, net] of [['i1', 'iso'], ['i2', 'iso'], ['n1', 'noparent']]) t.equal((await lab.cli('run', '-d', '--name', name!, '--network', net!, 'sleep', 'infinity')).code, 0);
    const isoId = (await lab.cli('network', 'inspect', '-f', '{{.Id}}', 'iso')).out.trim();
    const parent = `dm-${isoId.slice(0, 12)}`;
    t.ok((await hostLinks()).includes(parent), `the private parent ${parent}`);
    t.ok(await ping('i1', '10.60.0.3'), 'sandboxes on it reach each other');
    t.notOk(await ping('i1', '192.168.10.1'), 'and nothing else');
    t.notMatch((await lab.cliProcess(['exec', 'i1', 'ip', 'route'])).out, /default/, 'no default route (internal)');
    t.notMatch((await lab.cliProcess(['exec', 'n1', 'ip', 'route'])).out, /default/, 'no default route (no parent)');
    // A sandbox on the isolated network first and on a LAN second goes out through the LAN.
    t.equal((await lab.cli('network', 'connect', 'vlan10', 'n1')).code, 0);
    t.match((await lab.cliProcess(['exec', 'n1', 'ip', 'route'])).out, /default via 192\.168\.10\.1 dev eth1/);
    t.ok(await ping('n1', '192.168.10.1'));
    for (const name of ['i1', 'i2', 'n1']) t.equal((await lab.cli('rm', '-f', name)).code, 0);
    for (const name of ['iso', 'noparent']) t.equal((await lab.cli('network', 'rm', name)).code, 0);
    t.notOk((await hostLinks()).some((l) => l.startsWith('dm-')), 'the private parents went with their networks');
    t.ok((await hostLinks()).includes('eth0.10'), 'the given parent was never touched');
  });

  await t.test('host_access: the host reaches its sandboxes through a shim, only when asked', async (t) => {
    await addLan(lab, 40);
    // The classic case: the host already has an address on that LAN, through the parent.
    await lab.inHost(['ip', 'addr', 'add', '192.168.40.250/24', 'dev', 'eth0.40']);
    const r = await lab.cli(
      'network', 'create', '-d', 'macvlan', '--subnet', '192.168.40.0/24', '--gateway', '192.168.40.1',
      '--aux-address', 'host_access=192.168.40.254', '-o', 'parent=eth0.40', '-o', 'host_access=true', 'vlan40',
    );
    t.equal(r.code, 0, r.err);
    const id = (await lab.cli('network', 'inspect', '-f', '{{.Id}}', 'vlan40')).out.trim();
    const shim = `mh-${id.slice(0, 12)}`;
    t.equal((await lab.cli('run', '-d', '--name', 'h1', '--network', 'vlan40', 'sleep', 'infinity')).code, 0);
    t.match(await lab.inHost(['ip', '-d', 'link', 'show', shim]), /macvlan mode bridge/);
    t.match(await lab.inHost(['ip', '-4', '-o', 'addr', 'show', shim]), /inet 192\.168\.40\.254\/32/);
    t.match(await lab.inHost(['ip', 'route', 'show', '192.168.40.2']), new RegExp(`192\\.168\\.40\\.2 dev ${shim} scope link src 192\\.168\\.40\\.254`));
    t.ok(await hostPing('192.168.40.2'), 'the host reaches the sandbox');
    t.ok(await ping('h1', '192.168.40.254'), 'the sandbox reaches the host (shim address)');
    t.ok(await ping('h1', '192.168.40.250'), "and the host's own LAN address");
    t.ok(await ping('h1', '192.168.40.1'), 'and still its router');
    t.equal((await lab.cli('run', '-d', '--name', 'h2', '--network', 'vlan40', '--ip', '192.168.40.254', 'true')).code, 125, 'the shim address is reserved');
    await lab.cli('rm', '-f', 'h2');
    t.notOk(await hostPing('192.168.10.2'), 'vlan10 (no host_access) stays out of reach');

    t.equal((await lab.cli('network', 'disconnect', 'vlan40', 'h1')).code, 0);
    t.equal(await lab.inHost(['ip', 'route', 'show', '192.168.40.2']), '', 'the host route went with the endpoint');
    t.equal((await lab.cli('network', 'connect', 'vlan40', 'h1')).code, 0);
    t.ok(await hostPing('192.168.40.2'), 'and came back with it');
  });

  await t.test('host_access without --aux-address: cnm picks the address, reserves it, keeps it, frees it', async (t) => {
    await addLan(lab, 50);
    const create = await lab.cli(
      'network', 'create', '-d', 'macvlan', '--subnet', '192.168.50.0/24', '--gateway', '192.168.50.1', '--ip-range', '192.168.50.0/25',
      '-o', 'parent=eth0.50', '-o', 'host_access=true', 'vlan50',
    );
    t.equal(create.code, 0, create.err);
    const config = async (): Promise<string> => (await lab.cli('network', 'inspect', '-f', '{{json .IPAM.Config}}', 'vlan50')).out.trim();
    t.equal(await config(), '[{"Subnet":"192.168.50.0/24","IPRange":"192.168.50.0/25","Gateway":"192.168.50.1","AuxiliaryAddresses":{"host_access":"192.168.50.254"}}]', 'inspect shows it as Docker shows aux addresses');
    const id = (await lab.cli('network', 'inspect', '-f', '{{.Id}}', 'vlan50')).out.trim();
    const shim = `mh-${id.slice(0, 12)}`;
    t.match(await lab.inHost(['ip', '-4', '-o', 'addr', 'show', shim]), /inet 192\.168\.50\.254\/32/, 'the shim holds it');
    t.equal((await lab.cli('run', '-d', '--name', 'p1', '--network', 'vlan50', 'sleep', 'infinity')).code, 0);
    t.ok(await hostPing('192.168.50.2'), 'the host reaches the sandbox');
    t.ok(await ping('p1', '192.168.50.254'), 'the sandbox reaches the host');
    const taken = await lab.cli('run', '-d', '--name', 'p2', '--network', 'vlan50', '--ip', '192.168.50.254', 'true');
    t.equal(taken.code, 125, 'no sandbox gets it');
    t.match(taken.err, /Address already in use/);
    await lab.cli('rm', '-f', 'p2');

    await lab.stopDaemon();
    await lab.startDaemon();
    t.equal(await config(), '[{"Subnet":"192.168.50.0/24","IPRange":"192.168.50.0/25","Gateway":"192.168.50.1","AuxiliaryAddresses":{"host_access":"192.168.50.254"}}]', 'the same address after a restart');
    t.match(await lab.inHost(['ip', '-4', '-o', 'addr', 'show', shim]), /inet 192\.168\.50\.254\/32/);
    t.ok(await hostPing('192.168.50.2'), 'host access still works');

    t.equal((await lab.cli('rm', '-f', 'p1')).code, 0);
    t.equal((await lab.cli('network', 'rm', 'vlan50')).code, 0);
    t.equal((await lab.cli('network', 'create', '-d', 'macvlan', '--subnet', '192.168.50.0/24', '-o', 'parent=eth0.50', 'plain50')).code, 0);
    const again = await lab.cli('run', '-d', '--name', 'p3', '--network', 'plain50', '--ip', '192.168.50.254', 'sleep', 'infinity');
    t.equal(again.code, 0, `the address went with the network: ${again.err}`);
    t.equal((await lab.cli('rm', '-f', 'p3')).code, 0);
    t.equal((await lab.cli('network', 'rm', 'plain50')).code, 0);
  });

  await t.test('killed with SIGKILL and restarted: damage repaired, orphans removed, traffic flows', async (t) => {
    const id = (await lab.cli('network', 'inspect', '-f', '{{.Id}}', 'vlan40')).out.trim();
    const shim = `mh-${id.slice(0, 12)}`;
    await lab.stopDaemon('SIGKILL');
    await lab.inHost(['ip', 'link', 'del', shim]);
    const orphan = 'dm-0123456789ab';
    await lab.inHost(['ip', 'link', 'add', orphan, 'type', 'bridge']);
    await lab.inHost(['ip', 'link', 'set', orphan, 'alias', `cnm macvlan 0123456789ab${'0'.repeat(52)}`]);
    await lab.startDaemon();
    const links = await hostLinks();
    t.ok(links.includes(shim), 'the shim is back');
    t.notOk(links.includes(orphan), 'a link tagged for a network that does not exist is gone');
    t.ok(await hostPing('192.168.40.2'), 'host access works again');
    t.ok(await ping('s10a', '192.168.10.3'), 'vlan10 sandboxes still talk');
    t.ok(await ping('s20', '192.168.20.200'), 'vlan20 still reaches its LAN');
  });

  await t.test('network rm removes what the driver made and leaves the given parents', async (t) => {
    for (const name of ['s10a', 's10b', 's20', 'h1']) t.equal((await lab.cli('rm', '-f', name)).code, 0);
    for (const name of ['vlan10', 'vlan20', 'vlan40']) t.equal((await lab.cli('network', 'rm', name)).code, 0);
    const links = await hostLinks();
    t.notOk(links.some((l) => /^(mh|dm|vt)-/.test(l)), 'no shim, private parent or staged link');
    for (const parent of ['eth0.10', 'eth0.20', 'eth0.40']) t.ok(links.includes(parent), `${parent} stays`);
    t.match(await lab.inHost(['ip', '-4', '-o', 'addr', 'show', 'eth0.40']), /192\.168\.40\.250\/24/, "the host's own address on it too");
  });
});
