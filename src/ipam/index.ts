/** IPAM: subnets for networks and addresses for endpoints (see ipam.ts); CIDR helpers in cidr.ts. */
export { Ipam, ADDRESS_IN_USE, POOL_OVERLAP, STATIC_NEEDS_USER_SUBNET, noDefaultPool } from './ipam';
export { AddressPool, lowestFreeAddress, stripPrefixLength } from './address-pool';
export { DEFAULT_POOLS } from './default-pools';
export { parseAddressPoolFlag, groupSubnetFlags, type SubnetFlags } from './flags';
export type { IpamCursor, NetworkRequest, PoolConfig, PoolSpec, RestoredNetwork, SubnetRequest } from './types';
export * as cidr from './cidr';
