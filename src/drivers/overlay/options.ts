/**
 * The overlay driver's -o options (Docker's names), the names and tags of the kernel objects it
 * makes for a network and an endpoint, and the VXLAN forwarding entries a list of remote peers
 * calls for. Pure.
 */
import { invalid } from '../../errors';
import { FLOOD_MAC, type FdbEntry } from '../../os/links';
import type { DriverNetwork, RemotePeer } from '../api';
import { ownerTags } from '../shared-options';

export const OVERLAY_OPTIONS = {
  /** set by the controller from the cluster store (a user may ask for one id) */
  vxlanId: 'com.docker.network.driver.overlay.vxlanid_list',
  mtu: 'com.docker.network.driver.mtu',
  encrypted: 'encrypted',
} as const;

/** 1500 on the underlay minus VXLAN's 50 bytes (outer Ethernet, IPv4, UDP, VXLAN headers). */
export const DEFAULT_OVERLAY_MTU = 1450;
export const VXLAN_PORT = 4789;
const VNI_MAX = 0xffffff;

export interface OverlaySettings {
  /** undefined until the cluster store gave the network one */
  vni: number | undefined;
  mtu: number;
}

const KNOWN = new Set<string>(Object.values(OVERLAY_OPTIONS));

export function parseOverlayOptions(options: Record<string, string>): OverlaySettings {
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw invalid(`unknown option "${key}" for driver overlay; known options: ${OVERLAY_OPTIONS.vxlanId}, ${OVERLAY_OPTIONS.mtu}`);
  }
  if (options[OVERLAY_OPTIONS.encrypted] !== undefined) throw invalid('encrypted overlay networks are not supported: cnm carries overlay traffic in plain VXLAN (no IPsec)');
  const vniText = options[OVERLAY_OPTIONS.vxlanId];
  const vni = vniText === undefined ? undefined : Number(vniText);
  if (vni !== undefined && (!/^\d+$/.test(vniText!) || vni < 1 || vni > VNI_MAX)) {
    throw invalid(`invalid VXLAN id "${vniText}" for option ${OVERLAY_OPTIONS.vxlanId}: use one integer between 1 and ${VNI_MAX}`);
  }
  const mtuText = options[OVERLAY_OPTIONS.mtu];
  const mtu = mtuText === undefined ? DEFAULT_OVERLAY_MTU : Number(mtuText);
  if ((mtuText !== undefined && !/^\d+$/.test(mtuText)) || mtu < 68 || mtu > 65485) throw invalid(`invalid MTU "${mtuText}": use an integer between 68 and 65485 (the underlay's MTU minus 50)`);
  return { vni, mtu };
}

/** The bridge joining a network's local sandboxes and its VXLAN device: ov-<12 hex>. */
export const bridgeName = (network: Pick<DriverNetwork, 'id'>): string => `ov-${network.id.slice(0, 12)}`;
/** The network's VXLAN device: vx-<12 hex>. */
export const vxlanName = (network: Pick<DriverNetwork, 'id'>): string => `vx-${network.id.slice(0, 12)}`;
/** Host end of an endpoint's veth pair: ovv<10 hex> (the bridge driver's are veth<7 hex>). */
export const hostVethName = (endpointId: string): string => `ovv${endpointId.slice(0, 10)}`;
export const isHostVethName = (name: string): boolean => /^ovv[0-9a-f]{10}$/.test(name);

/** IFLA_IFALIAS of the bridge and VXLAN device: which network they carry (ownerTag), read back (ownerOf). */
export const { ownerTag, ownerOf } = ownerTags('overlay');

/**
 * The forwarding entries a network's VXLAN device needs: each remote endpoint's MAC to its host,
 * and one all-zero entry per remote host, so broadcasts (ARP, IPv6 neighbour discovery) and
 * not-yet-known unicast are replicated to every host with endpoints on the network.
 */
export function desiredFdb(peers: RemotePeer[], localVtep: string): FdbEntry[] {
  const remote = peers.filter((p) => p.vtep !== localVtep);
  const unicast = new Map<string, string>();
  for (const p of remote) unicast.set(p.mac.toLowerCase(), p.vtep);
  const vteps = [...new Set(remote.map((p) => p.vtep))].sort();
  const macs = [...unicast.keys()].sort();
  return [...vteps.map((dst) => ({ mac: FLOOD_MAC, dst })), ...macs.map((mac) => ({ mac, dst: unicast.get(mac)! }))];
}

/**
 * What to remove and add to go from `current` to `desired`. A MAC that moved to another host is
 * only added (the add replaces its single entry; deleting the old one first would open a gap).
 */
export function diffFdb(current: FdbEntry[], desired: FdbEntry[]): { remove: FdbEntry[]; add: FdbEntry[] } {
  const key = (e: FdbEntry): string => `${e.mac}|${e.dst}`;
  const want = new Set(desired.map(key));
  const have = new Set(current.map(key));
  const movedMacs = new Set(desired.filter((e) => e.mac !== FLOOD_MAC).map((e) => e.mac));
  return {
    remove: current.filter((e) => !want.has(key(e)) && !(e.mac !== FLOOD_MAC && movedMacs.has(e.mac))),
    add: desired.filter((e) => !have.has(key(e))),
  };
}
