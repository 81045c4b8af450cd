/**
 * The local IPAM service: subnets for networks, addresses for endpoints. Pure and synchronous:
 * no I/O, and every reservation is complete when the call returns, so two connects interleaved
 * on the event loop never get the same address. Its whole state is derivable from what the
 * controller stores (each network's PoolConfigs, the endpoints' addresses, the cursor).
 */
import { CnmError } from '../errors';
import { AddressPool, highestFreeAddress, specialRole, stripPrefixLength } from './address-pool';
import {
  addressBits,
  firstAddress,
  formatCidr,
  formatIp,
  mustParseCidr,
  overlaps,
  parseCidr,
  parseIp,
  type Cidr,
  type IpFamily,
} from './cidr';
import { DEFAULT_POOLS, compilePoolSpec, findFreeSubnet, mergeBlockers, type SplitPool } from './default-pools';
import { parseSubnetRequest, type ParsedSubnetRequest } from './subnet-request';
import type { IpamCursor, NetworkRequest, PoolConfig, PoolSpec, RestoredNetwork } from './types';

interface NetworkEntry {
  name: string;
  pools: AddressPool[];
  /** What this network's automatic pools did to the cursor, so `abortNetwork` can undo it. */
  cursorMove?: { before: Cursor; after: Cursor };
}

type Cursor = Partial<Record<IpFamily, Cidr>>;

const FAMILIES: readonly IpFamily[] = [4, 6];

export const POOL_OVERLAP = 'Pool overlaps with other one on this address space';
export const ADDRESS_IN_USE = 'Address already in use';
export const STATIC_NEEDS_USER_SUBNET =
  'user specified IP address is supported only when connecting to networks with user configured subnets';

export function noDefaultPool(family: IpFamily): string {
  return `could not find an available, non-overlapping IPv${family} address pool among the defaults to assign to the network`;
}

export class Ipam {
  private readonly defaultPools: Record<IpFamily, SplitPool[]> = { 4: [], 6: [] };
  private readonly networks = new Map<string, NetworkEntry>();
  private cursor: Cursor = {};

  /** `defaultPools` replaces Docker's defaults entirely (like cnmd's `--default-address-pool`). */
  constructor(opts: { defaultPools?: readonly PoolSpec[] } = {}) {
    for (const spec of opts.defaultPools ?? DEFAULT_POOLS) {
      const pool = compilePoolSpec(spec);
      this.defaultPools[pool.family].push(pool);
    }
  }

  /**
   * Decides a new network's pools: the user's subnets as given, plus an automatic IPv4 pool when
   * none is given (and an IPv6 one for IPv6 networks without an IPv6 subnet). All or nothing:
   * a refused request changes nothing, not even the cursor.
   */
  allocateNetwork(request: NetworkRequest): PoolConfig[] {
    if (this.networks.has(request.networkId)) {
      throw new CnmError('conflict', `IPAM already has pools for network ${request.networkId}`);
    }
    const parsed = request.configs.map(parseSubnetRequest);
    const v6Subnet = parsed.find((p) => p.subnet.family === 6);
    if (v6Subnet && !request.enableIPv6) {
      throw new CnmError('invalid', `IPv6 subnet ${formatCidr(v6Subnet.subnet)} needs IPv6 enabled on the network (--ipv6)`);
    }
    const taken = this.allSubnets();
    parsed.forEach((p, i) => {
      const others = [...taken, ...parsed.slice(0, i).map((q) => q.subnet)];
      if (others.some((subnet) => overlaps(subnet, p.subnet))) throw new CnmError('forbidden', POOL_OVERLAP);
    });

    const blockers = [...taken, ...parsed.map((p) => p.subnet), ...(request.exclude ?? []).map(parseExclude)];
    const pick = request.pick ?? 'next';
    const cursor: Cursor = { ...this.cursor };
    const configs: PoolConfig[] = [];
    for (const family of FAMILIES) {
      if (request.family !== undefined && family !== request.family) continue;
      const given = parsed.filter((p) => p.subnet.family === family);
      if (given.length > 0) {
        configs.push(...given.map((p) => withRoomForSandboxes(userPoolConfig(p, request.reserveGateway))));
      } else if (family === 4 || request.enableIPv6) {
        const subnet = this.findAutoSubnet(family, blockers, pick === 'next' ? cursor[family] : undefined);
        blockers.push(subnet);
        if (pick === 'next') cursor[family] = subnet;
        configs.push(autoPoolConfig(subnet, request.reserveGateway));
      }
    }

    for (const config of configs) {
      for (const name of request.pickAuxAddresses ?? []) {
        if (config.auxAddresses[name] !== undefined) continue;
        const picked = highestFreeAddress(config);
        if (picked === undefined) throw new CnmError('forbidden', `no free address left in ${config.subnet} for ${name}`);
        config.auxAddresses[name] = picked;
      }
      // The picked address may have been the last one a sandbox could have had.
      if (!config.auto && request.pickAuxAddresses?.length) withRoomForSandboxes(config);
    }

    const cursorMoved = FAMILIES.some((f) => cursor[f] !== this.cursor[f]);
    this.networks.set(request.networkId, {
      name: request.networkName ?? request.networkId,
      pools: configs.map((c) => new AddressPool(c)),
      ...(cursorMoved && { cursorMove: { before: this.cursor, after: cursor } }),
    });
    this.cursor = cursor;
    return configs.map(copyConfig);
  }

  /** Frees a removed network's pools. Its automatic subnets come back only after the cursor wraps. */
  releaseNetwork(networkId: string): void {
    this.networks.delete(networkId);
  }

  /**
   * Undoes an `allocateNetwork` whose network was never created (the driver failed), so a failed
   * create burns no pool: the cursor moves back unless another automatic pool was handed out since.
   */
  abortNetwork(networkId: string): void {
    const entry = this.networks.get(networkId);
    this.networks.delete(networkId);
    if (!entry?.cursorMove) return;
    const { before, after } = entry.cursorMove;
    const cursor: Cursor = { ...this.cursor };
    for (const family of FAMILIES) {
      if (after[family] !== undefined && this.cursor[family] === after[family]) {
        if (before[family]) cursor[family] = before[family];
        else delete cursor[family];
      }
    }
    this.cursor = cursor;
  }

  /** Rebuilds a network from stored data at daemon start. Trusted input: nothing is validated. */
  restoreNetwork(network: RestoredNetwork): void {
    const pools = network.pools.map((c) => new AddressPool(c));
    for (const text of network.usedAddresses) {
      const ip = parseIp(stripPrefixLength(text));
      const pool = ip && pools.find((p) => p.contains(ip));
      if (ip && pool) pool.take(ip);
    }
    this.networks.set(network.networkId, { name: network.networkName ?? network.networkId, pools });
  }

  pools(networkId: string): PoolConfig[] {
    return this.entry(networkId).pools.map((p) => copyConfig(p.config));
  }

  /**
   * Docker allows static addresses only on networks whose subnet of that family the user chose.
   * The controller checks this (for `--ip` and `--ip6`) before requesting anything.
   */
  assertStaticAllowed(networkId: string, family: IpFamily): void {
    if (!this.entry(networkId).pools.some((p) => p.family === family && !p.config.auto)) {
      throw new CnmError('invalid', STATIC_NEEDS_USER_SUBNET);
    }
  }

  /**
   * Reserves an endpoint address: `preferred` (a static `--ip`/`--ip6`, anywhere in a subnet, even
   * outside the ip-range) or the lowest free one of the first pool of that family with room.
   */
  requestAddress(networkId: string, family: IpFamily, preferred?: string): string {
    const entry = this.entry(networkId);
    const pools = entry.pools.filter((p) => p.family === family);
    if (preferred !== undefined) return this.takePreferred(pools, family, preferred);
    if (pools.length === 0) throw new CnmError('invalid', `network ${entry.name} has no IPv${family} subnet`);
    for (const pool of pools) {
      const ip = pool.takeLowestFree();
      if (ip) return formatIp(ip);
    }
    const where = pools.map((p) => p.config.subnet + (p.config.ipRange ? ` (range ${p.config.ipRange})` : ''));
    throw new CnmError(
      'unavailable',
      `no available IPv${family} addresses in network ${entry.name}'s pool${where.length > 1 ? 's' : ''} ${where.join(', ')}`,
    );
  }

  /** Gives an endpoint's address back (reusable at once). False when it was not in use. */
  releaseAddress(networkId: string, address: string): boolean {
    const ip = parseIp(stripPrefixLength(address));
    const pool = ip && this.networks.get(networkId)?.pools.find((p) => p.contains(ip));
    return Boolean(ip && pool?.release(ip));
  }

  getCursor(): IpamCursor {
    return {
      ...(this.cursor[4] && { v4: formatCidr(this.cursor[4]) }),
      ...(this.cursor[6] && { v6: formatCidr(this.cursor[6]) }),
    };
  }

  /** Restores a cursor from `getCursor()` (stored data, trusted). */
  setCursor(cursor: IpamCursor): void {
    this.cursor = {
      ...(cursor.v4 && { 4: mustParseCidr(cursor.v4) }),
      ...(cursor.v6 && { 6: mustParseCidr(cursor.v6) }),
    };
  }

  private takePreferred(pools: AddressPool[], family: IpFamily, preferred: string): string {
    const ip = parseIp(preferred);
    if (!ip || ip.family !== family) throw new CnmError('invalid', `Invalid IPv${family} address: ${preferred}`);
    const pool = pools.find((p) => p.contains(ip));
    if (!pool) {
      throw new CnmError('invalid', `Invalid address ${preferred}: It does not belong to any of this network's subnets`);
    }
    const role = specialRole(pool.subnet, ip.value);
    if (role) throw new CnmError('invalid', `Invalid address ${preferred}: it is the ${role} of ${pool.config.subnet}`);
    if (pool.take(ip) !== 'taken') throw new CnmError('forbidden', ADDRESS_IN_USE);
    return formatIp(ip);
  }

  private findAutoSubnet(family: IpFamily, blockers: Cidr[], after: Cidr | undefined): Cidr {
    const defaults = this.defaultPools[family];
    // Without IPv6 defaults an IPv6 network needs a subnet: a usage error, not an exhaustion.
    if (defaults.length === 0) throw new CnmError(family === 6 ? 'invalid' : 'unavailable', noDefaultPool(family));
    const sameFamily = blockers.filter((b) => b.family === family);
    const subnet = findFreeSubnet(defaults, mergeBlockers(sameFamily), after);
    if (!subnet) throw new CnmError('unavailable', noDefaultPool(family));
    return subnet;
  }

  private allSubnets(): Cidr[] {
    return [...this.networks.values()].flatMap((n) => n.pools.map((p) => p.subnet));
  }

  private entry(networkId: string): NetworkEntry {
    const entry = this.networks.get(networkId);
    if (!entry) throw new CnmError('notFound', `IPAM has no pools for network ${networkId}`);
    return entry;
  }
}

function userPoolConfig(p: ParsedSubnetRequest, reserveGateway: boolean): PoolConfig {
  const config: PoolConfig = {
    family: p.subnet.family,
    subnet: formatCidr(p.subnet),
    ...(p.ipRange && { ipRange: formatCidr(p.ipRange) }),
    gatewayExplicit: p.gateway !== undefined,
    auxAddresses: Object.fromEntries(p.auxAddresses.map(([name, ip]) => [name, formatIp(ip)])),
    auto: false,
  };
  if (p.gateway) config.gateway = formatIp(p.gateway);
  else if (reserveGateway) config.gateway = defaultGateway(config);
  return config;
}

/**
 * A user subnet must leave at least one address for a sandbox once the network and broadcast
 * addresses, the gateway (on drivers that reserve one) and the aux addresses are set aside, both
 * in the subnet (static --ip) and in the ip-range (dynamic addresses).
 */
function withRoomForSandboxes(config: PoolConfig): PoolConfig {
  const reserved = [config.gateway && 'the gateway', Object.keys(config.auxAddresses).length > 0 && 'the aux addresses'].filter(Boolean);
  const after = reserved.length > 0 ? ` after ${reserved.join(' and ')}` : '';
  if (new AddressPool({ ...config, ipRange: undefined }).peekLowestFree() === undefined) {
    throw new CnmError('invalid', `Invalid subnet ${config.subnet} : no address is left for a container${after}; use a larger subnet (a /30 or shorter prefix for IPv4 on a network with a gateway)`);
  }
  if (config.ipRange && new AddressPool(config).peekLowestFree() === undefined) {
    throw new CnmError('invalid', `Invalid ip-range ${config.ipRange} : no address is left for a container${after}; use a larger ip-range`);
  }
  return config;
}

function autoPoolConfig(subnet: Cidr, reserveGateway: boolean): PoolConfig {
  const config: PoolConfig = {
    family: subnet.family,
    subnet: formatCidr(subnet),
    gatewayExplicit: false,
    auxAddresses: {},
    auto: true,
  };
  if (reserveGateway) config.gateway = defaultGateway(config);
  return config;
}

/** The first host address of the subnet (`.1`, `::1`) not taken by an aux address; ip-range aside. */
function defaultGateway(config: PoolConfig): string {
  const subnetOnly = new AddressPool({ ...config, ipRange: undefined, gateway: undefined });
  const value = subnetOnly.peekLowestFree();
  if (value === undefined) {
    // A user's subnet too small for a gateway is bad input; an automatic one would be our bug.
    throw new CnmError(config.auto ? 'unavailable' : 'invalid', `no address left for a gateway in subnet ${config.subnet}; use a larger subnet`);
  }
  return formatIp({ family: config.family, value });
}

/** Host routes and addresses: a prefix, an address with its prefix length, or a bare address. */
function parseExclude(text: string): Cidr {
  const cidr = parseCidr(text);
  if (cidr) return { ...cidr, address: firstAddress(cidr) };
  const ip = parseIp(text);
  if (!ip) throw new CnmError('internal', `IPAM exclude entry is neither a prefix nor an address: ${text}`);
  return { family: ip.family, address: ip.value, bits: addressBits(ip.family) };
}

function copyConfig(config: Readonly<PoolConfig>): PoolConfig {
  return { ...config, auxAddresses: { ...config.auxAddresses } };
}
