/**
 * The CNM objects as the controller keeps and persists them. Plain data only: records are
 * JSON-serialisable and immutable once stored (changes replace the record).
 */
import type { PoolConfig } from '../ipam';

export interface NetworkRecord {
  id: string;
  name: string;
  driver: string;
  scope: 'local' | 'global';
  /** RFC 3339 with nanoseconds, as Docker prints it */
  created: string;
  enableIPv6: boolean;
  internal: boolean;
  attachable: boolean;
  ipamDriver: string;
  ipamOptions: Record<string, string> | null;
  pools: PoolConfig[];
  options: Record<string, string>;
  labels: Record<string, string>;
  /** bridge, host and none: created by the daemon, never removable */
  predefined: boolean;
}

/** How a sandbox gets its network namespace. */
export type SandboxMode =
  | { kind: 'own' } // its own namespace (bridge, user networks, none)
  | { kind: 'host' } // the daemon's namespace
  | { kind: 'container'; sandboxId: string } // another sandbox's namespace
  | AttachedMode // a container runtime's namespace (CNI), never cnm's to create or delete
  | HandoffMode; // a Docker endpoint: the interface is made in the daemon's namespace for dockerd to move

/**
 * A namespace a runtime made and handed cnm through the CNI plugin. The path may be a
 * /proc/PID/ns/net (ctr): the inode tells whether the path still names the same namespace.
 */
export interface AttachedMode {
  kind: 'attached';
  nsPath: string;
  /** st_dev:st_ino of the namespace at ADD */
  nsIdentity: string;
  /** the runtime's CNI_CONTAINERID */
  containerId: string;
}

/**
 * An endpoint of Docker's remote network driver protocol: cnm makes the interface in the
 * daemon's (and dockerd's) namespace under a temporary name, and libnetwork moves it into the
 * container, renames it and gives it its addresses and routes. cnm never sees the container.
 */
export interface HandoffMode {
  kind: 'handoff';
  /** Docker's network and endpoint ids */
  dockerNetworkId: string;
  dockerEndpointId: string;
}

export interface ProcessState {
  status: 'created' | 'running' | 'exited';
  pid: number;
  /** /proc/PID/stat field 22, so a recycled pid is not mistaken for ours */
  startTicks: number;
  exitCode: number;
  startedAt: string;
  finishedAt: string;
}

/** One -p request, as parsed (src/nat/publish.ts): a host port range of 0-0 is ephemeral. */
export interface PublishedPortRequest {
  proto: 'tcp' | 'udp';
  containerPort: number;
  /** '' = every address (or the network's host_binding_ipv4) */
  hostIp: string;
  hostPortStart: number;
  hostPortEnd: number;
}

export interface SandboxRecord {
  id: string;
  name: string;
  hostname: string;
  domainname: string;
  created: string;
  mode: SandboxMode;
  /** HostConfig.NetworkMode as the user asked: default, bridge, host, none, container:ID, or a network name */
  networkMode: string;
  /** Counter for eth<N>: never reset, as in Docker */
  nextInterface: number;
  dns: { servers: string[]; search: string[]; options: string[] };
  extraHosts: string[];
  cmd: string[];
  /** the program's working directory (WorkingDir, -w); absent in records older than it: "/" */
  workingDir?: string;
  /** variables added to the program's environment (Env, -e), NAME=VALUE */
  env?: string[];
  /** the terminal's size at create (HostConfig.ConsoleSize: rows, columns), so a -t program starts with it */
  consoleSize?: [number, number];
  tty: boolean;
  openStdin: boolean;
  autoRemove: boolean;
  labels: Record<string, string>;
  publish: PublishedPortRequest[];
  process: ProcessState;
}

export interface PortBindingRecord {
  proto: 'tcp' | 'udp';
  containerPort: number;
  hostIp: string;
  hostPort: number;
}

export interface EndpointRecord {
  id: string;
  networkId: string;
  sandboxId: string;
  /** eth0, eth1...; empty for host/none endpoints, which have no interface */
  ifName: string;
  mac: string;
  /** address/prefix */
  ipv4: string;
  ipv6: string;
  /** what the user asked for (IPAMConfig), kept to re-create the endpoint identically */
  staticIpv4: string;
  staticIpv6: string;
  aliases: string[];
  driverOptions: Record<string, string>;
  ports: PortBindingRecord[];
  /** connect order within the sandbox */
  seq: number;
  /**
   * Where the sandbox's default route goes through this endpoint, as the driver's join said;
   * absent when the network has no way out of its own (and in records older than the field).
   */
  gatewayV4?: string;
  gatewayV6?: string;
}
