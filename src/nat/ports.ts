/**
 * Host port allocation for published ports, with Docker's rules and messages:
 * - ephemeral host ports come from 32768–60999 (Docker's default range), counted per protocol:
 *   80/tcp and 53/udp both get 32768 first, the next tcp port gets 32769;
 * - one host address:port/proto is published once (`Bind for 0.0.0.0:8080 failed: port is
 *   already allocated`); an all-addresses binding (0.0.0.0, ::) collides with every address of
 *   its family, and tcp and udp never collide;
 * - a spec without a host address publishes on 0.0.0.0 and, when the container has IPv6, on ::
 *   with the same port.
 *
 * Each binding holds a real socket on its host address:port in the daemon's namespace, like
 * Docker's BoundSocket: binding it is how a port a host process already listens on is found
 * (EADDRINUSE), and holding it keeps a host process from binding the port later and silently
 * never seeing its traffic (DNAT takes every packet first). Cost: one fd per binding; the socket
 * never sees a packet while the ruleset is in place. TCP sockets listen (a listening socket is
 * the only kind that excludes SO_REUSEADDR binders); UDP sockets are only bound.
 * When a binding covers both 0.0.0.0 and :: one dual-stack socket on :: holds both; a binding on
 * :: alone holds IPv6 only (IPV6_V6ONLY), so the same port on 0.0.0.0 stays free for another
 * container, as the per-family accounting below says, and an IPv4 connection to it is refused
 * instead of being accepted by the held socket and never answered.
 */
import { CnmError, invalid } from '../errors';
import { closeFd, openSocketInNetns } from '../os/native';
import type { PortRequest } from './publish';
import { formatHostPort, type NatNetwork, type NatPortMapping, type NatProto } from './state';
import { canonicalIp, ipFamily, isUnspecified } from './validate';

/** One published port of one container. */
export interface PortBinding {
  proto: NatProto;
  /** Canonical: `0.0.0.0`, `::` or one address. */
  hostIp: string;
  hostPort: number;
  containerIp: string;
  containerPort: number;
}

/** The container's addresses on the network the ports are published through. */
export interface ContainerAddresses {
  ipv4?: string;
  ipv6?: string;
}

/** Holds a host port; closing releases it. */
export interface Reservation {
  release(): void;
}

/** How host ports are held: real sockets in production, anything in unit tests. */
export interface PortReserver {
  /**
   * Throws an error with `code` EADDRINUSE / EADDRNOTAVAIL when the address cannot be bound.
   * dualStack: hostIp is `::` and the reservation must hold the IPv4 port too; otherwise an
   * IPv6 address holds IPv6 only.
   */
  reserve(proto: NatProto, hostIp: string, port: number, dualStack: boolean): Reservation;
}

/** Binds sockets in the namespace at netnsPath (default: the daemon's own). */
export function socketReserver(netnsPath = '/proc/self/ns/net'): PortReserver {
  return {
    reserve(proto, hostIp, port, dualStack) {
      const fd = openSocketInNetns(netnsPath, proto, hostIp, port, ipFamily(hostIp) === 6 ? { ipv6Only: !dualStack } : {});
      let open = true;
      return {
        release() {
          if (open) closeFd(fd);
          open = false;
        },
      };
    },
  };
}

export interface PortAllocatorOptions {
  reserver?: PortReserver;
  /** Ephemeral range, inclusive (default Docker's 32768–60999). */
  ephemeral?: { start: number; end: number };
}

export interface AllocateOptions {
  /**
   * Hold a socket on each host port (default). Off for a container runtime's containers: the
   * runtime holds its ports itself (podman binds them after the CNI ADD), as with CNI's portmap.
   */
  holdSockets?: boolean;
}

interface Held {
  bindings: PortBinding[];
  reservations: Reservation[];
}

export class PortAllocator {
  private readonly reserver: PortReserver;
  private readonly range: { start: number; end: number };
  /** Next ephemeral candidate per protocol. */
  private readonly cursor: Record<NatProto, number>;
  /** `${proto}/${port}` → host addresses bound on it. */
  private readonly used = new Map<string, string[]>();
  private readonly owners = new Map<string, Held>();

  constructor(options: PortAllocatorOptions = {}) {
    this.reserver = options.reserver ?? socketReserver();
    this.range = options.ephemeral ?? { start: 32768, end: 60999 };
    this.cursor = { tcp: this.range.start, udp: this.range.start };
  }

  /**
   * Allocates host ports for all of an owner's (an endpoint's) requests, all or nothing: on any
   * error nothing stays allocated and the error says why (CnmError: 'forbidden' for a port in
   * use, 'invalid' for an address that cannot be used).
   */
  allocate(owner: string, requests: PortRequest[], container: ContainerAddresses, options: AllocateOptions = {}): PortBinding[] {
    if (this.owners.has(owner)) throw new CnmError('conflict', `ports of ${owner} are already allocated`);
    const held: Held = { bindings: [], reservations: [] };
    const hold = options.holdSockets ?? true;
    try {
      for (const request of requests) this.allocateOne(request, container, held, hold);
    } catch (err) {
      this.drop(held);
      throw err;
    }
    this.owners.set(owner, held);
    return held.bindings.map((b) => ({ ...b }));
  }

  /** Frees an owner's ports (no-op for an unknown owner). */
  release(owner: string): void {
    const held = this.owners.get(owner);
    if (!held) return;
    this.owners.delete(owner);
    this.drop(held);
  }

  /** An owner's current bindings. */
  bindings(owner: string): PortBinding[] {
    return (this.owners.get(owner)?.bindings ?? []).map((b) => ({ ...b }));
  }

  /** Releases every port (daemon shutdown). */
  releaseAll(): void {
    for (const owner of [...this.owners.keys()]) this.release(owner);
  }

  private allocateOne(request: PortRequest, container: ContainerAddresses, held: Held, hold: boolean): void {
    const targets = this.targets(request, container);
    const fixed = request.hostPortStart !== 0 && request.hostPortStart === request.hostPortEnd;
    if (fixed) {
      const port = request.hostPortStart;
      const taken = targets.find((t) => this.collides(request.proto, t.hostIp, port));
      if (taken) throw alreadyAllocated(taken.hostIp, port);
      this.take(request, targets, port, held, true, hold);
      return;
    }
    const ephemeral = request.hostPortStart === 0;
    const start = ephemeral ? this.range.start : request.hostPortStart;
    const end = ephemeral ? this.range.end : request.hostPortEnd;
    const size = end - start + 1;
    const first = ephemeral ? this.cursor[request.proto] : start;
    for (let i = 0; i < size; i++) {
      const port = start + ((first - start + i) % size);
      if (targets.some((t) => this.collides(request.proto, t.hostIp, port))) continue;
      if (!this.take(request, targets, port, held, false, hold)) continue;
      if (ephemeral) this.cursor[request.proto] = port === end ? start : port + 1;
      return;
    }
    if (ephemeral) throw new CnmError('forbidden', 'all ports are allocated');
    const range = `${formatHostPort(targets[0]!.hostIp, start)}-${end}`;
    throw new CnmError('forbidden', `Bind for ${range} failed: port is already allocated`);
  }

  /** The host addresses a request binds, each with the container address it leads to. */
  private targets(request: PortRequest, container: ContainerAddresses): { hostIp: string; containerIp: string }[] {
    const v4 = container.ipv4 ? canonicalIp(container.ipv4) : undefined;
    const v6 = container.ipv6 ? canonicalIp(container.ipv6) : undefined;
    if (request.hostIp === '') {
      const all = [
        ...(v4 ? [{ hostIp: '0.0.0.0', containerIp: v4 }] : []),
        ...(v6 ? [{ hostIp: '::', containerIp: v6 }] : []),
      ];
      if (all.length === 0) throw invalid(`cannot publish port ${request.containerPort}: the container has no address`);
      return all;
    }
    const family = ipFamily(request.hostIp);
    const containerIp = family === 4 ? v4 : v6;
    if (!containerIp) {
      throw invalid(`cannot publish on ${request.hostIp}: the container has no IPv${family} address`);
    }
    return [{ hostIp: request.hostIp, containerIp }];
  }

  private collides(proto: NatProto, hostIp: string, port: number): boolean {
    const family = ipFamily(hostIp);
    return (this.used.get(`${proto}/${port}`) ?? []).some(
      (other) => ipFamily(other) === family && (other === hostIp || isUnspecified(other) || isUnspecified(hostIp)),
    );
  }

  /**
   * Binds the sockets for one port and records the bindings. For a fixed port a bind error is
   * the user's error; while searching a range it only means "try the next port" (false).
   */
  private take(
    request: PortRequest,
    targets: { hostIp: string; containerIp: string }[],
    port: number,
    held: Held,
    fixed: boolean,
    hold: boolean,
  ): boolean {
    const reservations: Reservation[] = [];
    const dualStack = targets.some((t) => t.hostIp === '0.0.0.0') && targets.some((t) => t.hostIp === '::');
    const socketAddresses = !hold ? [] : dualStack ? ['::'] : targets.map((t) => t.hostIp);
    try {
      for (const address of socketAddresses) reservations.push(this.reserver.reserve(request.proto, address, port, dualStack));
    } catch (err) {
      for (const r of reservations) r.release();
      const code = (err as NodeJS.ErrnoException).code;
      if (!fixed && code === 'EADDRINUSE') return false;
      throw bindError(err, request.proto, targets[0]!.hostIp, port);
    }
    held.reservations.push(...reservations);
    for (const t of targets) {
      const key = `${request.proto}/${port}`;
      this.used.set(key, [...(this.used.get(key) ?? []), t.hostIp]);
      held.bindings.push({
        proto: request.proto,
        hostIp: t.hostIp,
        hostPort: port,
        containerIp: t.containerIp,
        containerPort: request.containerPort,
      });
    }
    return true;
  }

  private drop(held: Held): void {
    for (const r of held.reservations) r.release();
    for (const b of held.bindings) {
      const key = `${b.proto}/${b.hostPort}`;
      const left = (this.used.get(key) ?? []).filter((ip) => ip !== b.hostIp);
      if (left.length) this.used.set(key, left);
      else this.used.delete(key);
    }
  }
}

/** The NatState entries for a container's bindings on one network. */
export function natMappings(bindings: PortBinding[], network: Pick<NatNetwork, 'id' | 'bridge'>): NatPortMapping[] {
  return bindings.map((b) => ({ networkId: network.id, bridge: network.bridge, ...b }));
}

function alreadyAllocated(hostIp: string, port: number): CnmError {
  return new CnmError('forbidden', `Bind for ${formatHostPort(hostIp, port)} failed: port is already allocated`);
}

/** Docker 20.10's docker-proxy wording: `Error starting userland proxy: listen tcp4 0.0.0.0:8080: bind: address already in use`. */
function bindError(err: unknown, proto: NatProto, hostIp: string, port: number): CnmError {
  const code = (err as NodeJS.ErrnoException).code;
  const network = `${proto}${ipFamily(hostIp)}`;
  const reason =
    code === 'EADDRINUSE' ? 'address already in use' : code === 'EADDRNOTAVAIL' ? 'cannot assign requested address' : undefined;
  if (!reason) return new CnmError('internal', `cannot bind ${formatHostPort(hostIp, port)}/${proto}: ${(err as Error).message}`, { cause: err });
  const message = `Error starting userland proxy: listen ${network} ${formatHostPort(hostIp, port)}: bind: ${reason}`;
  return new CnmError(code === 'EADDRINUSE' ? 'forbidden' : 'invalid', message, { cause: err });
}
