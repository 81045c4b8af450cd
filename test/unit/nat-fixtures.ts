/** Representative NatStates for the golden ruleset tests (test/unit/nat-golden/<name>.nft). */
import type { NatNetwork, NatPortMapping, NatState } from '../../src/nat';

const net = (id: string, bridge: string, subnets: string[], extra: Partial<NatNetwork> = {}): NatNetwork => ({
  id,
  bridge,
  subnets,
  internal: false,
  icc: true,
  masquerade: true,
  ...extra,
});

const port = (n: NatNetwork, proto: 'tcp' | 'udp', hostIp: string, hostPort: number, containerIp: string, containerPort: number): NatPortMapping => ({
  networkId: n.id,
  bridge: n.bridge,
  proto,
  hostIp,
  hostPort,
  containerIp,
  containerPort,
});

const bridge = net('default', 'cnm0', ['172.17.0.0/16']);
const web = net('3f1c2a9b8d7e', 'br-3f1c2a9b8d7e', ['10.89.1.0/24']);
const internal = net('9a8b7c6d5e4f', 'br-9a8b7c6d5e4f', ['10.89.2.0/24'], { internal: true });
const noIcc = net('1122aabbccdd', 'br-1122aabbccdd', ['10.89.3.0/24'], { icc: false });
const noMasq = net('5566eeff0011', 'br-5566eeff0011', ['10.89.4.0/24'], { masquerade: false });
const dual = net('77aa88bb99cc', 'br-77aa88bb99cc', ['10.89.5.0/24', 'fd00:89:5::/64']);

export const GOLDEN_STATES: Record<string, NatState> = {
  empty: { networks: [], ports: [] },
  'one-network': {
    networks: [bridge],
    ports: [port(bridge, 'tcp', '0.0.0.0', 8080, '172.17.0.2', 80)],
  },
  internal: {
    networks: [web, internal],
    // Docker accepts -p on an internal network and publishes nothing: the second entry is dropped.
    ports: [port(web, 'tcp', '0.0.0.0', 8080, '10.89.1.2', 80), port(internal, 'tcp', '0.0.0.0', 8081, '10.89.2.2', 80)],
  },
  'icc-off-and-no-masquerade': {
    networks: [noIcc, noMasq],
    ports: [port(noIcc, 'udp', '127.0.0.1', 5353, '10.89.3.2', 53)],
  },
  ipv6: {
    networks: [dual],
    ports: [
      port(dual, 'tcp', '0.0.0.0', 8080, '10.89.5.2', 80),
      port(dual, 'tcp', '::', 8080, 'fd00:89:5::2', 80),
      port(dual, 'udp', 'fd00:0:0:0::1', 5353, 'FD00:89:5::2', 53),
    ],
  },
  'many-ports': {
    networks: [bridge, web],
    ports: Array.from({ length: 12 }, (_, i) =>
      i % 3 === 2
        ? port(web, 'udp', '0.0.0.0', 32768 + i, `10.89.1.${2 + (i % 5)}`, 53)
        : port(i % 2 ? web : bridge, 'tcp', i % 4 === 1 ? '192.0.2.10' : '0.0.0.0', 9000 + i, i % 2 ? `10.89.1.${2 + (i % 5)}` : `172.17.0.${2 + i}`, 80 + i),
    ),
  },
};
