/**
 * IPAM's contract with the controller. IPAM decides; the controller persists what it decided
 * (each network's PoolConfigs, each endpoint's addresses, the cursor) and restores IPAM from it at
 * start, so nothing else needs to be stored.
 */
import type { IpFamily } from './cidr';

/** One subnet of a network, as decided at creation. Everything here is canonical text. */
export interface PoolConfig {
  family: IpFamily;
  /** `10.0.0.0/24`, `fd00::/64`. */
  subnet: string;
  /** `--ip-range`: where dynamic addresses come from (a static address may be anywhere in `subnet`). */
  ipRange?: string;
  /** A bare address; absent when the driver reserves none and the user gave none. */
  gateway?: string;
  /** The user gave the gateway (`network inspect` shows a gateway only for auto pools or explicit ones). */
  gatewayExplicit: boolean;
  auxAddresses: Record<string, string>;
  /** Chosen by IPAM from the default pools (static addresses are refused on such pools). */
  auto: boolean;
}

/** One entry of Docker's `IPAM.Config`, as the user gave it (`--subnet`, `--ip-range`, ...). */
export interface SubnetRequest {
  subnet?: string;
  ipRange?: string;
  gateway?: string;
  auxAddresses?: Record<string, string>;
}

export interface NetworkRequest {
  networkId: string;
  /** Used only in error messages; defaults to the id. */
  networkName?: string;
  /** Any mix of IPv4 and IPv6 entries. No IPv4 entry → one automatic IPv4 pool. */
  configs: SubnetRequest[];
  /** Required for IPv6 entries; without an IPv6 entry an IPv6 default pool is used, if configured. */
  enableIPv6: boolean;
  /** Reserve a gateway address when the user gave none (drivers that route through the host do). */
  reserveGateway: boolean;
  /**
   * Aux addresses IPAM picks itself in every pool that lacks them (a driver's own address on the
   * network, e.g. macvlan's host_access shim): the highest free address of the subnet, reserved
   * like any aux address (no endpoint gets it, `inspect` shows it, it goes with the network).
   */
  pickAuxAddresses?: string[];
  /** Prefixes automatic pools must not overlap: the host's routes and addresses. `/0` entries are ignored. */
  exclude?: string[];
  /**
   * Where automatic pools come from: `next` (default) = the next free default pool after the last
   * one handed out, which then becomes the cursor; `first` = the first free default pool, cursor
   * untouched (the default bridge, which Docker re-elects at every start).
   */
  pick?: 'next' | 'first';
  /**
   * Only pools of this family (Docker's IPAM plugin protocol asks for one pool per request):
   * no automatic pool of the other family.
   */
  family?: 4 | 6;
}

/** `--default-address-pool base=172.30.0.0/16,size=24`: `base` split into subnets of length `size`. */
export interface PoolSpec {
  base: string;
  size: number;
}

/** The last automatic subnet handed out, per family. Persist it with the networks. */
export interface IpamCursor {
  v4?: string;
  v6?: string;
}

export interface RestoredNetwork {
  networkId: string;
  networkName?: string;
  pools: PoolConfig[];
  /** Endpoint addresses in use (any family, bare or with a prefix length). */
  usedAddresses: string[];
}
