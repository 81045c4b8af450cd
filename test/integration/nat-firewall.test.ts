/**
 * The Firewall against a real kernel, in a private "host" namespace with real sandboxes and an
 * external client (./nat-lab.ts): published ports from everywhere a user expects them to work,
 * the isolation matrix, internal networks, outbound masquerade, self-healing, and a teardown that
 * leaves the namespace's ruleset exactly as it found it.
 */
import t from 'tap';
import { Firewall, type NatPortMapping, type NatState } from '../../src/nat';
import { CLIENT_IP, CLIENT_IP6, HOST_IP, HOST_IP6, makeNatLab, NETWORKS } from './nat-lab';

const network = (id: string) => NETWORKS.find((n) => n.id === id)!;
const publish = (id: string, proto: 'tcp' | 'udp', hostIp: string, hostPort: number, containerIp: string, containerPort: number): NatPortMapping => ({
  networkId: id,
  bridge: network(id).bridge,
  proto,
  hostIp,
  hostPort,
  containerIp,
  containerPort,
});

// A1 publishes 80/tcp and 53/udp on all addresses (both families), plus 80 on 127.0.0.1 only;
// B publishes 80 on 9000; I (internal) asks for 9100, which must not work.
const STATE: NatState = {
  networks: NETWORKS,
  ports: [
    publish('neta', 'tcp', '0.0.0.0', 8080, '10.77.1.2', 80),
    publish('neta', 'tcp', '::', 8080, 'fd77:1::2', 80),
    publish('neta', 'udp', '0.0.0.0', 5353, '10.77.1.2', 53),
    publish('neta', 'tcp', '127.0.0.1', 8181, '10.77.1.2', 80),
    publish('netb', 'tcp', '0.0.0.0', 9000, '10.77.2.2', 80),
    publish('neti', 'tcp', '0.0.0.0', 9100, '10.77.3.2', 80),
  ],
};

t.test('NAT in a private host namespace', async (t) => {
  const lab = await makeNatLab(t);
  // Someone else's table in the same namespace: cnm must never touch it.
  await lab.sh('H', 'nft', ['add table ip other; add chain ip other c { type filter hook input priority 10; }; add rule ip other c counter']);
  const before = await lab.ruleset();

  const restores: { durationMs: number; error?: Error }[] = [];
  const firewall = Firewall.open({ netnsPath: lab.ns('H'), onRestore: (r) => restores.push(r) });
  t.teardown(() => firewall.close());
  await firewall.apply(STATE);
  const tableHandle = async (): Promise<string> => /# handle (\d+)/.exec(await lab.sh('H', 'nft', ['-a', 'list', 'table', 'inet', 'cnm']))?.[1] ?? 'none';
  const applied = await tableHandle();
  await firewall.apply(STATE); // idempotent
  t.equal(await tableHandle(), applied, 'an unchanged state is not applied again (the table keeps its handle)');
  t.match(await lab.ruleset(), /table ip other/, 'the other table is still there');

  t.test('published ports from the external client, the host, other sandboxes and the sandbox itself', async (t) => {
    const checks: [string, Promise<string>, string][] = [
      ['X → host:8080/tcp', lab.tcp('X', HOST_IP, 8080), `A1 ${CLIENT_IP}`],
      ['X → host:5353/udp', lab.udp('X', HOST_IP, 5353), `A1 ${CLIENT_IP}`],
      ['X → [host]:8080/tcp over IPv6', lab.tcp('X', HOST_IP6, 8080), `A1 ${CLIENT_IP6}`],
      ['host → its own address:8080/tcp', lab.tcp('H', HOST_IP, 8080), `A1 ${HOST_IP}`],
      ['host → its own address:5353/udp', lab.udp('H', HOST_IP, 5353), `A1 ${HOST_IP}`],
      ['host → 127.0.0.1:8080/tcp', lab.tcp('H', '127.0.0.1', 8080), 'A1 10.77.1.1'],
      ['host → 127.0.0.1:5353/udp', lab.udp('H', '127.0.0.1', 5353), 'A1 10.77.1.1'],
      ['host → 127.0.0.1:8181 (bound to 127.0.0.1)', lab.tcp('H', '127.0.0.1', 8181), 'A1 10.77.1.1'],
      ['host → the gateway address:8080', lab.tcp('H', '10.77.1.1', 8080), 'A1 10.77.1.1'],
      ['A2 → gateway:8080 (hairpin, same network)', lab.tcp('A2', '10.77.1.1', 8080), 'A1 10.77.1.1'],
      ['A2 → host:5353/udp (hairpin)', lab.udp('A2', HOST_IP, 5353), 'A1 10.77.1.1'],
      ['A1 → gateway:8080 (itself)', lab.tcp('A1', '10.77.1.1', 8080), 'A1 10.77.1.1'],
      ['A1 → host:5353/udp (itself)', lab.udp('A1', HOST_IP, 5353), 'A1 10.77.1.1'],
      ['B → host:8080 (another network)', lab.tcp('B', HOST_IP, 8080), 'A1 10.77.2.2'],
      ['D → host:9000 (default bridge to a user network\'s port)', lab.tcp('D', HOST_IP, 9000), 'B 10.77.0.2'],
    ];
    const results = await Promise.all(checks.map((c) => c[1]));
    checks.forEach(([what, , expected], i) => t.equal(results[i], expected, what));
  });

  t.test('ports that must not answer', async (t) => {
    const checks: [string, Promise<string>][] = [
      ['X → host:8181 (bound to 127.0.0.1 only)', lab.tcp('X', HOST_IP, 8181, 1)],
      ['X → host:9100 (internal network)', lab.tcp('X', HOST_IP, 9100, 1)],
      ['host → 127.0.0.1:9100 (internal network)', lab.tcp('H', '127.0.0.1', 9100, 1)],
      ['I → gateway:8080 (internal sandboxes cannot leave)', lab.tcp('I', '10.77.3.1', 8080, 1)],
    ];
    const results = await Promise.all(checks.map((c) => c[1]));
    checks.forEach(([what], i) => t.match(results[i], /^(timeout|refused)$/, `${what}: ${results[i]}`));
  });

  t.test('isolation matrix (direct container addresses)', async (t) => {
    const allowed: [string, string, string][] = [
      ['A1', '10.77.1.3', 'A2 10.77.1.2'],
      ['A2', '10.77.1.2', 'A1 10.77.1.3'],
      ['AB', '10.77.1.2', 'A1 10.77.1.4'],
      ['AB', '10.77.2.2', 'B 10.77.2.4'],
      ['B', '10.77.2.4', 'AB 10.77.2.2'],
      ['A1', '10.77.1.4', 'AB 10.77.1.2'],
    ];
    const blocked: [string, string][] = [
      ['A1', '10.77.2.2'], // user network → other user network
      ['B', '10.77.1.2'],
      ['A1', '10.77.0.2'], // user network → default bridge
      ['D', '10.77.1.2'], // default bridge → user network
      ['C1', '10.77.4.3'], // icc off
      ['C2', '10.77.4.2'],
      ['I', '10.77.1.2'], // internal → anywhere
      ['I', CLIENT_IP],
      ['A1', '10.77.3.2'], // anywhere → internal
      ['X', '10.77.1.2'], // outside → container address without a published port
    ];
    const ok = await Promise.all(allowed.map(([from, ip]) => lab.tcp(from, ip, 80)));
    allowed.forEach(([from, ip, expected], i) => t.equal(ok[i], expected, `${from} → ${ip} allowed`));
    const no = await Promise.all(blocked.map(([from, ip]) => lab.tcp(from, ip, 80, 1)));
    blocked.forEach(([from, ip], i) => t.equal(no[i], 'timeout', `${from} → ${ip} dropped`));
    t.equal(await lab.tcp('I', '10.77.3.1', 80, 1), 'refused', 'internal sandboxes still reach their gateway (the host, like Docker)');
  });

  t.test('outbound: masquerade per network, none where disabled', async (t) => {
    const [a1, a16, b, c1, d] = await Promise.all([
      lab.tcp('A1', CLIENT_IP, 80),
      lab.tcp('A1', CLIENT_IP6, 80),
      lab.tcp('B', CLIENT_IP, 80),
      lab.udp('C1', CLIENT_IP, 53),
      lab.tcp('D', CLIENT_IP, 80),
    ]);
    t.equal(a1, `X ${HOST_IP}`, 'A1 leaves as the host');
    t.equal(a16, `X ${HOST_IP6}`, 'A1 leaves as the host over IPv6');
    t.equal(c1, `X ${HOST_IP}`, 'UDP too, and icc=false does not block the way out');
    t.equal(d, `X ${HOST_IP}`, 'the default bridge too');
    t.equal(b, 'X 10.77.2.2', 'B (masquerade off) keeps its own address (X routes back through the host)');
  });

  t.test('self-healing: the table comes back after someone removes it', async (t) => {
    for (const damage of [
      ['delete', 'table', 'inet', 'cnm'],
      ['flush', 'ruleset'],
      ['flush', 'chain', 'inet', 'cnm', 'published'],
      ['delete', 'element', 'inet', 'cnm', 'ports4-any', '{ tcp . 8080 }'],
    ]) {
      const count = restores.length;
      const started = performance.now();
      await lab.sh('H', 'nft', damage);
      let answer = '';
      while (performance.now() - started < 5000) {
        answer = await lab.tcp('X', HOST_IP, 8080, 1);
        if (answer === `A1 ${CLIENT_IP}`) break;
      }
      t.equal(answer, `A1 ${CLIENT_IP}`, `${damage.join(' ')}: mapping works again`);
      t.ok(performance.now() - started < 5000, `within ${Math.round(performance.now() - started)} ms`);
      t.equal(restores.length, count + 1, 'one restore');
      t.notOk(restores.at(-1)?.error, 'restored without error');
    }
    // A foreign table lost to `flush ruleset` is not ours to restore.
    await lab.sh('H', 'nft', ['add table ip other; add chain ip other c { type filter hook input priority 10; }; add rule ip other c counter']);
  });

  t.test('an invalid state changes nothing', async (t) => {
    const ruleset = await lab.ruleset();
    await t.rejects(firewall.apply({ networks: NETWORKS, ports: [publish('neta', 'tcp', '0.0.0.0', 8080, 'web.example', 80)] }), /invalid IP address/);
    t.equal(await lab.ruleset(), ruleset);
    t.equal(await lab.tcp('X', HOST_IP, 8080), `A1 ${CLIENT_IP}`);
  });

  t.test('teardown leaves the namespace as it was', async (t) => {
    await firewall.teardown();
    t.equal(await lab.ruleset(), before, 'nft list ruleset equals the one before the first apply');
    t.equal(await lab.tcp('X', HOST_IP, 8080, 1), 'refused', 'no mapping left: the host itself answers, with a reset');
    const count = restores.length;
    await lab.sh('H', 'nft', ['add table inet cnm; delete table inet cnm']);
    await new Promise((r) => setTimeout(r, 300));
    t.equal(restores.length, count, 'nothing is restored after teardown');
    await t.rejects(firewall.apply(STATE), /closed/);
  });
});
