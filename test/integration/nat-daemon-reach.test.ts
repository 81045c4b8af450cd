/**
 * Published ports through the real daemon: `cnm run -d -p ...` with TCP and UDP servers inside
 * sandboxes, reached from an external client namespace, from the host on its own addresses and
 * on 127.0.0.1, from other sandboxes (hairpin, also from other networks) and from the sandbox
 * itself; several -p, ranges, ephemeral ports, host-IP bindings, IPv6; `cnm port` output.
 */
import t from 'tap';
import { CLIENT_IP, CLIENT_IP6, HOST_IP, HOST_IP6, HOST_IP_2, NatDaemonLab } from './nat-daemon-lab';

t.test('published ports through cnmd', async (t) => {
  const lab = await NatDaemonLab.start(t);
  const ok = (r: { code: number; err: string }, what: string): void => void t.equal(r.code, 0, `${what}: ${r.err}`);

  ok(await lab.cli('network', 'create', '--subnet', '10.61.1.0/24', 'web'), 'network web');
  ok(await lab.cli('network', 'create', '--ipv6', '--subnet', '10.61.2.0/24', '--subnet', 'fd61:2::/64', 'dual'), 'network dual');
  ok(await lab.cli('network', 'create', '--subnet', '10.61.3.0/24', 'far'), 'network far');

  // Created first: the ephemeral counters start at 32768 for each protocol.
  ok(await lab.runServer('eph', ['--network', 'web', '-p', '80', '-p', '5000/udp', '-p', '7000'], ['tcp:80', 'udp:5000', 'tcp:7000']), 'eph');
  ok(await lab.runServer('srv', ['--network', 'web', '-p', '8080:80', '-p', '8080:5000/udp']), 'srv');
  const p2Ports = ['tcp:80', 'udp:80', 'tcp:7000', 'tcp:7001'];
  ok(await lab.runServer('p2', ['--network', 'web', '-p', '127.0.0.1:8081:80/udp', '-p', '8082:80', '-p', '9000-9001:7000-7001'], p2Ports), 'p2');
  ok(await lab.runServer('p6', ['--network', 'dual', '-p', '127.0.0.1:8181:80/udp', '-p', '8182:80', '-p', '9100-9101:7000-7001'], p2Ports), 'p6');
  ok(await lab.runServer('rng1', ['--network', 'web', '-p', '8300-8302:80'], ['tcp:80']), 'rng1');
  ok(await lab.runServer('rng2', ['--network', 'web', '-p', '8300-8302:80'], ['tcp:80']), 'rng2');
  ok(await lab.runServer('bound', ['--network', 'web', '-p', `${HOST_IP}:8400:80`, '-p', `${HOST_IP}:8400:5000/udp`, '-p', '127.0.0.1:8401:80']), 'bound');
  ok(await lab.runServer('v6b', ['--network', 'dual', '-p', '0.0.0.0:8500:80', '-p', '[::]:8501:80', '-p', `[${HOST_IP6}]:8502:80`], ['tcp:80']), 'v6b');
  ok(await lab.runServer('other', ['--network', 'web']), 'other');
  ok(await lab.runServer('far1', ['--network', 'far']), 'far1');
  ok(await lab.runServer('def', []), 'def');
  ok(await lab.runServer('other6', ['--network', 'dual']), 'other6');

  const ns = async (name: string): Promise<string> => lab.lab.sandboxNs(name);
  const ip = async (name: string, family: 4 | 6 = 4): Promise<string> => {
    const r = await lab.cli('inspect', '-f', `{{range .NetworkSettings.Networks}}{{.${family === 4 ? 'IPAddress' : 'GlobalIPv6Address'}}}{{end}}`, name);
    return r.out.trim();
  };

  await t.test('cnm port prints what docker port prints', async (t) => {
    const port = async (...args: string[]): Promise<string> => {
      const r = await lab.cli('port', ...args);
      t.equal(r.code, 0, r.err);
      return r.out;
    };
    // docker-behaviour.md §1.4, with IPv6 (the all-address bindings hold 0.0.0.0 and ::).
    t.equal(
      await port('p6'),
      ['7000/tcp -> 0.0.0.0:9100', '7000/tcp -> :::9100', '7001/tcp -> 0.0.0.0:9101', '7001/tcp -> :::9101', '80/tcp -> 0.0.0.0:8182', '80/tcp -> :::8182', '80/udp -> 127.0.0.1:8181', ''].join('\n'),
    );
    // Without IPv6 nothing is published on :: (no userland proxy to carry IPv6 to an IPv4-only
    // sandbox), so `cnm port` does not claim :::P.
    t.equal(await port('p2'), ['7000/tcp -> 0.0.0.0:9000', '7001/tcp -> 0.0.0.0:9001', '80/tcp -> 0.0.0.0:8082', '80/udp -> 127.0.0.1:8081', ''].join('\n'));
    t.equal(await port('p6', '80'), '0.0.0.0:8182\n:::8182\n');
    t.equal(await port('p6', '80/tcp'), '0.0.0.0:8182\n:::8182\n');
    t.equal(await port('p2', '80/udp'), '127.0.0.1:8081\n');
    t.equal(await port('p2', '7001'), '0.0.0.0:9001\n');
    const missing = await lab.cli('port', 'p2', '81');
    t.equal(missing.code, 1);
    t.equal(missing.err, "Error: No public port '81/tcp' published for p2\n");
    t.equal(await port('eph'), ['5000/udp -> 0.0.0.0:32768', '7000/tcp -> 0.0.0.0:32769', '80/tcp -> 0.0.0.0:32768', ''].join('\n'), 'ephemeral ports counted per protocol');
    t.equal(await port('srv'), ['5000/udp -> 0.0.0.0:8080', '80/tcp -> 0.0.0.0:8080', ''].join('\n'), 'one host port, both protocols');
    t.equal(await port('rng1'), '80/tcp -> 0.0.0.0:8300\n', 'first free port of a host range');
    t.equal(await port('rng2'), '80/tcp -> 0.0.0.0:8301\n');
    t.same((await port('bound')).split('\n').filter(Boolean).sort(), [`5000/udp -> ${HOST_IP}:8400`, '80/tcp -> 127.0.0.1:8401', `80/tcp -> ${HOST_IP}:8400`]);
    t.same((await port('v6b')).split('\n').filter(Boolean).sort(), ['80/tcp -> 0.0.0.0:8500', `80/tcp -> ${HOST_IP6}:8502`, '80/tcp -> :::8501']);
    t.equal(await port('other'), '', 'nothing published');
  });

  await t.test('the Engine API reports what was asked and what was bound', async (t) => {
    const r = await lab.lab.api('GET', '/containers/p2/json');
    const body = r.body as { HostConfig: { PortBindings: unknown }; NetworkSettings: { Ports: unknown } };
    t.same(body.HostConfig.PortBindings, {
      '7000/tcp': [{ HostIp: '', HostPort: '9000' }],
      '7001/tcp': [{ HostIp: '', HostPort: '9001' }],
      '80/tcp': [{ HostIp: '', HostPort: '8082' }],
      '80/udp': [{ HostIp: '127.0.0.1', HostPort: '8081' }],
    });
    t.same(body.NetworkSettings.Ports, {
      '7000/tcp': [{ HostIp: '0.0.0.0', HostPort: '9000' }],
      '7001/tcp': [{ HostIp: '0.0.0.0', HostPort: '9001' }],
      '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8082' }],
      '80/udp': [{ HostIp: '127.0.0.1', HostPort: '8081' }],
    });
  });

  await t.test('one mapping (TCP and UDP on 8080) reached from everywhere', async (t) => {
    const gateway = '10.61.1.1';
    const [other, srv, far1, def] = await Promise.all(['other', 'srv', 'far1', 'def'].map(ns));
    const farIp = await ip('far1');
    // [from, to, peer the sandbox must see (undefined: any)]
    const cases: [string, string, string, string | undefined][] = [
      ['external client', lab.client, HOST_IP, CLIENT_IP], // the source is kept (no proxy)
      ['external client, second host address', lab.client, HOST_IP_2, CLIENT_IP],
      ['host on its own address', lab.host, HOST_IP, undefined],
      ['host on 127.0.0.1', lab.host, '127.0.0.1', gateway],
      ['host on the bridge address', lab.host, gateway, undefined],
      ['sandbox on the same network (hairpin)', other, HOST_IP, gateway],
      ['sandbox on the same network, via the gateway', other, gateway, gateway],
      ['the sandbox itself', srv, HOST_IP, gateway],
      ['sandbox on another user network', far1, HOST_IP, farIp],
      ['sandbox on the default bridge', def, HOST_IP, undefined],
    ];
    await Promise.all(
      cases.map(async ([what, from, to, peer]) => {
        const tcp = await lab.tcp(from, to, 8080);
        const udp = await lab.udp(from, to, 8080);
        t.match(tcp, peer ? `srv:80 ${peer}` : /^srv:80 /, `tcp: ${what}`);
        t.match(udp, peer ? `srv:5000 ${peer}` : /^srv:5000 /, `udp: ${what}`);
        if (peer) t.equal(tcp, `srv:80 ${peer}`, `tcp peer: ${what}`);
      }),
    );
  });

  await t.test('several -p, ranges and ephemeral ports', async (t) => {
    const c = lab.client;
    t.equal(await lab.tcp(c, HOST_IP, 8082), `p2:80 ${CLIENT_IP}`);
    t.equal(await lab.tcp(c, HOST_IP, 9000), `p2:7000 ${CLIENT_IP}`);
    t.equal(await lab.tcp(c, HOST_IP, 9001), `p2:7001 ${CLIENT_IP}`);
    t.equal(await lab.tcp(c, HOST_IP, 32768), `eph:80 ${CLIENT_IP}`);
    t.equal(await lab.udp(c, HOST_IP, 32768), `eph:5000 ${CLIENT_IP}`);
    t.equal(await lab.tcp(c, HOST_IP, 32769), `eph:7000 ${CLIENT_IP}`);
    t.equal(await lab.tcp(c, HOST_IP, 8300), `rng1:80 ${CLIENT_IP}`);
    t.equal(await lab.tcp(c, HOST_IP, 8301), `rng2:80 ${CLIENT_IP}`);
    t.equal(await lab.tcp(c, HOST_IP, 8302), 'refused', 'the rest of the range is not published');
  });

  await t.test('host-IP bindings: one address, 127.0.0.1', async (t) => {
    const c = lab.client;
    t.equal(await lab.tcp(c, HOST_IP, 8400), `bound:80 ${CLIENT_IP}`);
    t.equal(await lab.udp(c, HOST_IP, 8400), `bound:5000 ${CLIENT_IP}`);
    t.equal(await lab.tcp(c, HOST_IP_2, 8400), 'refused', 'bound to another address');
    t.notMatch(await lab.udp(c, HOST_IP_2, 8400, 1), /bound/);
    t.equal(await lab.tcp(lab.host, HOST_IP, 8400), `bound:80 ${HOST_IP}`);
    t.match(await lab.tcp(lab.host, '127.0.0.1', 8401), /^bound:80 /);
    t.equal(await lab.tcp(c, HOST_IP, 8401), 'refused', '127.0.0.1 binding is not reachable from outside');
    t.equal(await lab.tcp(lab.host, HOST_IP, 8401), 'refused', 'nor on the host address');
    t.match(await lab.udp(lab.host, '127.0.0.1', 8081), /^p2:80 /);
    t.notMatch(await lab.udp(c, HOST_IP, 8081, 1), /p2/);
  });

  await t.test('IPv6 where the network has it', async (t) => {
    const c = lab.client;
    const [p6, other6] = await Promise.all([ns('p6'), ns('other6')]);
    t.equal(await lab.tcp(c, HOST_IP6, 8182), `p6:80 ${CLIENT_IP6}`);
    t.equal(await lab.tcp(c, HOST_IP, 8182), `p6:80 ${CLIENT_IP}`);
    t.equal(await lab.tcp(c, HOST_IP6, 9101), `p6:7001 ${CLIENT_IP6}`);
    t.match(await lab.tcp(lab.host, HOST_IP6, 8182), /^p6:80 /);
    t.equal(await lab.tcp(p6, HOST_IP6, 8182), 'p6:80 fd61:2::1', 'the sandbox itself, hairpin masqueraded to the gateway');
    t.equal(await lab.tcp(other6, HOST_IP6, 8182), 'p6:80 fd61:2::1', 'a neighbour (hairpin)');
    t.equal(await lab.tcp(c, HOST_IP6, 8082), 'refused', 'an IPv4-only sandbox is not published on ::');
    // Explicit bindings of one family.
    t.equal(await lab.tcp(c, HOST_IP, 8500), `v6b:80 ${CLIENT_IP}`);
    t.equal(await lab.tcp(c, HOST_IP6, 8500), 'refused', '0.0.0.0 binds IPv4 only');
    t.equal(await lab.tcp(c, HOST_IP6, 8501), `v6b:80 ${CLIENT_IP6}`);
    t.equal(await lab.tcp(c, HOST_IP6, 8502), `v6b:80 ${CLIENT_IP6}`);
    t.equal(await lab.tcp(c, HOST_IP, 8502), 'refused');
    // [::]:8501 is IPv6 only: the same port on 0.0.0.0 is free for another sandbox, and an IPv4
    // connection to it is not swallowed by the socket holding [::]:8501.
    t.equal(await lab.tcp(c, HOST_IP, 8501, 1), 'refused', 'IPv4 to an IPv6-only binding');
    const v4b = await lab.runServer('v4b', ['--network', 'web', '-p', '0.0.0.0:8501:80'], ['tcp:80']);
    t.equal(v4b.code, 0, v4b.err);
    t.equal(await lab.tcp(c, HOST_IP, 8501), `v4b:80 ${CLIENT_IP}`);
    t.equal(await lab.tcp(c, HOST_IP6, 8501), `v6b:80 ${CLIENT_IP6}`);
    t.equal(await ip('p6', 6), 'fd61:2::2');
    // A sandbox's IPv6 address is usable as soon as `cnm run` returns: no duplicate address
    // detection (libnetwork sets IFA_F_NODAD too), which would hold it tentative for ~2 s.
    t.equal((await lab.cli('run', '-d', '--name', 'fresh6', '--network', 'dual', 'sleep', 'infinity')).code, 0);
    const fresh6 = await ns('fresh6');
    t.notMatch(await lab.lab.inNs(fresh6, ['ip', '-6', 'addr', 'show', 'scope', 'global']), /tentative/);
    t.equal(await lab.tcp(fresh6, HOST_IP6, 8182), 'p6:80 fd61:2::1', 'at once, from a new sandbox');
  });

  await t.test('the first sandbox of a new IPv6 network is reachable at once', async (t) => {
    // The bridge gets its carrier, and so its link-local address, with the first endpoint. The
    // kernel sends no neighbour solicitation for forwarded traffic while that address is
    // tentative, so DAD on the bridge made the first connections time out (most runs).
    for (let i = 0; i < 3; i++) {
      ok(await lab.cli('network', 'create', '--ipv6', '--subnet', `10.61.${10 + i}.0/24`, '--subnet', `fd61:${10 + i}::/64`, `new6-${i}`), `network new6-${i}`);
      ok(await lab.runServer(`first6-${i}`, ['--network', `new6-${i}`, '-p', `${8600 + i}:80`], ['tcp:80']), `first6-${i}`);
      t.equal(await lab.tcp(lab.client, HOST_IP6, 8600 + i), `first6-${i}:80 ${CLIENT_IP6}`, `network ${i}: the first connection`);
      const bridge = (await lab.cli('network', 'inspect', '-f', '{{.Id}}', `new6-${i}`)).out.trim().slice(0, 12);
      t.notMatch(await lab.lab.inHost(['ip', '-6', 'addr', 'show', 'dev', `br-${bridge}`]), /tentative/, `network ${i}: no tentative bridge address`);
    }
  });
});
