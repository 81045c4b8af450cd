/**
 * The macvlan driver: each sandbox gets its own macvlan interface on the network's parent,
 * created directly inside the sandbox's namespace, with Docker's MAC and an address on the LAN.
 * No bridge, no NAT; the LAN's router is the gateway. See README.md for the choices made.
 */
import { CnmError, forbidden } from '../../errors';
import { linkReaper } from '../../os/link-reaper';
import { isErrno, Rtnl } from '../../os/links';
import { isNetnsMount } from '../../os/native';
import type { DriverEndpoint, DriverNetwork, DriverSandbox, JoinResult, NetworkDriver } from '../api';
import { cleanUpAfter } from '../cleanup';
import { poolGateways } from '../gateways';
import { addHostRoutes, ensureShim, removeHostRoutes, removeShim } from './host-access';
import { HOST_ACCESS_AUX, checkHostAccessAddress, hostRoutes, isolatedParentName, ownerOf, parentOf, parseMacvlanOptions, shimAddresses } from './options';
import { ensureParent, removeOwnedParent } from './parent';

export class MacvlanDriver implements NetworkDriver {
  readonly name = 'macvlan';
  readonly scope = 'local' as const;
  readonly serviceDiscovery = true;
  readonly needsGateway = true;
  readonly singleton = false;
  readonly hasInterface = true;
  readonly usesIpam = true;
  readonly sandboxNamespace = 'own' as const;
  readonly exclusive = false;
  readonly runtimeAttachable = false;

  /** @param hostNs the namespace whose interfaces are parents; the daemon's own when omitted */
  constructor(private readonly hostNs?: string) {}

  validateOptions(options: Record<string, string>): void {
    parseMacvlanOptions(options);
  }

  /** host_access: the shim's address in each subnet (the user's --aux-address host_access=IP, or one IPAM picks). */
  ownAddresses(options: Record<string, string>): string[] {
    return parseMacvlanOptions(options).hostAccess ? [HOST_ACCESS_AUX] : [];
  }

  /** One macvlan network per parent, whatever the mode (as Docker). */
  checkConflicts(network: DriverNetwork, others: DriverNetwork[]): void {
    const parent = parentOf(network, parseMacvlanOptions(network.options));
    const clash = others.find((o) => o.id !== network.id && parentOf(o, parseMacvlanOptions(o.options)) === parent);
    // Docker names the other network dm-<id>; its name says more.
    if (clash) throw forbidden(`network ${clash.name} is already using parent interface ${parent}`);
  }

  /** Without a parent the network hangs off a private one: its gateway leads nowhere (Docker: config.Internal). */
  isolated(network: DriverNetwork): boolean {
    return parentOf(network, parseMacvlanOptions(network.options)) === isolatedParentName(network.id);
  }

  async createNetwork(network: DriverNetwork): Promise<void> {
    checkHostAccessAddress(network, parseMacvlanOptions(network.options));
    try {
      await this.ensureNetwork(network);
    } catch (err) {
      await cleanUpAfter(err, `what was made for network ${network.name}`, () => this.deleteNetwork(network));
    }
  }

  /** Removes what the driver made for the network (shim, VLAN link, private parent); the rest stays. */
  async deleteNetwork(network: DriverNetwork): Promise<void> {
    const settings = parseMacvlanOptions(network.options);
    await Rtnl.in(this.hostNs, async (nl) => {
      await removeShim(nl, network, this.hostNs);
      await removeOwnedParent(nl, network, settings, this.hostNs);
    });
  }

  async join(network: DriverNetwork, endpoint: DriverEndpoint, sandbox: DriverSandbox): Promise<JoinResult> {
    const settings = parseMacvlanOptions(network.options);
    const parentName = parentOf(network, settings);
    await Rtnl.in(this.hostNs, async (nl) => {
      const parent = await nl.getLink(parentName);
      if (!parent) throw new CnmError('unavailable', `parent interface ${parentName} of network ${network.name} is gone`);
      try {
        await nl.createMacvlan(parent.index, settings.mode, { name: endpoint.ifName, nsPath: sandbox.nsPath, mac: endpoint.mac });
      } catch (err) {
        // The kernel's EINVAL says no more than that; in passthru mode it means the parent is taken.
        if (settings.mode === 'passthru' && isErrno(err, 'EINVAL')) {
          throw forbidden(`cannot attach to network ${network.name}: macvlan passthru mode gives parent interface ${parentName} to one sandbox only`);
        }
        throw err;
      }
      if (!settings.hostAccess) return;
      try {
        await addHostRoutes(nl, network, hostRoutes(endpoint, shimAddresses(network.pools)));
      } catch (err) {
        await cleanUpAfter(err, `interface ${endpoint.ifName} of endpoint ${endpoint.id}`, () => this.leave(network, endpoint, sandbox));
      }
    });
    return this.isolated(network) ? {} : poolGateways(network, endpoint);
  }

  /** Removes the host routes and the sandbox's macvlan; whatever is already gone is fine. */
  async leave(network: DriverNetwork, endpoint: DriverEndpoint, sandbox: DriverSandbox): Promise<void> {
    const settings = parseMacvlanOptions(network.options);
    if (settings.hostAccess) {
      await Rtnl.in(this.hostNs, (nl) => removeHostRoutes(nl, network, hostRoutes(endpoint, shimAddresses(network.pools))));
    }
    if (!endpoint.ifName || !isNetnsMount(sandbox.nsPath)) return;
    // Only this endpoint's interface: its name could belong to a later endpoint after a crash.
    // (A passthru macvlan wears the parent's MAC, not the endpoint's.)
    const link = await Rtnl.in(sandbox.nsPath, (nl) => nl.getLink(endpoint.ifName));
    const ours = link?.kind === 'macvlan' && (settings.mode === 'passthru' || link.mac === endpoint.mac.toLowerCase());
    if (ours) await linkReaper.delete(endpoint.ifName, sandbox.nsPath);
  }

  /**
   * Start-up: remove links this driver tagged for networks that no longer exist, re-make the
   * parents, shims and host routes of the others (after a reboot, say). A network whose parent
   * cannot be had (the user's interface is gone, no 8021q) is left as it is: its sandboxes fail
   * to re-join with a message naming the parent.
   */
  async reconcile(networks: DriverNetwork[], endpoints: DriverEndpoint[]): Promise<{ missingEndpoints: string[] }> {
    const known = new Set(networks.map((n) => n.id));
    const links = await Rtnl.in(this.hostNs, (nl) => nl.listLinks());
    for (const link of links) {
      const owner = ownerOf(link.alias);
      if (owner && !known.has(owner)) await linkReaper.delete(link.name, this.hostNs);
    }
    for (const network of networks) {
      try {
        await this.ensureNetwork(network);
      } catch (err) {
        if (err instanceof CnmError) continue;
        throw err;
      }
      if (!parseMacvlanOptions(network.options).hostAccess) continue;
      const shim = shimAddresses(network.pools);
      const routes = endpoints.filter((e) => e.networkId === network.id).flatMap((e) => hostRoutes(e, shim));
      await Rtnl.in(this.hostNs, (nl) => addHostRoutes(nl, network, routes));
    }
    // A sandbox whose macvlan is missing is seen by the controller, which re-joins it.
    return { missingEndpoints: [] };
  }

  private async ensureNetwork(network: DriverNetwork): Promise<void> {
    const settings = parseMacvlanOptions(network.options);
    await Rtnl.in(this.hostNs, async (nl) => {
      const parent = await ensureParent(nl, network, settings, this.hostNs);
      if (settings.hostAccess) await ensureShim(nl, network, parent, settings.mode, shimAddresses(network.pools));
    });
  }
}
