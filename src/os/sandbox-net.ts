/**
 * Configuration inside a sandbox's namespace once a driver has put an interface there:
 * addresses, link up, default routes. Kept out of the drivers so every driver's interface is
 * configured the same way (libnetwork's osl layer plays this role).
 */
import { linkReaper } from './link-reaper';
import { isErrno, Rtnl, type LinkInfo } from './links';

export interface InterfaceConfig {
  ifName: string;
  /** CIDRs */
  addresses: string[];
}

export async function configureInterface(nsPath: string, cfg: InterfaceConfig): Promise<void> {
  await Rtnl.in(nsPath, async (nl) => {
    const link = await nl.requireLink(cfg.ifName);
    for (const cidr of cfg.addresses) {
      try {
        await nl.addAddress(link.index, cidr, { noDad: cidr.includes(':') });
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) throw err;
      }
    }
    await nl.setUp(link.index);
  });
}

export interface DefaultRoute {
  ifName: string;
  gateway: string;
}

/** Adds the default routes; an existing route is left as it is. */
export async function addDefaultRoutes(nsPath: string, routes: DefaultRoute[]): Promise<void> {
  if (!routes.length) return;
  await Rtnl.in(nsPath, async (nl) => {
    for (const r of routes) {
      const link = await nl.requireLink(r.ifName);
      try {
        await nl.addRoute({ gateway: r.gateway, device: link.index });
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) throw err;
      }
    }
  });
}

export async function listInterfaces(nsPath: string): Promise<LinkInfo[]> {
  return Rtnl.in(nsPath, (nl) => nl.listLinks());
}

/** Deletes interfaces by name inside the namespace (off the main thread); missing ones are fine. */
export async function deleteInterfaces(nsPath: string, names: string[]): Promise<void> {
  for (const name of names) await linkReaper.delete(name, nsPath);
}

export async function hasDefaultRoute(nsPath: string, family: 4 | 6): Promise<boolean> {
  return Rtnl.in(nsPath, async (nl) => nl.hasDefaultRoute(family));
}

/** Brings `lo` up: a runtime may hand over a namespace with it down (ctr does), and 127.0.0.11 lives on it. */
export async function bringLoopbackUp(nsPath: string): Promise<void> {
  await Rtnl.in(nsPath, async (nl) => {
    const lo = await nl.requireLink('lo');
    if (!lo.up) await nl.setUp(lo.index);
  });
}

export interface InterfaceState {
  up: boolean;
  /** CIDRs */
  addresses: string[];
}

/** An interface's link state and addresses inside the namespace, or undefined if it is not there. */
export async function interfaceState(nsPath: string, ifName: string): Promise<InterfaceState | undefined> {
  return Rtnl.in(nsPath, async (nl) => {
    const link = await nl.getLink(ifName);
    if (!link) return undefined;
    const addresses = (await nl.listAddresses(link.index)).map((a) => `${a.address}/${a.prefixLength}`);
    return { up: link.up, addresses };
  });
}
