/**
 * Live alias management (cnm's own API and `cnm network alias add|rm`): an alias added to a
 * connected sandbox resolves in its peers on the next query and stops resolving once removed,
 * without reconnecting; bad requests change nothing; and under concurrent changes and queries
 * every answer is one the names had at some moment of the query (no stale or invented answer).
 */
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import t from 'tap';
import { openSocketInNetns } from '../../src/os/native';
import { Lab } from '../helpers/lab';
import { stateSnapshot } from './api-clients';

interface ApiError {
  message: string;
}

/**
 * The lab daemon's upstream (127.0.0.1:53 of the lab's host namespace): NXDOMAIN for every name,
 * at once, so a name that is not (or no longer) an alias gets a prompt negative answer.
 */
async function nxdomainUpstream(hostNs: string): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, peer) => {
    const q = dnsPacket.decode(msg);
    const reply = dnsPacket.encode({ type: 'response', id: q.id, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | 3, questions: q.questions });
    socket.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind({ fd: openSocketInNetns(hostNs, 'udp', '127.0.0.1', 53) }, resolve));
  return socket;
}

/**
 * A UDP socket inside a sandbox's namespace, asking its embedded DNS (127.0.0.11) for A records.
 * "Does not resolve" is an answer without A records (NXDOMAIN from upstream).
 */
class Asker {
  private nextId = 1;
  private readonly pending = new Map<number, (addresses: string[]) => void>();

  private constructor(private readonly socket: dgram.Socket) {
    socket.on('message', (msg) => {
      const reply = dnsPacket.decode(msg);
      const done = this.pending.get(reply.id!);
      if (!done) return;
      this.pending.delete(reply.id!);
      done((reply.answers ?? []).flatMap((a) => (a.type === 'A' ? [a.data] : [])).sort());
    });
  }

  static async open(nsPath: string): Promise<Asker> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind({ fd: openSocketInNetns(nsPath, 'udp', '0.0.0.0', 0) }, resolve));
    return new Asker(socket);
  }

  ask(name: string, timeoutMs = 2000): Promise<string[] | 'timeout'> {
    const id = this.nextId++ & 0xffff;
    const query = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve('timeout');
      }, timeoutMs);
      this.pending.set(id, (addresses) => {
        clearTimeout(timer);
        resolve(addresses);
      });
      this.socket.send(query, 53, '127.0.0.11');
    });
  }

  close(): void {
    this.socket.close();
  }
}

t.test('live aliases', async (t) => {
  const lab = await Lab.start();
  t.teardown(() => lab.close());
  const upstream = await nxdomainUpstream(lab.hostNs);
  t.teardown(() => upstream.close());
  t.equal((await lab.cli('network', 'create', '--subnet', '10.88.0.0/24', 'n1')).code, 0);
  t.equal((await lab.cli('network', 'create', '--subnet', '10.89.0.0/24', 'n2')).code, 0);
  for (const [name, net, ip] of [['web', 'n1', '10.88.0.10'], ['db', 'n1', '10.88.0.20'], ['peer', 'n1', '10.88.0.30'], ['stranger', 'n2', '10.89.0.40']] as const) {
    const r = await lab.cli('run', '-d', '--name', name, '--network', net, '--ip', ip, 'sleep', 'infinity');
    t.equal(r.code, 0, r.err);
  }
  t.equal((await lab.cli('run', '-d', '--name', 'plain', 'sleep', 'infinity')).code, 0);
  const peerNs = await lab.sandboxNs('peer');
  const strangerNs = await lab.sandboxNs('stranger');
  const dig = async (ns: string, name: string): Promise<string> => lab.inNs(ns, ['dig', '+short', '+tries=1', '+time=2', '@127.0.0.11', name]);
  const aliasesOf = async (sandbox: string): Promise<string[]> =>
    (JSON.parse((await lab.cli('inspect', '-f', '{{json .NetworkSettings.Networks.n1.Aliases}}', sandbox)).out) as string[]).filter((a) => !/^[0-9a-f]{12}$/.test(a));
  const linkBefore = await lab.cliProcess(['exec', 'web', 'ip', '-o', 'link']);

  await t.test('cnm network alias add|rm: resolves on the next query, then stops', async (t) => {
    t.equal(await dig(peerNs, 'api'), '', 'not there before');
    const add = await lab.cli('network', 'alias', 'add', 'n1', 'web', 'api', 'api2');
    t.same(add, { code: 0, out: '', err: '' });
    t.equal(await dig(peerNs, 'api'), '10.88.0.10\n', 'the next query after the command answers');
    t.equal(await dig(peerNs, 'api2'), '10.88.0.10\n');
    t.equal(await dig(strangerNs, 'api'), '', 'only peers on n1 see it');
    t.same(await aliasesOf('web'), ['api', 'api2']);
    const rm = await lab.cli('network', 'alias', 'rm', 'n1', 'web', 'api');
    t.same(rm, { code: 0, out: '', err: '' });
    t.equal(await dig(peerNs, 'api'), '', 'gone on the next query');
    t.equal(await dig(peerNs, 'api2'), '10.88.0.10\n', 'the other alias stays');
    t.equal(await dig(peerNs, 'web'), '10.88.0.10\n', 'the name stays');
    t.same(await aliasesOf('web'), ['api2']);
    t.equal((await lab.cliProcess(['exec', 'web', 'ip', '-o', 'link'])).out, linkBefore.out, 'no reconnect: same interfaces');
  });

  await t.test('API: POST /cnm/networks/{id}/aliases', async (t) => {
    const webId = (await lab.cli('inspect', '-f', '{{.Id}}', 'web')).out.trim();
    const r = await lab.api('POST', '/v1.41/cnm/networks/n1/aliases', { Container: 'web', Add: ['shop', 'cart'], Remove: ['api2'] });
    t.equal(r.status, 200, r.raw);
    t.same(r.body, { Aliases: ['shop', 'cart', webId.slice(0, 12)] }, 'the aliases as inspect shows them');
    t.equal(await dig(peerNs, 'shop'), '10.88.0.10\n');
    t.equal(await dig(peerNs, 'api2'), '');
    const same = await lab.api('POST', '/cnm/networks/n1/aliases', { Container: webId, Add: ['shop'] });
    t.equal(same.status, 200, 'adding an alias it already has: no change, no error');
    t.same(await aliasesOf('web'), ['shop', 'cart']);
    const shared = await lab.api('POST', '/cnm/networks/n1/aliases', { Container: 'db', Add: ['shop'] });
    t.equal(shared.status, 200);
    t.equal(await dig(peerNs, 'shop').then((s) => s.split('\n').filter(Boolean).sort().join(' ')), '10.88.0.10 10.88.0.20', 'an alias on two sandboxes answers both');
    t.equal((await lab.api('POST', '/cnm/networks/n1/aliases', { Container: 'db', Remove: ['shop'] })).status, 200);
  });

  await t.test('bad requests: 4xx, the reason, nothing changed', async (t) => {
    const snapshot = (): Promise<string> => stateSnapshot(lab);
    const before = await snapshot();
    const webId = (await lab.cli('inspect', '-f', '{{.Id}}', 'web')).out.trim();
    const cases: [string, unknown, number, string | RegExp][] = [
      ['/cnm/networks/nosuch/aliases', { Container: 'web', Add: ['x'] }, 404, 'network nosuch not found'],
      ['/cnm/networks/n1/aliases', { Container: 'nosuch', Add: ['x'] }, 404, 'No such container: nosuch'],
      ['/cnm/networks/n2/aliases', { Container: 'web', Add: ['x'] }, 403, `container ${webId} is not connected to network n2`],
      ['/cnm/networks/bridge/aliases', { Container: 'plain', Add: ['x'] }, 400, 'network-scoped aliases are only supported for user-defined networks'],
      ['/cnm/networks/n1/aliases', { Container: 'web', Add: ['bad name'] }, 400, /invalid alias "bad name"/],
      ['/cnm/networks/n1/aliases', { Container: 'web', Add: ['ok1', '-bad'] }, 400, /invalid alias "-bad"/],
      ['/cnm/networks/n1/aliases', { Container: 'web', Add: ['ok2'], Remove: ['nosuchalias'] }, 404, 'alias nosuchalias not found on web in network n1'],
      ['/cnm/networks/n1/aliases', { Container: 'web', Add: ['x'], Remove: ['x'] }, 400, 'alias x is both added and removed'],
      ['/cnm/networks/n1/aliases', { Container: 'web' }, 400, /nothing to change/],
      ['/cnm/networks/n1/aliases', { Container: 'web', Add: [], Remove: [] }, 400, /nothing to change/],
      ['/cnm/networks/n1/aliases', { Add: ['x'] }, 400, /body\.Container is required/],
      ['/cnm/networks/n1/aliases', { Container: 'web', Add: 'x' }, 400, 'body.Add must be an array of strings'],
      ['/cnm/networks/n1/aliases', { Container: 'web', Remove: [1] }, 400, 'body.Remove must be an array of strings'],
      ['/cnm/networks/n1/aliases', { Container: 7, Add: ['x'] }, 400, 'body.Container must be a string, not a number'],
      ['/cnm/networks/n1/aliases', '["x"]', 400, 'request body must be a JSON object'],
      ['/cnm/networks/n1/aliases', '{"Container":', 400, /invalid JSON body/],
    ];
    for (const [path, body, status, message] of cases) {
      const r = await lab.api('POST', path, body);
      const what = `${path} ${typeof body === 'string' ? body : JSON.stringify(body)}`;
      t.equal(r.status, status, what);
      if (typeof message === 'string') t.equal((r.body as ApiError).message, message, what);
      else t.match((r.body as ApiError).message, message, what);
    }
    const wrongMethod = await lab.api('GET', '/cnm/networks/n1/aliases');
    t.same([wrongMethod.status, wrongMethod.body], [404, { message: 'page not found' }]);
    t.equal(await snapshot(), before, 'no alias was added or removed');
    t.equal(await dig(peerNs, 'ok1'), '', 'the valid half of a refused request was not applied');
    t.equal(await dig(peerNs, 'ok2'), '');

    const cliCases: [string[], number, string | RegExp][] = [
      [['network', 'alias', 'rm', 'n1', 'web', 'nosuchalias'], 1, 'Error response from daemon: alias nosuchalias not found on web in network n1\n'],
      [['network', 'alias', 'add', 'nosuch', 'web', 'x'], 1, 'Error response from daemon: network nosuch not found\n'],
      [['network', 'alias', 'add', 'n1', 'web'], 125, /requires at least 4 arguments/],
      [['network', 'alias', 'move', 'n1', 'web', 'x'], 125, /unknown action "move": use add or rm/],
    ];
    for (const [argv, code, err] of cliCases) {
      const r = await lab.cli(...argv);
      t.equal(r.code, code, argv.join(' '));
      if (typeof err === 'string') t.equal(r.err, err, argv.join(' '));
      else t.match(r.err, err, argv.join(' '));
    }
    t.equal(await snapshot(), before);
  });

  await t.test('concurrent changes: none lost', async (t) => {
    const names = Array.from({ length: 20 }, (_, i) => `c${i}`);
    const adds = await Promise.all(names.map((n, i) => lab.api('POST', '/cnm/networks/n1/aliases', { Container: i % 2 ? 'web' : 'db', Add: [n] })));
    t.same(adds.map((r) => r.status), names.map(() => 200));
    const asker = await Asker.open(peerNs);
    t.teardown(() => asker.close());
    const answers = await Promise.all(names.map((n) => asker.ask(n)));
    t.same(answers, names.map((_, i) => [i % 2 ? '10.88.0.10' : '10.88.0.20']), 'every concurrent add is there');
    const removes = await Promise.all(names.map((n, i) => lab.api('POST', '/cnm/networks/n1/aliases', { Container: i % 2 ? 'web' : 'db', Remove: [n] })));
    t.same(removes.map((r) => r.status), names.map(() => 200));
    t.same(await Promise.all(names.map((n) => asker.ask(n))), names.map(() => []), 'every concurrent remove is there');
  });

  await t.test('queries during changes: every answer was true at some moment of the query', async (t) => {
    const ip = { web: '10.88.0.10', db: '10.88.0.20' } as const;
    // The alias "flip" moves between web and db: add on one, then remove from the other.
    type Holder = keyof typeof ip;
    const states: string[][] = [[]];
    const changes: { start: number; end: number }[] = [];
    const holders = new Set<Holder>();
    const change = async (body: { Container: Holder; Add?: string[]; Remove?: string[] }): Promise<void> => {
      const start = performance.now();
      const r = await lab.api('POST', '/cnm/networks/n1/aliases', body);
      const end = performance.now();
      if (r.status !== 200) throw new Error(`${JSON.stringify(body)} after ${changes.length} changes: ${r.raw}`);
      if (body.Add) holders.add(body.Container);
      else holders.delete(body.Container);
      changes.push({ start, end });
      states.push([...holders].map((h) => ip[h]).sort());
    };
    const asker = await Asker.open(peerNs);
    t.teardown(() => asker.close());
    const queries: { start: number; end: number; answer: string[] | 'timeout' }[] = [];
    let changing = true;
    // Four queries in flight at any time, from the peer's namespace.
    const querying = Promise.all(
      [0, 1, 2, 3].map(async () => {
        while (changing) {
          const start = performance.now();
          const answer = await asker.ask('flip');
          queries.push({ start, end: performance.now(), answer });
        }
      }),
    );
    const rounds = 150;
    let holder: Holder = 'web';
    try {
      for (let i = 0; i < rounds; i++) {
        const next: Holder = holder === 'web' && i > 0 ? 'db' : 'web';
        await change({ Container: next, Add: ['flip'] });
        if (i > 0) await change({ Container: holder, Remove: ['flip'] });
        holder = next;
      }
      await change({ Container: holder, Remove: ['flip'] });
    } finally {
      changing = false;
      await querying;
    }

    // State k holds from the end of change k (k=0: from the start) until the start of change k+1
    // at the latest; a query may see any state that held at some moment between its start and end.
    const wrong = queries.filter((q) => {
      const first = changes.filter((c) => c.end < q.start).length;
      const last = changes.filter((c) => c.start < q.end).length;
      const seen = q.answer;
      return seen === 'timeout' || !states.slice(first, last + 1).some((s) => s.join() === seen.join());
    });
    t.ok(queries.length > 300, `${queries.length} queries during ${changes.length} changes`);
    t.same(wrong, [], 'no answer was wrong or stale, none timed out');
    t.ok(queries.some((q) => q.answer.length === 2), 'the moments with both holders were seen');
    t.equal(await dig(peerNs, 'flip'), '', 'gone at the end');
  });
});
