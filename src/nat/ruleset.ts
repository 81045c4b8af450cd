/**
 * The whole of cnm's nftables ruleset as a pure function of NatState.
 *
 * One `inet` table holds both families: one transaction replaces IPv4 and IPv6 rules together,
 * the base chains exist once, and the per-family parts are only the sets and maps keyed by
 * addresses. Every per-network or per-port fact is a set or map element, never a rule, so a
 * packet meets the same handful of O(1) lookups whether 1 or 1,000 ports are published and
 * however many networks exist (Docker's iptables chains grow one rule per port and network).
 *
 * The text starts with "add table; delete table" and then declares the table afresh, so applying
 * it is idempotent and atomic (moby's reload template does the same): a packet sees either the
 * old ruleset or the new one.
 *
 * What the kernel must provide for these rules to work (set by the bridge driver/controller,
 * not here):
 *   - net.ipv4.ip_forward=1 (and net.ipv6.conf.all.forwarding=1 for IPv6 networks) in the
 *     daemon's namespace: outbound traffic and every DNAT'd connection are forwarded;
 *   - net.ipv4.conf.<bridge>.route_localnet=1 on each bridge with published ports: the host
 *     reaching 127.0.0.1:PORT is DNAT'd with source 127.0.0.1, which the kernel otherwise refuses
 *     to route out of a non-loopback device (the masquerade below then rewrites the source);
 *   - `hairpin on` on each sandbox's bridge port (`ip link set VETH type bridge_slave hairpin
 *     on`, or `bridge link set dev VETH hairpin on`): a sandbox reaching its own published port
 *     gets its packet back out of the port it came in on;
 *   - br_netfilter with bridge-nf-call-iptables/ip6tables=1 (the kernel default here): traffic
 *     between sandboxes of one bridge is bridged, and only passes the forward hook (icc=false,
 *     isolation) with it.
 */
import { checkState, type NatNetwork, type NatPortMapping, type NatState } from './state';
import { ipFamily, isUnspecified } from './validate';
import { invalid } from '../errors';

/** The table cnm owns (family inet). Tests may use another name; nothing else is ever touched. */
export const DEFAULT_TABLE = 'cnm';

const TABLE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;

export function checkTableName(table: string): string {
  if (!TABLE_NAME.test(table)) throw invalid(`invalid nftables table name: ${JSON.stringify(table)}`);
  return table;
}

/** Commands that remove cnm's table if it exists, and nothing else. */
export function renderTeardown(table: string = DEFAULT_TABLE): string {
  checkTableName(table);
  return `add table inet ${table}\ndelete table inet ${table}\n`;
}

/** The full ruleset for state, as one nft batch. Throws CnmError('invalid') on a bad state. */
export function renderRuleset(input: NatState, table: string = DEFAULT_TABLE): string {
  checkTableName(table);
  const state = checkState(input);
  const networks = [...state.networks].sort((a, b) => compare(a.bridge, b.bridge));
  const open = networks.filter((n) => !n.internal);
  // Docker accepts -p on an internal network and publishes nothing: so do we.
  const internalIds = new Set(networks.filter((n) => n.internal).map((n) => n.id));
  const ports = state.ports.filter((p) => !internalIds.has(p.networkId));

  const out: string[] = [
    '# cnm: generated from NatState by src/nat/ruleset.ts; every apply replaces the whole table.',
    ...renderTeardown(table).trimEnd().split('\n'),
    `table inet ${table} {`,
  ];
  const set = (name: string, type: string, elements: string[], flags?: string): void => {
    out.push(`\tset ${name} {`, `\t\ttype ${type}`);
    if (flags) out.push(`\t\tflags ${flags}`);
    pushElements(out, elements);
    out.push('\t}');
  };
  const map = (name: string, type: string, elements: string[]): void => {
    out.push(`\tmap ${name} {`, `\t\ttype ${type}`);
    pushElements(out, elements);
    out.push('\t}');
  };

  const quoted = (n: NatNetwork): string => `"${n.bridge}"`;
  const pair = (n: NatNetwork): string => `"${n.bridge}" . "${n.bridge}"`;
  set('bridges', 'ifname', networks.map(quoted));
  set('internal', 'ifname', networks.filter((n) => n.internal).map(quoted));
  set('icc', 'ifname . ifname', networks.filter((n) => n.icc).map(pair));
  const ownSubnet = (family: 4 | 6): string[] =>
    open.flatMap((n) => sortedSubnets(n.subnets, family).map((s) => `"${n.bridge}" . ${s}`));
  set('hairpin4', 'ifname . ipv4_addr', ownSubnet(4), 'interval');
  set('hairpin6', 'ifname . ipv6_addr', ownSubnet(6), 'interval');
  const masquerading = open.filter((n) => n.masquerade).flatMap((n) => n.subnets);
  set('masq4', 'ipv4_addr', sortedSubnets(masquerading, 4), 'interval');
  set('masq6', 'ipv6_addr', sortedSubnets(masquerading, 6), 'interval');

  for (const family of [4, 6] as const) {
    const target = family === 4 ? 'ipv4_addr . inet_service' : 'ipv6_addr . inet_service';
    const addr = family === 4 ? 'ipv4_addr' : 'ipv6_addr';
    const ofFamily = ports.filter((p) => ipFamily(p.hostIp) === family).sort(comparePorts);
    const toTarget = (p: NatPortMapping): string => `${p.containerIp} . ${p.containerPort}`;
    map(
      `ports${family}-addr`,
      `${addr} . inet_proto . inet_service : ${target}`,
      ofFamily.filter((p) => !isUnspecified(p.hostIp)).map((p) => `${p.hostIp} . ${p.proto} . ${p.hostPort} : ${toTarget(p)}`),
    );
    map(
      `ports${family}-any`,
      `inet_proto . inet_service : ${target}`,
      ofFamily.filter((p) => isUnspecified(p.hostIp)).map((p) => `${p.proto} . ${p.hostPort} : ${toTarget(p)}`),
    );
  }

  out.push(
    '',
    '\t# Published ports, for any packet addressed to this host: from outside (prerouting), from',
    '\t# the host itself (output) and from sandboxes (prerouting, hairpin). A binding to one',
    '\t# address wins over a binding to all addresses; a lookup miss falls through.',
    '\tchain published {',
    '\t\tdnat ip to ip daddr . meta l4proto . th dport map @ports4-addr',
    '\t\tdnat ip to meta l4proto . th dport map @ports4-any',
    '\t\tdnat ip6 to ip6 daddr . meta l4proto . th dport map @ports6-addr',
    '\t\tdnat ip6 to meta l4proto . th dport map @ports6-any',
    '\t}',
    '',
    '\tchain prerouting {',
    '\t\ttype nat hook prerouting priority dstnat; policy accept;',
    '\t\tfib daddr type local jump published',
    '\t}',
    '',
    '\tchain output {',
    // nft 1.0.6 knows the name "dstnat" only for the prerouting hook; it is -100 here too.
    '\t\ttype nat hook output priority -100; policy accept;',
    '\t\tfib daddr type local jump published',
    '\t}',
    '',
    '\tchain postrouting {',
    '\t\ttype nat hook postrouting priority srcnat; policy accept;',
    '\t\t# The host reaching 127.0.0.1:PORT: the sandbox must not answer to its own loopback.',
    '\t\tip saddr 127.0.0.0/8 oifname @bridges masquerade',
    '\t\t# Hairpin: a sandbox reaching a port published on its own network. Reaching itself, it',
    '\t\t# would get a packet from its own address (dropped as martian); reaching a neighbour, the',
    '\t\t# reply would go straight back over the bridge. (iifname is empty in postrouting: the',
    '\t\t# source subnet tells where the packet came from.)',
    '\t\tct status dnat oifname . ip saddr @hairpin4 masquerade',
    '\t\tct status dnat oifname . ip6 saddr @hairpin6 masquerade',
    '\t\t# Outbound.',
    '\t\toifname != @bridges ip saddr @masq4 masquerade',
    '\t\toifname != @bridges ip6 saddr @masq6 masquerade',
    '\t}',
    '',
    // Only drops matter here: an accept ends this chain only, other tables still have a say.
    '\tchain forward {',
    '\t\ttype filter hook forward priority filter; policy accept;',
    '\t\tct state established,related accept',
    '\t\t# Within one bridge, unless icc is off.',
    '\t\tiifname . oifname @icc accept',
    '\t\t# Internal networks: nothing leaves, nothing enters.',
    '\t\tiifname @internal drop',
    '\t\toifname @internal drop',
    '\t\t# Published ports are open to everyone, other networks included.',
    '\t\toifname @bridges ct status dnat accept',
    '\t\t# Anything else into a bridge: other bridges (isolation), the outside, icc off.',
    '\t\toifname @bridges drop',
    '\t}',
    '}',
  );
  return out.join('\n') + '\n';
}

function pushElements(out: string[], elements: string[]): void {
  if (elements.length === 0) return; // nft refuses `elements = { }`
  out.push('\t\telements = {', ...elements.map((e) => `\t\t\t${e},`), '\t\t}');
}

function sortedSubnets(subnets: string[], family: 4 | 6): string[] {
  return subnets.filter((s) => ipFamily(s.slice(0, s.indexOf('/'))) === family).sort(compare);
}

function comparePorts(a: NatPortMapping, b: NatPortMapping): number {
  return compare(a.hostIp, b.hostIp) || compare(a.proto, b.proto) || a.hostPort - b.hostPort;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
