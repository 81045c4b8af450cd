/**
 * The parent side of a macvlan network, in the host namespace: the user's interface as it is, a
 * VLAN link the driver makes when `-o parent=<base>.<vid>` does not exist, or a private portless
 * bridge for isolated networks (this kernel has no dummy driver; a bridge without ports has its
 * carrier up and carries frames between its macvlans just the same). Links the driver makes go
 * with the network; the user's interfaces are never changed.
 */
import { CnmError, invalid, messageOf } from '../../errors';
import { linkReaper } from '../../os/link-reaper';
import { isErrno, type LinkInfo, type Rtnl } from '../../os/links';
import type { DriverNetwork } from '../api';
import { isolatedParentName, ownerOf, ownerTag, parentOf, vlanSpec, vlanStagingName, type MacvlanSettings } from './options';

/** The parent link of the network, made if it is the driver's to make. */
export async function ensureParent(nl: Rtnl, network: DriverNetwork, settings: MacvlanSettings, hostNs: string | undefined): Promise<LinkInfo> {
  const name = parentOf(network, settings);
  const existing = await nl.getLink(name);
  if (name === isolatedParentName(network.id)) return ensureIsolatedParent(nl, network, existing);
  if (existing) return existing;
  const vlan = vlanSpec(name);
  if (!vlan) throw invalid(`-o parent interface ${name} was not found on the host`);
  const base = await nl.getLink(vlan.base);
  if (!base) throw invalid(`-o parent interface ${vlan.base} was not found on the host (${name} is VLAN ${vlan.vid} on ${vlan.base})`);
  return createVlanParent(nl, network, { name, base, vid: vlan.vid }, hostNs);
}

/** Removes the parent if the driver made it for this network; anything else stays. Idempotent. */
export async function removeOwnedParent(nl: Rtnl, network: DriverNetwork, settings: MacvlanSettings, hostNs: string | undefined): Promise<void> {
  // A VLAN link caught between creation and its rename (daemon killed) is this network's by name.
  await linkReaper.delete(vlanStagingName(network.id), hostNs);
  const name = parentOf(network, settings);
  const link = await nl.getLink(name);
  if (!link) return;
  const isolated = name === isolatedParentName(network.id);
  if ((isolated && link.kind === 'bridge') || ownerOf(link.alias) === network.id) await linkReaper.delete(name, hostNs);
}

async function ensureIsolatedParent(nl: Rtnl, network: DriverNetwork, existing: LinkInfo | undefined): Promise<LinkInfo> {
  // A bridge of this name is ours (the name carries the network id), even untagged after a crash.
  if (existing && existing.kind !== 'bridge') {
    throw invalid(`cannot create the private parent ${existing.name} of network ${network.name}: a ${existing.kind ?? 'non-bridge'} device has that name`);
  }
  const link = existing ?? (await nl.createBridge(isolatedParentName(network.id)));
  if (link.alias !== ownerTag(network.id)) await nl.setAlias(link.index, ownerTag(network.id));
  if (!link.up) await nl.setUp(link.index);
  return link;
}

/**
 * Created under a staging name and then renamed and tagged in one message: at no moment does a
 * link with the user's parent name exist without the tag that says cnm made it.
 */
async function createVlanParent(nl: Rtnl, network: DriverNetwork, vlan: { name: string; base: LinkInfo; vid: number }, hostNs: string | undefined): Promise<LinkInfo> {
  const staging = vlanStagingName(network.id);
  await linkReaper.delete(staging, hostNs);
  let link: LinkInfo;
  try {
    link = await nl.createVlan(vlan.base.index, staging, vlan.vid);
  } catch (err) {
    if (isErrno(err, 'ENOTSUP') || isErrno(err, 'EOPNOTSUPP')) {
      throw new CnmError(
        'unavailable',
        `failed to create ${vlan.name} vlan link: operation not supported (this kernel has no 802.1q VLAN support: load the 8021q module, or create ${vlan.name} yourself and cnm will use it)`,
      );
    }
    throw new CnmError('internal', `failed to create ${vlan.name} vlan link: ${messageOf(err)}`, { cause: err });
  }
  try {
    await nl.setAlias(link.index, ownerTag(network.id), { rename: vlan.name });
    await nl.setUp(link.index);
    return await nl.requireLink(vlan.name);
  } catch (err) {
    await linkReaper.delete(staging, hostNs);
    const renamed = await nl.getLink(vlan.name);
    if (renamed && ownerOf(renamed.alias) === network.id) await linkReaper.delete(vlan.name, hostNs);
    throw err;
  }
}
