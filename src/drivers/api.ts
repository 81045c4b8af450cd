/**
 * The driver contract (after libnetwork's driverapi): the controller decides what exists and
 * hands drivers ids and plain data; drivers do the kernel work and report what they made.
 * A driver never calls IPAM, NAT or the resolver.
 */
import type { PoolConfig } from '../ipam';

/** What a driver is told about a network. Addresses were already chosen by IPAM. */
export interface DriverNetwork {
  id: string;
  name: string;
  /** -o key=value as given, validated by the driver's validateOptions */
  options: Record<string, string>;
  pools: PoolConfig[];
  internal: boolean;
  ipv6: boolean;
}

/** An endpoint to plug into a sandbox: the interface gets `ifName` inside the namespace. */
export interface DriverEndpoint {
  id: string;
  networkId: string;
  /** Interface name inside the sandbox (eth0, eth1...) */
  ifName: string;
  mac: string;
  /** CIDR (address/prefix), when the endpoint has one */
  ipv4?: string;
  ipv6?: string;
  driverOptions: Record<string, string>;
}

export interface DriverSandbox {
  id: string;
  nsPath: string;
}

/**
 * What join reports back: where the sandbox's default route goes through this endpoint, per
 * family; none when the network has no way out of its own (internal, isolated, overlay). The
 * controller records it with the endpoint and routes by it.
 */
export interface JoinResult {
  gatewayV4?: string;
  gatewayV6?: string;
}

/** A network the daemon makes for a driver: its predefined one, or the gateway bridge. */
export interface DriverNetworkSpec {
  name: string;
  options?: Record<string, string>;
}

export type DriverScope = 'local' | 'global';

/**
 * How a network reaches beyond the host, for drivers whose sandboxes go out through NAT on a
 * bridge (libnetwork's ExtConner): what the NAT service needs to know about the network.
 */
export interface ExternalConnectivity {
  /** the Linux bridge carrying the network */
  bridge: string;
  icc: boolean;
  masquerade: boolean;
  /** where ports published without a host address are bound (com.docker.network.bridge.host_binding_ipv4) */
  hostBindingIpv4: string;
}

/** An endpoint of the same network on another host (global-scope drivers). */
export interface RemotePeer {
  endpointId: string;
  mac: string;
  /** address/prefix */
  ipv4?: string;
  ipv6?: string;
  /** the other host's underlay address */
  vtep: string;
}

export interface NetworkDriver {
  readonly name: string;
  readonly scope: DriverScope;
  /** Whether sandboxes on its networks get the embedded DNS (user-defined networks). */
  readonly serviceDiscovery: boolean;
  /** Whether the driver's networks need a gateway address from IPAM. */
  readonly needsGateway: boolean;
  /** Only one network of this driver can exist, created by the daemon (host, none). */
  readonly singleton: boolean;
  /** Whether an endpoint is an interface in the sandbox; without, it is a record only (host, none). */
  readonly hasInterface: boolean;
  /** Whether its networks get subnets, and its endpoints addresses, from IPAM. */
  readonly usesIpam: boolean;
  /**
   * Where a sandbox whose network mode this network is lives: a namespace of its own, or the
   * daemon's (host). A sandbox in the daemon's namespace is connected to no other network, and
   * none is connected to or disconnected from such a network after creation.
   */
  readonly sandboxNamespace: 'own' | 'daemon';
  /** A sandbox on a network of this driver is on no other network (none). */
  readonly exclusive: boolean;
  /** Whether its endpoints can join a namespace a container runtime made (the CNI plugin). */
  readonly runtimeAttachable: boolean;
  /**
   * The network the daemon creates for this driver at start and never removes (bridge, host,
   * none); the one marked default is where sandboxes go without a network mode, and its driver
   * is the default of `network create`.
   */
  readonly predefinedNetwork?: DriverNetworkSpec & { default?: boolean };
  /** The local network this driver makes on demand for drivers with needsGatewayBridge. */
  readonly gatewayBridgeNetwork?: DriverNetworkSpec;

  /** Rejects unknown or bad -o options with a message naming them. Pure. */
  validateOptions(options: Record<string, string>, ctx: { ipv6: boolean; internal: boolean }): void;
  /**
   * Names of aux addresses the driver needs in each of a network's subnets for itself (macvlan's
   * host_access shim). For any the user did not give (`--aux-address NAME=IP`), the controller
   * has IPAM pick and reserve one before createNetwork; the driver reads them from its pools and
   * never calls IPAM. Pure.
   */
  ownAddresses?(options: Record<string, string>): string[];
  /** Checks conflicts with other networks of the same driver (e.g. one macvlan per parent). */
  checkConflicts?(network: DriverNetwork, others: DriverNetwork[]): void;

  createNetwork(network: DriverNetwork): Promise<void>;
  deleteNetwork(network: DriverNetwork): Promise<void>;
  /** Creates the interface inside the sandbox namespace as endpoint.ifName, with its MAC. */
  join(network: DriverNetwork, endpoint: DriverEndpoint, sandbox: DriverSandbox): Promise<JoinResult>;
  /** Removes what join made; must succeed if join half-failed or the objects are gone. */
  leave(network: DriverNetwork, endpoint: DriverEndpoint, sandbox: DriverSandbox): Promise<void>;

  /**
   * True when the network reaches nothing beyond its sandboxes although it is not --internal
   * (a macvlan network without a parent): no default route goes through it, as for --internal.
   */
  isolated?(network: DriverNetwork): boolean;

  /**
   * Global-scope drivers: the network's endpoints on other hosts, in full, after every change
   * the cluster store reports (a host joining, leaving or dying). The driver programs its data
   * plane (forwarding/neighbour entries) to match.
   */
  setPeers?(network: DriverNetwork, peers: RemotePeer[]): Promise<void>;

  /**
   * A driver whose networks have no way out of their own (overlay): the controller also joins
   * its sandboxes to a local gateway bridge network (Docker's docker_gwbridge), which carries
   * their default route, masquerade and published ports.
   */
  readonly needsGatewayBridge?: boolean;

  /** Present for drivers whose networks use NAT (published ports, masquerade, isolation). */
  externalConnectivity?(network: DriverNetwork): ExternalConnectivity;

  /**
   * Start-up reconciliation: make the kernel match the given networks/endpoints, removing
   * this daemon's objects that belong to none of them (left by a crash mid-operation).
   * Returns the endpoints whose kernel objects are missing so the controller can re-join them.
   */
  reconcile?(networks: DriverNetwork[], endpoints: DriverEndpoint[]): Promise<{ missingEndpoints: string[] }>;
}
