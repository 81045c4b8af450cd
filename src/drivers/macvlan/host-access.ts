/**
 * host_access: the kernel never passes frames between a macvlan and its parent, so the host
 * cannot reach its own macvlan sandboxes through the parent. A "shim" macvlan on the same parent,
 * in the host namespace, is their sibling and reaches them; each sandbox gets a host route through
 * it. Host routes rather than one route to the subnet: when the host already has an address on
 * that LAN through the parent, the subnet route exists and would win or clash.
 */
import { invalid } from '../../errors';
import { linkReaper } from '../../os/link-reaper';
import { isErrno, type LinkInfo, type MacvlanMode, type Rtnl } from '../../os/links';
import type { DriverNetwork } from '../api';
import { ownerTag, shimName } from './options';

/** The shim on the parent with its addresses (host-sized CIDRs), up. Reuses one left by a crash. */
export async function ensureShim(nl: Rtnl, network: DriverNetwork, parent: LinkInfo, mode: MacvlanMode, addresses: string[]): Promise<LinkInfo> {
  const name = shimName(network.id);
  let shim = await nl.getLink(name);
  if (shim && shim.kind !== 'macvlan') throw invalid(`cannot create the host_access interface ${name} of network ${network.name}: a ${shim.kind ?? 'non-macvlan'} device has that name`);
  if (!shim) {
    await nl.createMacvlan(parent.index, mode, { name });
    shim = await nl.requireLink(name);
  }
  if (shim.alias !== ownerTag(network.id)) await nl.setAlias(shim.index, ownerTag(network.id));
  const present = new Set((await nl.listAddresses(shim.index)).map((a) => `${a.address}/${a.prefixLength}`));
  for (const cidr of addresses) {
    if (!present.has(cidr)) await nl.addAddress(shim.index, cidr, { noDad: cidr.includes(':') });
  }
  await nl.setUp(shim.index);
  return shim;
}

/** Removes the shim (a macvlan of its name: the name carries the network id). Idempotent. */
export async function removeShim(nl: Rtnl, network: DriverNetwork, hostNs: string | undefined): Promise<void> {
  const shim = await nl.getLink(shimName(network.id));
  if (shim?.kind === 'macvlan') await linkReaper.delete(shim.name, hostNs);
}

export interface HostRoute {
  destination: string;
  source: string;
}

/** Adds the host routes to a sandbox through the shim; existing ones are fine. */
export async function addHostRoutes(nl: Rtnl, network: DriverNetwork, routes: HostRoute[]): Promise<void> {
  if (!routes.length) return;
  const shim = await nl.requireLink(shimName(network.id));
  for (const r of routes) {
    try {
      await nl.addRoute({ destination: r.destination, device: shim.index, source: r.source, scope: 'link' });
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
  }
}

/** Removes them; a missing shim or route is fine. */
export async function removeHostRoutes(nl: Rtnl, network: DriverNetwork, routes: HostRoute[]): Promise<void> {
  const shim = routes.length ? await nl.getLink(shimName(network.id)) : undefined;
  if (!shim) return;
  for (const r of routes) await nl.deleteRoute({ destination: r.destination, device: shim.index });
}
