/**
 * The global-scope store that overlay networks share across hosts (etcd in production). The
 * controller is its only user: drivers never see it. Everything here carries a deadline: with
 * quorum lost, calls fail with CnmError('unavailable') instead of hanging.
 */
import type { NetworkRecord } from '../controller/model';
import type { PoolConfig } from '../ipam';

/** A host of the cluster, alive while its lease is. */
export interface ClusterHost {
  id: string;
  /** underlay address other hosts send VXLAN traffic to (cnmd --cluster-advertise) */
  advertise: string;
}

/** An endpoint on a global network, as every host sees it. */
export interface ClusterEndpoint {
  id: string;
  networkId: string;
  sandboxId: string;
  /** DNS names: sandbox name, short id, hostname, aliases (first = PTR target) */
  names: string[];
  /** address/prefix; '' when none */
  ipv4: string;
  ipv6: string;
  mac: string;
  hostId: string;
}

export interface ClusterSnapshot {
  networks: NetworkRecord[];
  endpoints: ClusterEndpoint[];
  hosts: ClusterHost[];
}

export interface ClusterStore {
  readonly host: ClusterHost;

  /** Connects, takes this host's lease (kept alive while the daemon runs) and starts watching. */
  start(): Promise<void>;
  /** The last state seen through the watch (networks, endpoints of live hosts, live hosts). */
  snapshot(): ClusterSnapshot;
  /** Called after every change seen through the watch, with the new snapshot. */
  onChange(listener: (snapshot: ClusterSnapshot) => void): void;

  /**
   * Creates a global network atomically: its name unused by any other global network
   * (CnmError 'conflict' "network with name X already exists"), its subnets unused by any other
   * global network (CnmError 'forbidden' "Pool overlaps with other one on this address space"),
   * and a VXLAN id of its own. Returns the record as stored, with the VXLAN id in its options
   * under `com.docker.network.driver.overlay.vxlanid_list` (as Docker shows it).
   */
  createNetwork(network: NetworkRecord): Promise<NetworkRecord>;
  /**
   * Removes a global network; refused (CnmError 'forbidden') while any host has endpoints on it
   * or holds it.
   */
  deleteNetwork(networkId: string): Promise<void>;
  /**
   * A hold: something outside cnm on this host uses the network (a dockerd's network, through the
   * Docker plugin) and it must stay until released, even with no endpoint. Not under the lease:
   * dockerd keeps its networks across cnmd restarts. Refused (CnmError 'notFound') when the
   * network is gone. Idempotent.
   */
  holdNetwork(networkId: string, holderId: string): Promise<void>;
  /** Idempotent. */
  releaseNetwork(networkId: string, holderId: string): Promise<void>;
  /** Subnets of every global network, for choosing an automatic one that overlaps none. */
  usedSubnets(): Promise<string[]>;

  /**
   * Reserves an address cluster-wide: `preferred` if given (CnmError 'forbidden' "Address already
   * in use" when taken), else the lowest free one of the pool. Reservations belong to this host's
   * lease: they vanish if the host dies.
   */
  requestAddress(networkId: string, pool: PoolConfig, preferred?: string): Promise<string>;
  releaseAddress(networkId: string, address: string): Promise<void>;
  /** Re-claims addresses this host held before a restart; returns the ones another host took meanwhile. */
  reclaimAddresses(networkId: string, addresses: string[]): Promise<string[]>;

  /** Publishes (or replaces) one of this host's endpoints, under this host's lease. */
  publishEndpoint(endpoint: ClusterEndpoint): Promise<void>;
  withdrawEndpoint(networkId: string, endpointId: string): Promise<void>;

  /** Revokes the lease (this host's endpoints and addresses vanish) when asked, and disconnects. */
  close(opts?: { revoke?: boolean }): Promise<void>;
}
