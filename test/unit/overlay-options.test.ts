/** The overlay driver's options, device names, and the forwarding entries it derives from peers. */
import t from 'tap';
import type { RemotePeer } from '../../src/drivers/api';
import {
  bridgeName,
  desiredFdb,
  diffFdb,
  hostVethName,
  isHostVethName,
  OVERLAY_OPTIONS,
  ownerOf,
  ownerTag,
  parseOverlayOptions,
  vxlanName,
} from '../../src/drivers/overlay/options';
import { FLOOD_MAC } from '../../src/os/links';
import { VXLAN_ID_OPTION } from '../../src/store/cluster-plan';

const ID = 'c81aa207b15288cce5a39d8e3130aaebe8b8a012b0e172cf0f664468eef67961';

t.test('options', async (t) => {
  t.equal(OVERLAY_OPTIONS.vxlanId, VXLAN_ID_OPTION, 'the driver reads the option the cluster store writes');
  t.same(parseOverlayOptions({}), { vni: undefined, mtu: 1450 });
  t.same(parseOverlayOptions({ [OVERLAY_OPTIONS.vxlanId]: '4096', [OVERLAY_OPTIONS.mtu]: '1400' }), { vni: 4096, mtu: 1400 });
  const bad: [Record<string, string>, RegExp][] = [
    [{ parent: 'eth0' }, /unknown option "parent" for driver overlay; known options: com.docker.network.driver.overlay.vxlanid_list, com.docker.network.driver.mtu/],
    [{ encrypted: 'true' }, /encrypted overlay networks are not supported/],
    [{ [OVERLAY_OPTIONS.vxlanId]: '0' }, /invalid VXLAN id "0"/],
    [{ [OVERLAY_OPTIONS.vxlanId]: '16777216' }, /invalid VXLAN id/],
    [{ [OVERLAY_OPTIONS.vxlanId]: '1,2' }, /invalid VXLAN id/],
    [{ [OVERLAY_OPTIONS.mtu]: '67' }, /invalid MTU "67"/],
    [{ [OVERLAY_OPTIONS.mtu]: '9000x' }, /invalid MTU/],
    [{ [OVERLAY_OPTIONS.mtu]: '65486' }, /invalid MTU/],
  ];
  for (const [options, message] of bad) t.throws(() => parseOverlayOptions(options), message, JSON.stringify(options));
});

t.test('names and tags', async (t) => {
  t.equal(bridgeName({ id: ID }), 'ov-c81aa207b152');
  t.equal(vxlanName({ id: ID }), 'vx-c81aa207b152');
  t.equal(hostVethName(ID), 'ovvc81aa207b1');
  for (const name of [bridgeName({ id: ID }), vxlanName({ id: ID }), hostVethName(ID)]) t.ok(name.length <= 15, `${name} fits IFNAMSIZ`);
  t.ok(isHostVethName(hostVethName(ID)));
  t.notOk(isHostVethName('vethc81aa20'));
  t.notOk(isHostVethName('ovvc81aa207b1x'));
  t.equal(ownerOf(ownerTag(ID)), ID);
  t.equal(ownerOf('cnm macvlan x'), undefined);
  t.equal(ownerOf(undefined), undefined);
});

const p = (mac: string, vtep: string): RemotePeer => ({ endpointId: mac, mac, vtep });

t.test('desiredFdb: one flood entry per remote host, one unicast entry per remote MAC', async (t) => {
  t.same(desiredFdb([], '10.0.0.1'), []);
  t.same(desiredFdb([p('02:42:0A:00:00:03', '10.0.0.3'), p('02:42:0a:00:00:02', '10.0.0.2'), p('02:42:0a:00:00:04', '10.0.0.2'), p('02:42:0a:00:00:09', '10.0.0.1')], '10.0.0.1'), [
    { mac: FLOOD_MAC, dst: '10.0.0.2' },
    { mac: FLOOD_MAC, dst: '10.0.0.3' },
    { mac: '02:42:0a:00:00:02', dst: '10.0.0.2' },
    { mac: '02:42:0a:00:00:03', dst: '10.0.0.3' },
    { mac: '02:42:0a:00:00:04', dst: '10.0.0.2' },
  ]);
});

t.test('diffFdb: removes what is not wanted, adds what is missing, replaces moved MACs in place', async (t) => {
  const e = (mac: string, dst: string): { mac: string; dst: string } => ({ mac, dst });
  const current = [e(FLOOD_MAC, '10.0.0.2'), e(FLOOD_MAC, '10.0.0.3'), e('02:42:0a:00:00:02', '10.0.0.2'), e('02:42:0a:00:00:05', '10.0.0.3')];
  const desired = [e(FLOOD_MAC, '10.0.0.2'), e(FLOOD_MAC, '10.0.0.4'), e('02:42:0a:00:00:02', '10.0.0.4'), e('02:42:0a:00:00:06', '10.0.0.2')];
  t.same(diffFdb(current, desired), {
    remove: [e(FLOOD_MAC, '10.0.0.3'), e('02:42:0a:00:00:05', '10.0.0.3')],
    add: [e(FLOOD_MAC, '10.0.0.4'), e('02:42:0a:00:00:02', '10.0.0.4'), e('02:42:0a:00:00:06', '10.0.0.2')],
  });
  t.same(diffFdb(desired, desired), { remove: [], add: [] });
  t.same(diffFdb(current, []), { remove: current, add: [] });
});
