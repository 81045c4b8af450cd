/**
 * A private lab for the NAT integration tests and benchmark, built with `ip` commands:
 *
 *   external client X ── x0 198.18.0.1 ┐             ┌ bra 10.77.1.1 fd77:1::1 ── A1 (.2, ::2), A2 (.3), AB (.4, also on brb)
 *     198.18.0.2  2001:db8:18::2       │  "host" H   ├ brb 10.77.2.1 (no masquerade) ── B (.2), AB (.4)
 *                 2001:db8:18::1       │  (its own   ├ brc 10.77.4.1 (icc off) ── C1 (.2), C2 (.3)
 *                                      └  ruleset)   ├ bri 10.77.3.1 (internal) ── I (.2)
 *                                                    └ cnm0 10.77.0.1 (default bridge) ── D (.2)
 *
 * Every sandbox (and X) runs a TCP server on :80 and a UDP server on :53 that answer
 * "<name> <peer address>", so a probe learns who answered and whom they saw.
 * H gets the kernel settings the NAT rules rely on (what the bridge driver does in the daemon):
 * ip_forward, IPv6 forwarding, route_localnet on bridges, hairpin on every bridge port.
 * Everything lives in namespaces named cnmt<random>-*, deleted in teardown even on failure.
 */
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import type { NatNetwork } from '../../src/nat';
import { createNetns, deleteNetns, openSocketInNetns } from '../../src/os/native';
import { inNs } from '../helpers/lab';


export interface Teardown {
  teardown(fn: () => unknown): void;
}

interface SandboxSpec {
  name: string;
  links: { bridge: string; ipv4: string; ipv6?: string }[];
}

export const NETWORKS: NatNetwork[] = [
  { id: 'neta', bridge: 'bra', subnets: ['10.77.1.0/24', 'fd77:1::/64'], internal: false, icc: true, masquerade: true },
  { id: 'netb', bridge: 'brb', subnets: ['10.77.2.0/24'], internal: false, icc: true, masquerade: false },
  { id: 'netc', bridge: 'brc', subnets: ['10.77.4.0/24'], internal: false, icc: false, masquerade: true },
  { id: 'neti', bridge: 'bri', subnets: ['10.77.3.0/24'], internal: true, icc: true, masquerade: true },
  { id: 'default', bridge: 'cnm0', subnets: ['10.77.0.0/24'], internal: false, icc: true, masquerade: true },
];

const GATEWAYS: Record<string, { ipv4: string; ipv6?: string }> = {
  bra: { ipv4: '10.77.1.1', ipv6: 'fd77:1::1' },
  brb: { ipv4: '10.77.2.1' },
  brc: { ipv4: '10.77.4.1' },
  bri: { ipv4: '10.77.3.1' },
  cnm0: { ipv4: '10.77.0.1' },
};

const SANDBOXES: SandboxSpec[] = [
  { name: 'A1', links: [{ bridge: 'bra', ipv4: '10.77.1.2', ipv6: 'fd77:1::2' }] },
  { name: 'A2', links: [{ bridge: 'bra', ipv4: '10.77.1.3' }] },
  { name: 'AB', links: [{ bridge: 'bra', ipv4: '10.77.1.4' }, { bridge: 'brb', ipv4: '10.77.2.4' }] },
  { name: 'B', links: [{ bridge: 'brb', ipv4: '10.77.2.2' }] },
  { name: 'C1', links: [{ bridge: 'brc', ipv4: '10.77.4.2' }] },
  { name: 'C2', links: [{ bridge: 'brc', ipv4: '10.77.4.3' }] },
  { name: 'I', links: [{ bridge: 'bri', ipv4: '10.77.3.2' }] },
  { name: 'D', links: [{ bridge: 'cnm0', ipv4: '10.77.0.2' }] },
];

export const HOST_IP = '198.18.0.1';
export const HOST_IP6 = '2001:db8:18::1';
export const CLIENT_IP = '198.18.0.2';
export const CLIENT_IP6 = '2001:db8:18::2';

export interface NatLab {
  /** Namespace path of H, X or a sandbox. */
  ns(name: string): string;
  /** Runs a command inside a namespace. */
  sh(name: string, command: string, args: string[]): Promise<string>;
  /** `nft list ruleset` in H. */
  ruleset(): Promise<string>;
  /** TCP connect from a namespace; the first line the server sent, or an error word. */
  tcp(from: string, ip: string, port: number, timeoutS?: number): Promise<string>;
  /** One UDP datagram from a namespace; the answer, or 'timeout'. */
  udp(from: string, ip: string, port: number, timeoutS?: number): Promise<string>;
}

export async function makeNatLab(t: Teardown): Promise<NatLab> {
  const prefix = `cnmt${Math.random().toString(16).slice(2, 8)}`;
  const names = ['H', 'X', ...SANDBOXES.map((s) => s.name)];
  const paths = new Map(names.map((n) => [n, `/run/netns/${prefix}-${n}`]));
  const sockets: { close(): void }[] = [];
  const nsName = (n: string): string => `${prefix}-${n}`;
  t.teardown(() => {
    for (const s of sockets) s.close();
    for (const p of paths.values()) deleteNetns(p);
  });

  mkdirSync('/run/netns', { recursive: true });
  for (const p of paths.values()) createNetns(p);
  const ipBatch = async (ns: string, lines: string[]): Promise<void> => {
    await new Promise<void>((resolve, reject) => {
      const child = execFile('ip', ['-n', nsName(ns), '-batch', '-'], (err, _out, stderr) =>
        err ? reject(new Error(`ip -n ${nsName(ns)} -batch: ${stderr}`)) : resolve(),
      );
      child.stdin!.end(lines.join('\n') + '\n');
    });
  };
  const sh = (name: string, command: string, args: string[]): Promise<string> => inNs(paths.get(name)!, [command, ...args]);

  // No duplicate address detection: tentative link-local addresses lose the first IPv6 packets.
  await Promise.all(
    names.map((n) => sh(n, 'sysctl', ['-q', '-w', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.accept_dad=0'])),
  );
  const host: string[] = [];
  for (const [bridge, gw] of Object.entries(GATEWAYS)) {
    host.push(`link add ${bridge} type bridge`, `addr add ${gw.ipv4}/24 dev ${bridge}`);
    if (gw.ipv6) host.push(`addr add ${gw.ipv6}/64 dev ${bridge}`);
    host.push(`link set ${bridge} up`);
  }
  host.push(
    `link add x0 type veth peer name eth0 netns ${nsName('X')}`,
    `addr add ${HOST_IP}/24 dev x0`,
    `addr add ${HOST_IP6}/64 dev x0`,
    'link set x0 up',
  );
  const sandboxLines = new Map<string, string[]>();
  for (const s of SANDBOXES) {
    const lines: string[] = [];
    s.links.forEach((link, i) => {
      const hostEnd = `v${s.name.toLowerCase()}${i}`;
      const inside = `eth${i}`;
      host.push(
        `link add ${hostEnd} type veth peer name ${inside} netns ${nsName(s.name)}`,
        `link set ${hostEnd} master ${link.bridge}`,
        `link set ${hostEnd} type bridge_slave hairpin on`,
        `link set ${hostEnd} up`,
      );
      lines.push(`addr add ${link.ipv4}/24 dev ${inside}`, `link set ${inside} up`);
      if (link.ipv6) lines.push(`addr add ${link.ipv6}/64 dev ${inside}`);
      if (i === 0) {
        lines.push(`route add default via ${GATEWAYS[link.bridge]!.ipv4}`);
        if (link.ipv6) lines.push(`route add ::/0 via ${GATEWAYS[link.bridge]!.ipv6}`);
      }
    });
    sandboxLines.set(s.name, lines);
  }
  await ipBatch('H', host);
  for (const [name, lines] of sandboxLines) await ipBatch(name, lines);
  await ipBatch('X', [
    `addr add ${CLIENT_IP}/24 dev eth0`,
    `addr add ${CLIENT_IP6}/64 dev eth0`,
    'link set eth0 up',
    `route add default via ${HOST_IP}`,
    `route add ::/0 via ${HOST_IP6}`,
  ]);
  const sysctls = [
    'net.ipv4.ip_forward=1',
    'net.ipv6.conf.all.forwarding=1',
    'net.bridge.bridge-nf-call-iptables=1',
    'net.bridge.bridge-nf-call-ip6tables=1',
    ...Object.keys(GATEWAYS).map((b) => `net.ipv4.conf.${b}.route_localnet=1`),
  ];
  await sh('H', 'sysctl', ['-q', '-w', ...sysctls]);

  for (const name of ['X', ...SANDBOXES.map((s) => s.name)]) {
    const path = paths.get(name)!;
    // A dual-stack socket on :: where the namespace has IPv6, so one server answers both families.
    const dualStack = name === 'X' || SANDBOXES.some((s) => s.name === name && s.links.some((l) => l.ipv6));
    const address = dualStack ? '::' : '0.0.0.0';
    const server = net.createServer((c) => {
      c.on('error', () => undefined); // clients that only time the handshake reset the connection
      c.end(`${name} ${plain(c.remoteAddress)}\n`);
    });
    server.listen({ fd: openSocketInNetns(path, 'tcp', address, 80) });
    const udp = dgram.createSocket(dualStack ? 'udp6' : 'udp4');
    udp.on('message', (_m, rinfo) => udp.send(`${name} ${plain(rinfo.address)}\n`, rinfo.port, rinfo.address));
    udp.bind({ fd: openSocketInNetns(path, 'udp', address, 53) });
    sockets.push(server, udp);
  }

  const probe = async (from: string, script: string, timeoutS: number): Promise<string> => {
    try {
      const out = await sh(from, 'timeout', [String(timeoutS), 'bash', '-c', script]);
      return out.trim() || 'empty';
    } catch (err) {
      const e = err as { code?: number; stderr?: string };
      if (e.code === 124) return 'timeout';
      if (e.stderr?.includes('refused')) return 'refused';
      return `error ${e.stderr?.trim() ?? String(err)}`;
    }
  };
  return {
    ns: (name) => paths.get(name)!,
    sh,
    ruleset: () => sh('H', 'nft', ['list', 'ruleset']),
    tcp: (from, ip, port, timeoutS = 3) => probe(from, `exec 3<>/dev/tcp/${ip}/${port} && head -n 1 <&3`, timeoutS),
    udp: (from, ip, port, timeoutS = 3) =>
      // One read(2) of the whole datagram: bash's `read` takes a byte and loses the rest.
      probe(from, `exec 3<>/dev/udp/${ip}/${port} && printf 'x\\n' >&3 && dd bs=512 count=1 <&3 2>/dev/null`, timeoutS),
  };
}

/** `::ffff:10.0.0.1` (a v4 peer on a dual-stack socket) → `10.0.0.1`. */
function plain(address: string | undefined): string {
  return (address ?? '?').replace(/^::ffff:/, '');
}
