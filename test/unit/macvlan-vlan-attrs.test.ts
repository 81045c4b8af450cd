/**
 * The hand-encoded IFLA_LINKINFO of an 802.1q link. This kernel has no 8021q, so the kernel
 * never checks these bytes here: they are compared with the layout of include/uapi/linux/if_link.h
 * (what `ip link add link eth0 name eth0.10 type vlan id 10` sends).
 */
import t from 'tap';
import { vlanLinkInfo } from '../../src/os/nlattr';

t.test('kind "vlan" and IFLA_VLAN_ID as a host-order u16 inside nested IFLA_INFO_DATA', async (t) => {
  const expected = Buffer.from([
    // IFLA_INFO_KIND (1): "vlan\0", 4 + 5 bytes, padded to 12
    0x09, 0x00, 0x01, 0x00, 0x76, 0x6c, 0x61, 0x6e, 0x00, 0x00, 0x00, 0x00,
    // IFLA_INFO_DATA (2 | NLA_F_NESTED), 4 + 8 bytes
    0x0c, 0x00, 0x02, 0x80,
    // IFLA_VLAN_ID (1): u16 10, 4 + 2 bytes, padded to 8
    0x06, 0x00, 0x01, 0x00, 0x0a, 0x00, 0x00, 0x00,
  ]);
  t.same([...vlanLinkInfo(10)], [...expected]);
  t.equal(vlanLinkInfo(4094).readUInt16LE(20), 4094);
});

t.test('ids outside 1-4094 are never sent', async (t) => {
  for (const vid of [0, 4095, 1.5, -1]) t.throws(() => vlanLinkInfo(vid), RangeError, String(vid));
});
