/**
 * The decisions the cluster store takes from what it read, before it commits them in an etcd
 * transaction: a new global network's VXLAN id and conflicts, an endpoint's address. Pure.
 */
import type { NetworkRecord } from '../controller/model';
import { CnmError, conflict, forbidden, invalid } from '../errors';
import { ADDRESS_IN_USE, AddressPool, POOL_OVERLAP, type PoolConfig } from '../ipam';
import { specialRole } from '../ipam/address-pool';
import { cidrsOverlap, formatIp, parseIp } from '../ipam/cidr';

/** Docker's option for an overlay network's VXLAN id (one id: cnm gives a network one segment). */
export const VXLAN_ID_OPTION = 'com.docker.network.driver.overlay.vxlanid_list';
/** libnetwork's overlay allocator starts at 4096 (lower ids are left to hand-made VXLANs). */
export const VNI_FIRST = 4096;
export const VNI_LAST = 0xffffff;

/** The VXLAN id of a network record, when it has a valid one. */
export function vniOf(network: Pick<NetworkRecord, 'options'>): number | undefined {
  const text = network.options[VXLAN_ID_OPTION];
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  const vni = Number(text);
  return vni >= 1 && vni <= VNI_LAST ? vni : undefined;
}

/**
 * Checks a new global network against the existing ones and picks its VXLAN id (the one asked
 * through the option, or the lowest free one). Returns the record as it is stored, with the id in
 * its options, so every host's snapshot carries it.
 */
export function planNetwork(network: NetworkRecord, existing: NetworkRecord[]): { vni: number; stored: NetworkRecord } {
  const others = existing.filter((n) => n.id !== network.id);
  const sameName = others.find((n) => n.name === network.name);
  if (sameName) throw conflict(`network with name ${network.name} already exists`);
  for (const pool of network.pools) {
    if (others.some((n) => n.pools.some((p) => p.family === pool.family && cidrsOverlap(p.subnet, pool.subnet)))) throw forbidden(POOL_OVERLAP);
  }
  const used = new Set(others.map(vniOf).filter((v): v is number => v !== undefined));
  let vni: number;
  if (network.options[VXLAN_ID_OPTION] !== undefined) {
    const asked = vniOf(network);
    if (asked === undefined) throw invalid(`invalid VXLAN id "${network.options[VXLAN_ID_OPTION]}" for option ${VXLAN_ID_OPTION}: use one integer between 1 and ${VNI_LAST}`);
    if (used.has(asked)) throw forbidden(`VXLAN id ${asked} is already used by another overlay network`);
    vni = asked;
  } else {
    vni = VNI_FIRST;
    while (used.has(vni)) vni++;
    if (vni > VNI_LAST) throw new CnmError('unavailable', 'no VXLAN id left for a new overlay network');
  }
  return { vni, stored: { ...network, options: { ...network.options, [VXLAN_ID_OPTION]: String(vni) } } };
}

/**
 * The address an endpoint gets in `pool` when `used` are held cluster-wide: `preferred` if it is
 * free, else the lowest free one. Returns the bare canonical address.
 */
export function chooseAddress(pool: PoolConfig, used: Iterable<string>, preferred?: string): string {
  const addresses = new AddressPool(pool);
  for (const address of used) {
    const ip = parseIp(address);
    if (ip && addresses.contains(ip)) addresses.take(ip);
  }
  if (preferred !== undefined) {
    const ip = parseIp(preferred);
    if (!ip || !addresses.contains(ip)) throw invalid(`Invalid address ${preferred}: It does not belong to any of this network's subnets`);
    const role = specialRole(addresses.subnet, ip.value);
    if (role) throw invalid(`Invalid address ${preferred}: it is the ${role} of ${pool.subnet}`);
    if (addresses.take(ip) !== 'taken') throw forbidden(ADDRESS_IN_USE);
    return formatIp(ip);
  }
  const next = addresses.takeLowestFree();
  if (!next) throw new CnmError('unavailable', `no available IPv${pool.family} addresses in pool ${pool.ipRange ?? pool.subnet}`);
  return formatIp(next);
}
