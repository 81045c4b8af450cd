/**
 * The embedded DNS as a container sees it, through the real cnmd: the resolv.conf it writes, the
 * names each sandbox resolves (name, short id, hostname, alias, name.network) and only on its own
 * networks, shared aliases, NODATA against NXDOMAIN, PTR, case, TTL (--dns-ttl), names leaving
 * with disconnect and rm, and the default bridge without any of it. Clients: dig, glibc through
 * `cnm exec` and dns2. Unknown names go to a stub upstream in the lab's host namespace.
 */
import t from 'tap';
import { DnsLab, reverse4 } from './dns-daemon-lab';
import { nodeIn } from './resolver-lab';

const TTL = 42;

t.test('names through the daemon', async (t) => {
  const dns = await DnsLab.start(t, { daemonArgs: ['--dns-ttl', String(TTL)], resolvConf: 'search corp.test\nnameserver 127.0.0.1\noptions timeout:1\n' });
  const upstream = await dns.stub(t, { records: { 'outside.test': [{ type: 'A', data: '192.0.2.7' }] } });
  const asked = (name: string): number => upstream.queries.filter((q) => q.name.toLowerCase() === name.toLowerCase()).length;

  await dns.cli('network', 'create', '--subnet', '10.41.0.0/24', 'n1');
  await dns.cli('network', 'create', '--subnet', '10.42.0.0/24', 'n2');
  const webId = await dns.run('web', '--network', 'n1', '--hostname', 'webhost', '--alias', 'api');
  await dns.run('peer', '--network', 'n1');
  await dns.run('stranger', '--network', 'n2');
  await dns.run('both', '--network', 'n1');
  await dns.cli('network', 'connect', 'n2', 'both');
  await dns.run('opts', '--network', 'n1', '--dns-search', 'example.test', '--dns-option', 'ndots:2');
  await dns.run('plain');
  await dns.run('alone', '--network', 'none');
  const webIp = await dns.ip('web', 'n1');

  await t.test('resolv.conf: 127.0.0.11 on user networks, the upstreams on the default bridge and none', async (t) => {
    const resolv = async (sandbox: string): Promise<string> => (await dns.exec(sandbox, 'cat', '/etc/resolv.conf')).out;
    t.equal(await resolv('web'), 'search corp.test\nnameserver 127.0.0.11\noptions ndots:0\n', "the host's search domains, ndots:0");
    t.equal(await resolv('opts'), 'search example.test\nnameserver 127.0.0.11\noptions ndots:2\n', '--dns-search and --dns-option respected');
    // The host lists only a loopback server, which a sandbox cannot reach: Docker's fallback.
    t.equal(await resolv('plain'), 'search corp.test\nnameserver 8.8.8.8\nnameserver 8.8.4.4\noptions timeout:1\n', 'default bridge: upstreams, no 127.0.0.11');
    t.equal(await resolv('alone'), await resolv('plain'), 'none: the same');
  });

  await t.test('every name of a sandbox, on its network', async (t) => {
    for (const name of ['web', webId.slice(0, 12), 'webhost', 'api', 'web.n1', 'api.n1', 'webhost.n1.']) {
      t.same(await dns.addresses('peer', name), [webIp], name);
    }
    t.equal(asked('web') + asked('api') + asked('webhost'), 0, 'none of them forwarded');
    t.same(await dns.addresses('peer', webId.slice(0, 8)), [], 'an 8-character id prefix is not a name');
  });

  await t.test('isolation: only names of networks the asker is on', async (t) => {
    for (const name of ['web', 'api', 'web.n1', webId.slice(0, 12)]) {
      const r = await dns.dig('stranger', name);
      t.equal(r.status, 'NXDOMAIN', `${name} from n2: forwarded, the upstream does not know it`);
    }
    t.ok(asked('web') >= 1 && asked('web.n1') >= 1, 'the stranger’s queries reached the upstream');
    t.same(await dns.addresses('stranger', 'both'), [await dns.ip('both', 'n2')], 'a two-network sandbox: the address on the shared network');
    t.same(await dns.addresses('peer', 'both'), [await dns.ip('both', 'n1')]);
    t.same(await dns.addresses('both', 'stranger'), [await dns.ip('stranger', 'n2')], 'a two-network asker sees both networks');
    t.same(await dns.addresses('both', 'web'), [webIp]);
  });

  await t.test('a shared alias answers every holder, in a changing order', async (t) => {
    for (const name of ['s1', 's2', 's3', 's4']) await dns.run(name, '--network', 'n1', '--alias', 'pool');
    const holders = (await Promise.all(['s1', 's2', 's3', 's4'].map((s) => dns.ip(s, 'n1')))).sort();
    const orders = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const r = await dns.dig('peer', 'pool');
      const order = r.answers.map((a) => a.data);
      t.same([...order].sort(), holders, 'all four, each time');
      orders.add(order.join(' '));
    }
    t.ok(orders.size > 1, `${orders.size} different orders in 12 answers`);
  });

  await t.test('names cnm owns are never forwarded: NODATA; unknown names: the upstream’s NXDOMAIN', async (t) => {
    for (const type of ['AAAA', 'MX', 'TXT', 'SRV']) {
      const r = await dns.dig('peer', 'web', type);
      t.equal(r.status, 'NOERROR', `${type} of a local name`);
      t.equal(r.answers.length, 0);
    }
    t.equal(asked('web'), 1, 'the upstream heard only the stranger’s query');
    const nx = await dns.dig('peer', 'nosuch');
    t.equal(nx.status, 'NXDOMAIN');
    t.equal(asked('nosuch'), 1, 'an unknown name is forwarded');
    t.same(await dns.addresses('peer', 'outside.test'), ['192.0.2.7'], 'and the upstream’s names resolve');
  });

  await t.test('ndots > 0 (--dns-option): unknown single labels answered locally, dotted names forwarded', async (t) => {
    const single = await dns.dig('opts', 'lonely');
    t.equal(single.status, 'NOERROR');
    t.equal(single.answers.length, 0);
    t.equal(asked('lonely'), 0, 'not forwarded');
    t.equal((await dns.dig('opts', 'nosuch.dotted')).status, 'NXDOMAIN');
    t.equal(asked('nosuch.dotted'), 1);
    t.same(await dns.addresses('opts', 'web'), [webIp], 'local names as usual');
  });

  await t.test('PTR answers name.network.', async (t) => {
    const r = await dns.dig('peer', '-x', webIp);
    t.same(r.answers.map((a) => [a.type, a.data]), [['PTR', 'web.n1.']]);
    t.equal((await dns.dig('stranger', '-x', webIp)).status, 'NXDOMAIN', 'not from another network: forwarded');
    t.equal(asked(reverse4(webIp)), 1);
  });

  await t.test('case-insensitive, the asker’s case echoed; --dns-ttl; flags', async (t) => {
    const r = await dns.dig('peer', 'WeB.N1');
    t.same(r.answers, [{ name: 'WeB.N1.', ttl: TTL, type: 'A', data: webIp }]);
    t.same(r.flags, ['qr', 'rd', 'ra'], 'qr rd ra, no aa');
    t.same((await dns.dig('peer', '+norecurse', 'web')).flags, ['qr', 'ra'], 'rd mirrored');
    t.equal((await dns.dig('peer', '-x', webIp)).answers[0]?.ttl, TTL, 'PTR has the TTL too');
  });

  await t.test('glibc inside the sandbox (cnm exec getent)', async (t) => {
    const byName = await dns.exec('peer', 'getent', 'hosts', 'api');
    t.equal(byName.code, 0, byName.err);
    t.match(byName.out, new RegExp(`^${webIp.replace(/\./g, '\\.')}\\s+api\\n$`));
    t.match((await dns.exec('peer', 'getent', 'hosts', 'web.n1')).out, new RegExp(`^${webIp.replace(/\./g, '\\.')}\\s+web\\.n1\\n$`));
    t.match((await dns.exec('peer', 'getent', 'hosts', webIp)).out, /\sweb\.n1\n$/, 'reverse through gethostbyaddr');
    const pool = await dns.exec('peer', 'getent', 'ahostsv4', 'pool');
    t.equal(new Set(pool.out.split('\n').filter(Boolean).map((l) => l.split(/\s+/)[0])).size, 4, 'getaddrinfo gets all four holders');
    const missing = await dns.exec('stranger', 'getent', 'hosts', 'web');
    t.equal(missing.code, 2, 'not on n2: not found');
    t.equal((await dns.exec('peer', 'getent', 'hosts', 'outside.test')).out.split(/\s+/)[0], '192.0.2.7', 'forwarded names through glibc');
  });

  await t.test('dns2, an independent client, over UDP and TCP', async (t) => {
    const got = (await nodeIn(
      await dns.ns('peer'),
      `const { UDPClient, TCPClient } = require('dns2');
       (async () => {
         const udp = await UDPClient({ dns: '127.0.0.11', timeout: 3000 })('WEBHOST', 'A');
         const tcp = await TCPClient({ dns: '127.0.0.11' })('api.n1', 'A');
         const ptr = await UDPClient({ dns: '127.0.0.11', timeout: 3000 })(${JSON.stringify(reverse4(webIp))}, 'PTR');
         const pool = await TCPClient({ dns: '127.0.0.11' })('pool', 'A');
         console.log(JSON.stringify({ udp: udp.answers.map((a) => a.address), name: udp.questions[0].name,
           tcp: tcp.answers.map((a) => a.address), ptr: ptr.answers.map((a) => a.domain), pool: pool.answers.length }));
       })();`,
    )) as Record<string, unknown>;
    t.same(got, { udp: [webIp], name: 'WEBHOST', tcp: [webIp], ptr: ['web.n1'], pool: 4 });
  });

  await t.test('disconnect and rm: gone in the very next query', async (t) => {
    const bothIp = await dns.ip('both', 'n1');
    t.same(await dns.addresses('peer', 'both'), [bothIp]);
    await dns.cli('network', 'disconnect', 'n1', 'both');
    t.equal((await dns.dig('peer', 'both')).status, 'NXDOMAIN', 'A gone at once (forwarded now)');
    t.equal((await dns.dig('peer', '-x', bothIp)).status, 'NXDOMAIN', 'PTR gone');
    t.same(await dns.addresses('stranger', 'both'), [await dns.ip('both', 'n2')], 'still known on n2');

    const s1Ip = await dns.ip('s1', 'n1');
    const listening = (await dns.metrics()).value('cnm_dns_sandboxes');
    await dns.cli('rm', '-f', 's1');
    t.equal((await dns.dig('peer', 's1')).status, 'NXDOMAIN', 'removed sandbox: name gone at once');
    t.equal((await dns.metrics()).value('cnm_dns_sandboxes'), listening - 1, 'its listeners closed');
    const pool = (await dns.dig('peer', 'pool')).answers.map((a) => a.data);
    t.equal(pool.length, 3, 'and gone from the shared alias');
    t.notOk(pool.includes(s1Ip));

    await dns.cli('network', 'connect', '--alias', 'back', 'n1', 'both');
    t.same(await dns.addresses('peer', 'back'), [await dns.ip('both', 'n1')], 'reconnected with an alias: resolves at once');
  });

  await t.test('the default bridge has no embedded DNS: connection refused on 127.0.0.11', async (t) => {
    const udp = await dns.dig('plain', 'web');
    t.equal(udp.status, 'TIMEOUT');
    t.match(udp.raw, /connection refused/);
    t.match((await dns.dig('plain', '+tcp', 'web')).raw, /connection refused/, 'TCP too');
    t.match((await dns.dig('alone', 'web')).raw, /connection refused/, 'none too');
  });

  await t.test('cnmd restarted: the sandboxes it finds get their listeners and names back', async (t) => {
    await dns.lab.stopDaemon('SIGTERM');
    t.match((await dns.dig('peer', 'web')).raw, /connection refused/, 'no daemon, no listener');
    await dns.lab.startDaemon();
    t.same(await dns.addresses('peer', 'web'), [webIp]);
    t.same(await dns.addresses('stranger', 'both'), [await dns.ip('both', 'n2')]);
    t.equal((await dns.dig('peer', 'nosuch2')).status, 'NXDOMAIN', 'forwarding too');
  });

  t.ok(dns.lab.daemonPid !== undefined && process.kill(dns.lab.daemonPid, 0), 'cnmd still running');
});
