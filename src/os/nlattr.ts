/**
 * Hand-encoded netlink attributes for the link kinds the `netlink` package has no typed
 * encoder for (veth peer, macvlan, vxlan, vlan, bridge port flags). Pure functions over Buffers.
 */

const NLA_HDRLEN = 4;
const NLA_F_NESTED = 0x8000;

const align4 = (n: number): number => (n + 3) & ~3;

/** One attribute: 2-byte length, 2-byte type, payload, padding to 4 bytes. */
export function attr(type: number, payload: Buffer, nested = false): Buffer {
  const len = NLA_HDRLEN + payload.length;
  const out = Buffer.alloc(align4(len));
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(nested ? type | NLA_F_NESTED : type, 2);
  payload.copy(out, NLA_HDRLEN);
  return out;
}

export const nested = (type: number, ...children: Buffer[]): Buffer => attr(type, Buffer.concat(children), true);
export const str = (type: number, value: string): Buffer => attr(type, Buffer.from(`${value}\0`));
export function u8(type: number, value: number): Buffer {
  return attr(type, Buffer.from([value]));
}
export function u16be(type: number, value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value);
  return attr(type, b);
}
/** Host byte order (little-endian here), as IFLA_VLAN_ID wants it. */
export function u16(type: number, value: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(value);
  return attr(type, b);
}
export function u32(type: number, value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value);
  return attr(type, b);
}

/** struct ifinfomsg with everything zero: the header of a veth peer's attributes. */
export const EMPTY_IFINFOMSG = Buffer.alloc(16);

// include/uapi/linux/if_link.h, veth.h
export const IFLA = { ADDRESS: 1, IFNAME: 3, MTU: 4, LINK: 5, MASTER: 10, PROTINFO: 12, LINKINFO: 18, NET_NS_FD: 28 } as const;
export const IFLA_INFO = { KIND: 1, DATA: 2 } as const;
export const VETH_INFO_PEER = 1;
export const IFLA_MACVLAN_MODE = 1;
export const IFLA_VXLAN = { ID: 1, LINK: 3, LOCAL: 4, LEARNING: 7, PORT: 15 } as const;
export const IFLA_BRPORT_MODE = 4; // hairpin
export const IFLA_VLAN_ID = 1;

/** IFLA_LINKINFO payload of an 802.1q link: kind "vlan", data { IFLA_VLAN_ID: vid }. */
export function vlanLinkInfo(vid: number): Buffer {
  if (!Number.isInteger(vid) || vid < 1 || vid > 4094) throw new RangeError(`VLAN id ${vid} is outside 1-4094`);
  return Buffer.concat([str(IFLA_INFO.KIND, 'vlan'), nested(IFLA_INFO.DATA, u16(IFLA_VLAN_ID, vid))]);
}

export function macBytes(mac: string): Buffer {
  const parts = mac.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) throw new Error(`bad MAC address ${mac}`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

export function formatMac(bytes: Buffer | Uint8Array | undefined): string {
  if (!bytes) return '';
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(':');
}
