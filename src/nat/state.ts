/**
 * What the NAT layer is told: plain data computed by the controller from its networks and
 * endpoints. `checkState` validates it and puts every address in canonical form, so that the
 * renderer only ever sees values that are safe to splice into nft text.
 */
import { CnmError, invalid } from '../errors';
import { cidrsOverlap } from '../ipam/cidr';
import { canonicalCidr, canonicalIp, checkIfname, checkPort, ipFamily, isUnspecified } from './validate';

/** A bridge network as far as NAT is concerned. */
export interface NatNetwork {
  id: string;
  /** The Linux bridge that carries the network (`cnm0`, `br-<12 hex>`). */
  bridge: string;
  /** IPv4 and IPv6 subnets in CIDR form. */
  subnets: string[];
  /** No way out, no way in, no published ports (`--internal`). */
  internal: boolean;
  /** Sandboxes on this bridge may talk to each other (`enable_icc`). */
  icc: boolean;
  /** Outbound traffic is masqueraded (`enable_ip_masquerade`). */
  masquerade: boolean;
}

export type NatProto = 'tcp' | 'udp';

/** One published port: hostIp:hostPort/proto → containerIp:containerPort on one network. */
export interface NatPortMapping {
  networkId: string;
  bridge: string;
  proto: NatProto;
  /** `0.0.0.0` (every local IPv4 address), `::` (every local IPv6 address) or one address. */
  hostIp: string;
  hostPort: number;
  /** Same family as hostIp. */
  containerIp: string;
  containerPort: number;
}

export interface NatState {
  networks: NatNetwork[];
  ports: NatPortMapping[];
}

/** Throws CnmError('invalid') on a malformed state; returns a canonical copy. */
export function checkState(state: NatState): NatState {
  const byId = new Map<string, NatNetwork>();
  const bridges = new Map<string, string>();
  const networks = state.networks.map((n): NatNetwork => {
    if (byId.has(n.id)) throw invalid(`network ${n.id} is listed twice`);
    const bridge = checkIfname(n.bridge);
    const other = bridges.get(bridge);
    if (other !== undefined) throw invalid(`networks ${other} and ${n.id} share bridge ${bridge}`);
    bridges.set(bridge, n.id);
    const network: NatNetwork = {
      id: n.id,
      bridge,
      subnets: n.subnets.map((s) => canonicalCidr(s).text),
      internal: n.internal,
      icc: n.icc,
      masquerade: n.masquerade,
    };
    byId.set(n.id, network);
    return network;
  });

  checkNoOverlap(networks);

  const taken = new Set<string>();
  // Ports share few distinct addresses (0.0.0.0, a container's address): parse each once.
  const canonical = new Map<string, string>();
  const canonicalOnce = (address: string): string => {
    let c = canonical.get(address);
    if (c === undefined) canonical.set(address, (c = canonicalIp(address)));
    return c;
  };
  const ports = state.ports.map((p): NatPortMapping => {
    const network = byId.get(p.networkId);
    if (!network) throw invalid(`port mapping for unknown network ${p.networkId}`);
    if (network.bridge !== p.bridge) {
      throw invalid(`port mapping names bridge ${p.bridge} but network ${p.networkId} uses ${network.bridge}`);
    }
    if (p.proto !== 'tcp' && p.proto !== 'udp') throw invalid(`unsupported protocol: ${String(p.proto)}`);
    const hostIp = canonicalOnce(p.hostIp);
    const containerIp = canonicalOnce(p.containerIp);
    if (ipFamily(hostIp) !== ipFamily(containerIp)) {
      throw invalid(`host address ${hostIp} and container address ${containerIp} are of different families`);
    }
    if (isUnspecified(containerIp)) throw invalid(`invalid container address: ${containerIp}`);
    const mapping: NatPortMapping = {
      networkId: p.networkId,
      bridge: network.bridge,
      proto: p.proto,
      hostIp,
      hostPort: checkPort(p.hostPort, 'host port'),
      containerIp,
      containerPort: checkPort(p.containerPort, 'container port'),
    };
    const key = `${hostIp}|${mapping.proto}|${mapping.hostPort}`;
    if (taken.has(key)) {
      throw new CnmError('conflict', `${formatHostPort(hostIp, mapping.hostPort)}/${mapping.proto} is published twice`);
    }
    taken.add(key);
    return mapping;
  });
  return { networks, ports };
}

/** Overlapping subnets would make masquerade and isolation ambiguous (and nft refuses them). */
function checkNoOverlap(networks: NatNetwork[]): void {
  const all = networks.flatMap((n) => n.subnets.map((s) => ({ id: n.id, s })));
  for (const [i, a] of all.entries()) {
    for (const b of all.slice(i + 1)) {
      if (cidrsOverlap(a.s, b.s)) throw invalid(`subnets ${a.s} (${a.id}) and ${b.s} (${b.id}) overlap`);
    }
  }
}

/** `0.0.0.0:8080`, `[::]:8080` (Go's net.JoinHostPort, as in Docker's messages). */
export function formatHostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}
