/**
 * The overlay driver: networks that span hosts over VXLAN. On each host, a network its sandboxes
 * use gets a bridge and a VXLAN device (no learning, UDP 4789, this host's VTEP as source)
 * enslaved to it; each sandbox a veth pair whose inner end is created directly inside its
 * namespace. Remote endpoints are programmed as forwarding entries from the peer lists the
 * controller hands over (setPeers), never learned, no multicast. See README.md for the choices.
 */
import { invalid, CnmError } from '../../errors';
import { linkReaper } from '../../os/link-reaper';
import { Rtnl, type FdbEntry, type LinkInfo } from '../../os/links';
import { writeSysctl } from '../../os/sysctl';
import type { DriverEndpoint, DriverNetwork, DriverSandbox, JoinResult, NetworkDriver, RemotePeer } from '../api';
import { cleanUpAfter } from '../cleanup';
import { bridgeName, desiredFdb, diffFdb, hostVethName, isHostVethName, ownerOf, ownerTag, parseOverlayOptions, VXLAN_PORT, vxlanName } from './options';

export class OverlayDriver implements NetworkDriver {
  readonly name = 'overlay';
  readonly scope = 'global' as const;
  readonly serviceDiscovery = true;
  /**
   * The subnet's gateway address is reserved (network inspect shows it, as Docker's overlay
   * does) but lives on no host: the default route goes through the gateway bridge.
   */
  readonly needsGateway = true;
  readonly needsGatewayBridge = true;
  readonly singleton = false;
  readonly hasInterface = true;
  readonly usesIpam = true;
  readonly sandboxNamespace = 'own' as const;
  readonly exclusive = false;
  readonly runtimeAttachable = false;
  /** Last peer list per network, programmed when the network's VXLAN device (re)appears. */
  private readonly peers = new Map<string, RemotePeer[]>();
  /**
   * The forwarding entries last written per network: the next peer list is diffed against them,
   * not against a dump of the kernel's table (every bridge port's entries: thousands with many
   * sandboxes, on every change anywhere in the cluster). Dropped whenever the device is (re)made.
   */
  private readonly programmed = new Map<string, FdbEntry[]>();
  /** One change at a time per network: a join creating the data plane, a leave removing it, setPeers. */
  private readonly queues = new Map<string, Promise<unknown>>();

  /**
   * @param vtep this host's underlay address (cnmd --cluster-advertise)
   * @param hostNs the namespace holding the bridges and VXLAN devices; the daemon's own when omitted
   */
  constructor(
    private readonly vtep: string,
    private readonly hostNs?: string,
  ) {}

  validateOptions(options: Record<string, string>): void {
    parseOverlayOptions(options);
  }

  /** Nothing in the kernel yet: a host builds a network's data plane when a sandbox joins it. */
  async createNetwork(network: DriverNetwork): Promise<void> {
    parseOverlayOptions(network.options);
  }

  async deleteNetwork(network: DriverNetwork): Promise<void> {
    await this.serialized(network.id, () => this.removeDataPlane(network));
    this.peers.delete(network.id);
  }

  async join(network: DriverNetwork, endpoint: DriverEndpoint, sandbox: DriverSandbox): Promise<JoinResult> {
    const settings = withVni(network);
    await this.serialized(network.id, () =>
      Rtnl.in(this.hostNs, async (nl) => {
        const hostName = hostVethName(endpoint.id);
        try {
          const bridge = await this.ensureDataPlane(nl, network, settings);
          await nl.createVeth(hostName, { name: endpoint.ifName, nsPath: sandbox.nsPath, mac: endpoint.mac, mtu: settings.mtu }, { mtu: settings.mtu });
          const veth = await nl.requireLink(hostName);
          await nl.setMaster(veth.index, bridge.index);
          await nl.setUp(veth.index);
        } catch (err) {
          await cleanUpAfter(err, `veth ${hostName} or the data plane of network ${network.name}`, async () => {
            await linkReaper.delete(hostName, this.hostNs);
            await this.removeDataPlaneIfUnused(nl, network);
          });
        }
      }),
    );
    return {};
  }

  /** Removes the endpoint's veth, and the network's data plane with its last local endpoint. */
  async leave(network: DriverNetwork, endpoint: DriverEndpoint, _sandbox?: DriverSandbox): Promise<void> {
    await this.serialized(network.id, () =>
      Rtnl.in(this.hostNs, async (nl) => {
        const veth = await nl.getLink(hostVethName(endpoint.id));
        // Deleting one end of a veth pair deletes the other, inside the sandbox.
        if (veth?.kind === 'veth') await linkReaper.delete(veth.name, this.hostNs);
        await this.removeDataPlaneIfUnused(nl, network);
      }),
    );
  }

  async setPeers(network: DriverNetwork, peers: RemotePeer[]): Promise<void> {
    this.peers.set(network.id, peers);
    await this.serialized(network.id, () =>
      Rtnl.in(this.hostNs, async (nl) => {
        const vxlan = await nl.getLink(vxlanName(network));
        if (vxlan?.kind === 'vxlan') await this.programPeers(nl, vxlan, network);
      }),
    );
  }

  /**
   * Start-up: remove the data planes of networks that are gone or have no local endpoint left,
   * re-make the others (after a reboot, say), drop veths of unknown endpoints, and report the
   * endpoints whose veth is missing so the controller re-joins them.
   */
  async reconcile(networks: DriverNetwork[], endpoints: DriverEndpoint[]): Promise<{ missingEndpoints: string[] }> {
    const expected = new Set(endpoints.map((e) => hostVethName(e.id)));
    const used = new Set(endpoints.map((e) => e.networkId));
    for (const link of await Rtnl.in(this.hostNs, (nl) => nl.listLinks())) {
      // A veth of an endpoint that is gone (a crash mid-join or mid-leave); then the data
      // planes of networks that are gone or have no local endpoint left.
      const strayVeth = link.kind === 'veth' && isHostVethName(link.name) && !expected.has(link.name);
      const owner = ownerOf(link.alias);
      if (strayVeth || (owner && !used.has(owner))) await linkReaper.delete(link.name, this.hostNs);
    }
    for (const network of networks.filter((n) => used.has(n.id))) {
      await this.serialized(network.id, () =>
        Rtnl.in(this.hostNs, async (nl) => {
          const bridge = await this.ensureDataPlane(nl, network, withVni(network));
          // After a crash between making a veth and enslaving it.
          for (const endpoint of endpoints.filter((e) => e.networkId === network.id)) {
            const veth = await nl.getLink(hostVethName(endpoint.id));
            if (veth?.kind === 'veth' && veth.master !== bridge.index) {
              await nl.setMaster(veth.index, bridge.index);
              await nl.setUp(veth.index);
            }
          }
        }),
      );
    }
    const present = new Set((await Rtnl.in(this.hostNs, (nl) => nl.listLinks())).filter((l) => l.kind === 'veth').map((l) => l.name));
    return { missingEndpoints: endpoints.filter((e) => !present.has(hostVethName(e.id))).map((e) => e.id) };
  }

  /** The network's bridge and VXLAN device, made (or re-used after a crash) and up, with its peers programmed once known. */
  private async ensureDataPlane(nl: Rtnl, network: DriverNetwork, settings: NetworkSettings): Promise<LinkInfo> {
    const tag = ownerTag(network.id);
    let bridge = await this.ownLink(nl, bridgeName(network), 'bridge', network);
    if (!bridge) bridge = await nl.createBridge(bridgeName(network), { mtu: settings.mtu });
    if (bridge.alias !== tag) await nl.setAlias(bridge.index, tag);
    let vxlan = await this.ownLink(nl, vxlanName(network), 'vxlan', network);
    if (!vxlan) {
      this.programmed.delete(network.id);
      vxlan = await nl.createVxlan(vxlanName(network), { vni: settings.vni, local: this.vtep, port: VXLAN_PORT, mtu: settings.mtu });
    }
    if (vxlan.alias !== tag) await nl.setAlias(vxlan.index, tag);
    // The host itself stays off the overlay: no link-local addresses, no router solicitations.
    for (const name of [bridge.name, vxlan.name]) writeSysctl(`net.ipv6.conf.${name}.disable_ipv6`, '1', this.hostNs);
    if (vxlan.master !== bridge.index) await nl.setMaster(vxlan.index, bridge.index);
    await nl.setUp(vxlan.index);
    await nl.setUp(bridge.index);
    // Not before the controller has said who the peers are: at start-up that would wipe the
    // entries of a running data plane until the cluster store's snapshot puts them back.
    if (this.peers.has(network.id)) await this.programPeers(nl, vxlan, network);
    return bridge;
  }

  /** Makes the VXLAN device's forwarding entries match the network's last peer list exactly. */
  private async programPeers(nl: Rtnl, vxlan: LinkInfo, network: DriverNetwork): Promise<void> {
    const desired = desiredFdb(this.peers.get(network.id) ?? [], this.vtep);
    const current = this.programmed.get(network.id) ?? (await nl.listFdb(vxlan.index));
    const { remove, add } = diffFdb(current, desired);
    // Unknown until it succeeds: a failure half-way makes the next call read the kernel again.
    this.programmed.delete(network.id);
    for (const entry of remove) await nl.deleteFdb(vxlan.index, entry);
    for (const entry of add) await nl.addFdb(vxlan.index, entry);
    this.programmed.set(network.id, desired);
  }

  private async removeDataPlaneIfUnused(nl: Rtnl, network: DriverNetwork): Promise<void> {
    const bridge = await this.ownLink(nl, bridgeName(network), 'bridge', network);
    if (!bridge) return;
    const ports = (await nl.listPorts(bridge.index)).filter((l) => l.name !== vxlanName(network));
    if (ports.length === 0) await this.removeDataPlane(network);
  }

  /** Whatever exists of the network's data plane goes; absent or half-made is fine. */
  private async removeDataPlane(network: DriverNetwork): Promise<void> {
    this.programmed.delete(network.id);
    await Rtnl.in(this.hostNs, async (nl) => {
      for (const [name, kind] of [[vxlanName(network), 'vxlan'], [bridgeName(network), 'bridge']] as const) {
        if (await this.ownLink(nl, name, kind, network)) await linkReaper.delete(name, this.hostNs);
      }
    });
  }

  /**
   * The link `name` if it is this driver's for the network: of the right kind and tagged for it,
   * or untagged (made just before a crash, the tag comes in a second message). Anything else of
   * that name is someone else's: refused, never touched.
   */
  private async ownLink(nl: Rtnl, name: string, kind: 'bridge' | 'vxlan', network: DriverNetwork): Promise<LinkInfo | undefined> {
    const link = await nl.getLink(name);
    if (!link) return undefined;
    if (link.kind === kind && (link.alias === undefined || ownerOf(link.alias) === network.id)) return link;
    throw invalid(`cannot set up overlay network ${network.name}: device ${name} exists and is not cnm's ${kind} for it`);
  }

  private serialized<T>(networkId: string, fn: () => Promise<T>): Promise<T> {
    // Each change waits for the one before to settle, however it ended: its caller got the error.
    const run = (this.queues.get(networkId) ?? Promise.resolve()).then(fn, fn);
    const tail = run.then(settled, settled);
    this.queues.set(networkId, tail);
    void tail.then(() => {
      if (this.queues.get(networkId) === tail) this.queues.delete(networkId);
    });
    return run;
  }
}

interface NetworkSettings {
  vni: number;
  mtu: number;
}

/** The network's settings; its VXLAN id comes from the cluster store through the controller. */
function withVni(network: DriverNetwork): NetworkSettings {
  const settings = parseOverlayOptions(network.options);
  if (settings.vni === undefined) throw new CnmError('internal', `overlay network ${network.name} has no VXLAN id`);
  return { vni: settings.vni, mtu: settings.mtu };
}

function settled(): void {}
