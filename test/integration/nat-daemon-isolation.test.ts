/**
 * The isolation matrix through the real daemon: sandboxes of one network reach each other, two
 * user networks do not, nor a user network and the default bridge; a sandbox on two networks
 * reaches both; an --internal network has no way out and publishes nothing; icc=false and
 * masquerade=false behave as in Docker. Probes go to the sandboxes' own addresses.
 */
import t from 'tap';
import { CLIENT_IP, HOST_IP, NatDaemonLab } from './nat-daemon-lab';

t.test('isolation through cnmd', async (t) => {
  const lab = await NatDaemonLab.start(t);
  const networks: string[][] = [
    ['--subnet', '10.62.1.0/24', 'neta'],
    ['--subnet', '10.62.2.0/24', 'netb'],
    ['--internal', '--subnet', '10.62.3.0/24', 'closed'],
    ['-o', 'com.docker.network.bridge.enable_icc=false', '--subnet', '10.62.4.0/24', 'noicc'],
    ['-o', 'com.docker.network.bridge.enable_ip_masquerade=false', '--subnet', '10.62.5.0/24', 'nomasq'],
    ['-o', 'com.docker.network.bridge.host_binding_ipv4=127.0.0.1', '--subnet', '10.62.6.0/24', 'local'],
  ];
  for (const args of networks) {
    const r = await lab.cli('network', 'create', ...args);
    t.equal(r.code, 0, r.err);
  }
  const sandboxes: [string, string[]][] = [
    ['a1', ['--network', 'neta']],
    ['a2', ['--network', 'neta']],
    ['b1', ['--network', 'netb']],
    ['ab', ['--network', 'neta', '--network', 'netb']],
    ['d1', []],
    ['i1', ['--network', 'closed', '-p', '8500:80']],
    ['i2', ['--network', 'closed']],
    ['c1', ['--network', 'noicc']],
    ['c2', ['--network', 'noicc']],
    ['m1', ['--network', 'nomasq']],
    ['l1', ['--network', 'local', '-p', '8600:80']],
  ];
  await Promise.all(
    sandboxes.map(async ([name, flags]) => {
      const r = await lab.runServer(name, flags);
      t.equal(r.code, 0, `${name}: ${r.err}`);
    }),
  );
  const ns = new Map<string, string>();
  const addresses = new Map<string, string[]>();
  for (const [name] of sandboxes) {
    ns.set(name, await lab.lab.sandboxNs(name));
    const r = await lab.cli('inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}', name);
    addresses.set(name, r.out.trim().split(' '));
  }
  const ip = (name: string, i = 0): string => addresses.get(name)![i]!;
  t.equal(addresses.get('ab')!.length, 2, 'ab is on two networks');

  await t.test('the matrix', async (t) => {
    // [from, to address, what: ok (the server answers, seeing peer) or blocked]
    const ok = (peer: string): { peer: string } => ({ peer });
    const blocked = 'blocked' as const;
    const cases: [string, string, string, { peer: string } | typeof blocked][] = [
      ['same network', 'a1', ip('a2'), ok(ip('a1'))],
      ['two user networks', 'a1', ip('b1'), blocked],
      ['two user networks, back', 'b1', ip('a1'), blocked],
      ['user network to default bridge', 'a1', ip('d1'), blocked],
      ['default bridge to user network', 'd1', ip('a1'), blocked],
      ['two networks: first', 'ab', ip('a1'), ok(ip('ab', 0))],
      ['two networks: second', 'ab', ip('b1'), ok(ip('ab', 1))],
      ['to a sandbox on two networks, its own network', 'b1', ip('ab', 1), ok(ip('b1'))],
      ["to a sandbox on two networks, through its other network's address", 'a1', ip('ab', 1), blocked],
      ['way out, masqueraded', 'a1', CLIENT_IP, ok(HOST_IP)],
      ['way out from the default bridge', 'd1', CLIENT_IP, ok(HOST_IP)],
      ['internal: same network', 'i1', ip('i2'), ok(ip('i1'))],
      ['internal: no way out', 'i1', CLIENT_IP, blocked],
      ['internal: not to another network', 'i1', ip('a1'), blocked],
      ['internal: not from another network', 'a1', ip('i1'), blocked],
      ['icc off: not within the network', 'c1', ip('c2'), blocked],
      ['icc off: still a way out', 'c1', CLIENT_IP, ok(HOST_IP)],
      ['masquerade off: out with its own address', 'm1', CLIENT_IP, ok(ip('m1'))],
    ];
    const external: [string, string][] = [
      ['outside to a sandbox address (not published)', ip('a1')],
      ['outside to an internal sandbox', ip('i1')],
    ];
    await Promise.all([
      ...cases.map(async ([what, from, to, expected]) => {
        const answer = await lab.tcp(ns.get(from)!, to, 80, 1);
        const name = to === CLIENT_IP ? 'client' : sandboxes.find(([n]) => ip(n) === to || ip(n, 1) === to)![0];
        // Dropped (timeout), or no route at all (an internal network has no default route).
        if (expected === blocked) t.match(answer, /^(timeout|unreachable)$/, `${what}: ${from} → ${to}`);
        else t.equal(answer, `${name}:80 ${expected.peer}`, `${what}: ${from} → ${to}`);
      }),
      ...external.map(async ([what, to]) => {
        t.equal(await lab.tcp(lab.client, to, 80, 1), 'timeout', what);
      }),
      (async () => {
        t.equal(await lab.udp(ns.get('a1')!, ip('a2'), 5000, 1), `a2:5000 ${ip('a1')}`, 'udp: same network');
        t.equal(await lab.udp(ns.get('a1')!, ip('b1'), 5000, 1), 'timeout', 'udp: two user networks');
        t.match(await lab.udp(ns.get('i1')!, CLIENT_IP, 5000, 1), /^(timeout|unreachable)$/, 'udp: internal has no way out');
        t.equal(await lab.udp(ns.get('a1')!, CLIENT_IP, 5000, 1), `client:5000 ${HOST_IP}`, 'udp: way out');
      })(),
    ]);
  });

  await t.test('internal: the firewall holds even with a default route added by hand', async (t) => {
    const i1 = ns.get('i1')!;
    await lab.lab.inNs(i1, ['ip', 'route', 'add', 'default', 'via', '10.62.3.1']);
    t.equal(await lab.tcp(i1, CLIENT_IP, 80, 1), 'timeout', 'no way out');
    t.equal(await lab.udp(i1, CLIENT_IP, 5000, 1), 'timeout', 'no way out (udp)');
    t.equal(await lab.tcp(i1, ip('a1'), 80, 1), 'timeout', 'not to another network');
    t.equal(await lab.tcp(i1, ip('i2'), 80, 1), `i2:80 ${ip('i1')}`, 'its own network still');
  });

  await t.test('internal networks publish nothing', async (t) => {
    t.equal((await lab.cli('port', 'i1')).out, '');
    t.equal(await lab.tcp(lab.client, HOST_IP, 8500, 1), 'refused');
    t.equal(await lab.tcp(lab.host, '127.0.0.1', 8500, 1), 'refused');
    t.notMatch(await lab.ruleset(), /\b8500\b/);
  });

  await t.test('host_binding_ipv4 is the default host address of the network', async (t) => {
    t.equal((await lab.cli('port', 'l1')).out, '80/tcp -> 127.0.0.1:8600\n');
    t.match(await lab.tcp(lab.host, '127.0.0.1', 8600), /^l1:80 /);
    t.equal(await lab.tcp(lab.client, HOST_IP, 8600, 1), 'refused');
  });
});
