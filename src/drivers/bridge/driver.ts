/**
 * The bridge driver: a Linux bridge per network holding the gateway address(es), and a veth
 * pair per endpoint whose inner end is created directly inside the sandbox's namespace.
 */
import { linkReaper } from '../../os/link-reaper';
import { Rtnl } from '../../os/links';
import { writeSysctl } from '../../os/sysctl';
import { invalid } from '../../errors';
import type { DriverEndpoint, DriverNetwork, DriverSandbox, ExternalConnectivity, JoinResult, NetworkDriver } from '../api';
import { poolGateways } from '../gateways';
import { bridgeDeviceName, hostVethName, parseBridgeOptions } from './options';

export class BridgeDriver implements NetworkDriver {
  readonly name = 'bridge';
  readonly scope = 'local' as const;
  readonly serviceDiscovery = true;
  readonly needsGateway = true;
  readonly singleton = false;
  readonly hasInterface = true;
  readonly usesIpam = true;
  readonly sandboxNamespace = 'own' as const;
  readonly exclusive = false;
  readonly runtimeAttachable = true;
  /** Docker's default network: sandboxes go here without a network mode. */
  readonly predefinedNetwork = {
    name: 'bridge',
    default: true,
    options: {
      'com.docker.network.bridge.default_bridge': 'true',
      'com.docker.network.bridge.enable_icc': 'true',
      'com.docker.network.bridge.enable_ip_masquerade': 'true',
      'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
      'com.docker.network.bridge.name': 'cnm0',
      'com.docker.network.driver.mtu': '1500',
    },
  };
  /** Docker's docker_gwbridge: the local way out of sandboxes on overlay networks. */
  readonly gatewayBridgeNetwork = {
    name: 'cnm_gwbridge',
    options: {
      'com.docker.network.bridge.name': 'cnm_gwbridge',
      // Sandboxes meet on their overlay, not here.
      'com.docker.network.bridge.enable_icc': 'false',
      'com.docker.network.bridge.enable_ip_masquerade': 'true',
    },
  };

  validateOptions(options: Record<string, string>): void {
    parseBridgeOptions(options);
  }

  checkConflicts(network: DriverNetwork, others: DriverNetwork[]): void {
    const device = deviceOf(network);
    const clash = others.find((o) => deviceOf(o) === device);
    if (clash) throw invalid(`bridge device ${device} is already used by network ${clash.name}`);
  }

  async createNetwork(network: DriverNetwork): Promise<void> {
    const settings = parseBridgeOptions(network.options);
    const device = bridgeDeviceName(network.id, settings);
    await Rtnl.in(undefined, async (nl) => {
      // A bridge of the same name left by a crash mid-create is ours to reuse (the journal
      // removes it otherwise); any other existing device is a conflict.
      const existing = await nl.getLink(device);
      if (existing && existing.kind !== 'bridge') throw invalid(`cannot create bridge ${device}: a ${existing.kind ?? 'non-bridge'} device has that name`);
      const bridge = existing ?? (await nl.createBridge(device, { mtu: settings.mtu }));
      try {
        const present = new Set((await nl.listAddresses(bridge.index)).map((a) => `${a.address}/${a.prefixLength}`));
        for (const pool of network.pools) {
          if (!pool.gateway) continue;
          const cidr = `${pool.gateway}/${pool.subnet.split('/')[1]}`;
          if (pool.family === 6) {
            // The bridge's link-local address is made when the first endpoint brings carrier;
            // while it is tentative the kernel sends no neighbour solicitation for forwarded
            // traffic, so the first connections through a published port would time out.
            writeSysctl(`net.ipv6.conf.${device}.accept_dad`, '0');
            writeSysctl(`net.ipv6.conf.${device}.disable_ipv6`, '0');
            writeSysctl('net.ipv6.conf.all.forwarding', '1');
          }
          if (!present.has(cidr)) await nl.addAddress(bridge.index, cidr, { noDad: pool.family === 6 });
        }
        // 127.0.0.1:PORT mappings are DNATed to the bridge; the kernel drops such packets unless
        // the bridge accepts loopback-sourced traffic.
        writeSysctl(`net.ipv4.conf.${device}.route_localnet`, '1');
        await nl.setUp(bridge.index);
      } catch (err) {
        if (!existing) await linkReaper.delete(device);
        throw err;
      }
    });
  }

  externalConnectivity(network: DriverNetwork): ExternalConnectivity {
    const settings = parseBridgeOptions(network.options);
    return { bridge: bridgeDeviceName(network.id, settings), icc: settings.icc, masquerade: settings.masquerade, hostBindingIpv4: settings.hostBindingIpv4 };
  }

  async deleteNetwork(network: DriverNetwork): Promise<void> {
    await linkReaper.delete(deviceOf(network));
  }

  async join(network: DriverNetwork, endpoint: DriverEndpoint, sandbox: DriverSandbox): Promise<JoinResult> {
    const settings = parseBridgeOptions(network.options);
    const hostName = hostVethName(endpoint.id);
    await Rtnl.in(undefined, async (nl) => {
      const bridge = await nl.requireLink(bridgeDeviceName(network.id, settings));
      await nl.createVeth(hostName, { name: endpoint.ifName, nsPath: sandbox.nsPath, mac: endpoint.mac, mtu: settings.mtu }, { mtu: settings.mtu });
      try {
        const veth = await nl.requireLink(hostName);
        await nl.setMaster(veth.index, bridge.index);
        // Lets a sandbox reach itself through its own published port.
        await nl.setHairpin(veth.index, true);
        await nl.setUp(veth.index);
      } catch (err) {
        await linkReaper.delete(hostName);
        throw err;
      }
    });
    return poolGateways(network, endpoint);
  }

  async leave(_network: DriverNetwork, endpoint: DriverEndpoint): Promise<void> {
    // Deleting one end of a veth pair deletes the other, inside the sandbox.
    await linkReaper.delete(hostVethName(endpoint.id));
  }

  async reconcile(networks: DriverNetwork[], endpoints: DriverEndpoint[]): Promise<{ missingEndpoints: string[] }> {
    for (const network of networks) await this.createNetwork(network);
    const links = await Rtnl.in(undefined, (nl) => nl.listLinks());
    const present = new Set(links.map((l) => l.name));
    return { missingEndpoints: endpoints.filter((e) => !present.has(hostVethName(e.id))).map((e) => e.id) };
  }
}

function deviceOf(network: DriverNetwork): string {
  return bridgeDeviceName(network.id, parseBridgeOptions(network.options));
}
