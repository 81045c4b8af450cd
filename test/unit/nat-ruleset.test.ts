import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { renderRuleset, renderTeardown, type NatState } from '../../src/nat';
import { CnmError } from '../../src/errors';
import { GOLDEN_STATES } from './nat-fixtures';

// dist/test/unit → test/unit/nat-golden (the sources, not the build output)
const GOLDEN_DIR = path.join(__dirname, '..', '..', '..', 'test', 'unit', 'nat-golden');
const UPDATE = process.env.CNM_UPDATE_GOLDEN === '1';

t.test('golden rulesets', async (t) => {
  for (const [name, state] of Object.entries(GOLDEN_STATES)) {
    const file = path.join(GOLDEN_DIR, `${name}.nft`);
    const rendered = renderRuleset(state);
    if (UPDATE) fs.writeFileSync(file, rendered);
    t.equal(rendered, fs.readFileSync(file, 'utf8'), `${name} matches ${path.basename(file)}`);
  }
});

t.test('the ruleset starts by replacing the table and touches nothing else', async (t) => {
  const text = renderRuleset(GOLDEN_STATES['one-network']!);
  const commands = text.split('\n').filter((l) => l && !l.startsWith('#') && !l.startsWith('\t') && l !== '}');
  t.same(commands, ['add table inet cnm', 'delete table inet cnm', 'table inet cnm {']);
  t.notMatch(text, /flush ruleset/);
  t.equal(renderTeardown(), 'add table inet cnm\ndelete table inet cnm\n');
  t.match(renderRuleset({ networks: [], ports: [] }, 'cnmt42'), /^table inet cnmt42 \{$/m);
});

t.test('rendering is deterministic: input order does not matter', async (t) => {
  const state = GOLDEN_STATES['many-ports']!;
  const shuffled: NatState = { networks: [...state.networks].reverse(), ports: [...state.ports].reverse() };
  t.equal(renderRuleset(shuffled), renderRuleset(state));
});

t.test('per-packet work does not grow with ports or networks: only set elements do', async (t) => {
  const rulesOf = (text: string): string[] =>
    text.split('\n').filter((l) => /^\t\t[a-z]/.test(l) && !/^\t\t(type|flags|elements)/.test(l));
  const state = (networks: number, ports: number): NatState => {
    const nets = Array.from({ length: networks }, (_, i) => ({
      id: `n${i}`,
      bridge: `br${i}`,
      subnets: [`10.${i >> 8}.${i & 255}.0/24`],
      internal: false,
      icc: true,
      masquerade: true,
    }));
    return {
      networks: nets,
      ports: Array.from({ length: ports }, (_, i) => ({
        networkId: 'n0',
        bridge: 'br0',
        proto: 'tcp' as const,
        hostIp: '0.0.0.0',
        hostPort: 10000 + i,
        containerIp: '10.0.0.2',
        containerPort: 80,
      })),
    };
  };
  const small = renderRuleset(state(1, 1));
  const large = renderRuleset(state(200, 1000));
  t.same(rulesOf(large), rulesOf(small), 'same rules for 1 port/1 network and 1000 ports/200 networks');
  t.ok(rulesOf(small).length < 25);
  t.match(large, /tcp \. 10999 : 10\.0\.0\.2 \. 80,/);
});

t.test('every value is validated before it can reach nft', async (t) => {
  const good = GOLDEN_STATES['one-network']!;
  const network = good.networks[0]!;
  const mapping = good.ports[0]!;
  const bad: [string, NatState, RegExp][] = [
    ['hostname as host address', { networks: [network], ports: [{ ...mapping, hostIp: 'example.com' }] }, /invalid IP address: "example.com"/],
    ['hostname as container address', { networks: [network], ports: [{ ...mapping, containerIp: 'db' }] }, /invalid IP address: "db"/],
    ['zone index', { networks: [network], ports: [{ ...mapping, hostIp: 'fe80::1%eth0' }] }, /invalid IP address/],
    ['mixed families', { networks: [network], ports: [{ ...mapping, containerIp: 'fd00::2' }] }, /different families/],
    ['wildcard container address', { networks: [network], ports: [{ ...mapping, containerIp: '0.0.0.0' }] }, /invalid container address/],
    ['port out of range', { networks: [network], ports: [{ ...mapping, hostPort: 70000 }] }, /invalid host port: 70000/],
    ['port zero', { networks: [network], ports: [{ ...mapping, containerPort: 0 }] }, /invalid container port: 0/],
    ['protocol', { networks: [network], ports: [{ ...mapping, proto: 'sctp' as 'tcp' }] }, /unsupported protocol: sctp/],
    ['unknown network', { networks: [network], ports: [{ ...mapping, networkId: 'nope' }] }, /unknown network nope/],
    ['bridge mismatch', { networks: [network], ports: [{ ...mapping, bridge: 'br-other' }] }, /uses cnm0/],
    ['wildcard bridge', { networks: [{ ...network, bridge: 'br*' }], ports: [] }, /invalid interface name: "br\*"/],
    ['quote in bridge', { networks: [{ ...network, bridge: 'br"0' }], ports: [] }, /invalid interface name/],
    ['long bridge', { networks: [{ ...network, bridge: 'b'.repeat(16) }], ports: [] }, /invalid interface name/],
    ['subnet name', { networks: [{ ...network, subnets: ['intranet/24'] }], ports: [] }, /invalid IP address: "intranet"/],
    ['subnet prefix', { networks: [{ ...network, subnets: ['10.0.0.0/33'] }], ports: [] }, /invalid subnet/],
    ['subnet without prefix', { networks: [{ ...network, subnets: ['10.0.0.0'] }], ports: [] }, /invalid subnet/],
    ['shared bridge', { networks: [network, { ...network, id: 'other', subnets: ['10.9.0.0/16'] }], ports: [] }, /share bridge cnm0/],
    ['overlap', { networks: [network, { ...network, id: 'o', bridge: 'br-o', subnets: ['172.17.5.0/24'] }], ports: [] }, /overlap/],
    ['published twice', { networks: [network], ports: [mapping, { ...mapping, containerIp: '172.17.0.3' }] }, /0\.0\.0\.0:8080\/tcp is published twice/],
  ];
  for (const [what, state, message] of bad) {
    t.throws(() => renderRuleset(state), message, what);
    try {
      renderRuleset(state);
    } catch (err) {
      t.ok(err instanceof CnmError && (err.kind === 'invalid' || err.kind === 'conflict'), `${what}: a CnmError`);
    }
  }
  t.throws(() => renderRuleset(good, 'cnm; flush ruleset'), /invalid nftables table name/);
});

t.test('addresses come out canonical and subnets with host bits cleared', async (t) => {
  const text = renderRuleset(GOLDEN_STATES.ipv6!);
  t.match(text, /fd00::1 \. udp \. 5353 : fd00:89:5::2 \. 53,/);
  const hostBits = renderRuleset({ networks: [{ ...GOLDEN_STATES['one-network']!.networks[0]!, subnets: ['172.17.3.4/16'] }], ports: [] });
  t.match(hostBits, /\t\t\t172\.17\.0\.0\/16,/);
});
