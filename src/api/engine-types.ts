/**
 * Docker Engine API (v1.41) JSON shapes that cnm speaks, for networks and for sandboxes shown
 * as containers. Field names and order are Docker's: the docker CLI and dockerode decode them, and
 * `cnm ... --format` templates address them. Only what cnm fills is typed; Docker's optional
 * fields that cnm never sets are left out.
 */

export interface IPAMConfigEntry {
  Subnet: string;
  IPRange?: string;
  Gateway?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

export interface IPAM {
  Driver: string;
  Options: Record<string, string> | null;
  Config: IPAMConfigEntry[];
}

export interface NetworkContainer {
  Name: string;
  EndpointID: string;
  MacAddress: string;
  IPv4Address: string;
  IPv6Address: string;
}

export interface NetworkResource {
  Name: string;
  Id: string;
  Created: string; // RFC 3339 with nanoseconds
  Scope: 'local' | 'global' | 'swarm';
  Driver: string;
  EnableIPv6: boolean;
  IPAM: IPAM;
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Containers: Record<string, NetworkContainer>;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

/** POST /networks/create body. */
export interface NetworkCreateRequest {
  Name: string;
  CheckDuplicate?: boolean;
  Driver?: string;
  Scope?: string;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  EnableIPv6?: boolean;
  IPAM?: { Driver?: string; Options?: Record<string, string> | null; Config?: IPAMConfigEntry[] | null };
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
  ConfigOnly?: boolean;
  ConfigFrom?: { Network: string } | null;
}

export interface NetworkCreateResponse {
  Id: string;
  Warning: string;
}

export interface EndpointIPAMConfig {
  IPv4Address?: string;
  IPv6Address?: string;
  LinkLocalIPs?: string[];
}

/** Per-network settings of a container, in requests (connect, create) and in inspect output. */
export interface EndpointSettings {
  IPAMConfig: EndpointIPAMConfig | null;
  Links: string[] | null;
  Aliases: string[] | null;
  NetworkID: string;
  EndpointID: string;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  MacAddress: string;
  DriverOpts: Record<string, string> | null;
}

export interface NetworkConnectRequest {
  Container: string;
  EndpointConfig?: Partial<EndpointSettings> | null;
}

export interface NetworkDisconnectRequest {
  Container: string;
  Force?: boolean;
}

export interface PortBinding {
  HostIp: string;
  HostPort: string;
}

/** "80/tcp" → bindings; null when exposed but not published. */
export type PortMap = Record<string, PortBinding[] | null>;

export interface ContainerState {
  Status: 'created' | 'running' | 'exited' | 'removing' | 'dead';
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
}

export interface ContainerConfig {
  Hostname: string;
  Domainname: string;
  Cmd: string[];
  WorkingDir?: string;
  Env?: string[] | null;
  Tty: boolean;
  OpenStdin: boolean;
  Labels: Record<string, string>;
  ExposedPorts?: Record<string, Record<string, never>>;
}

export interface HostConfig {
  NetworkMode: string;
  PortBindings: PortMap;
  Dns: string[];
  DnsSearch: string[];
  DnsOptions: string[];
  ExtraHosts: string[] | null;
  AutoRemove: boolean;
}

export interface NetworkSettings {
  Bridge: string;
  SandboxID: string;
  SandboxKey: string;
  Ports: PortMap;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  MacAddress: string;
  Networks: Record<string, EndpointSettings>;
}

/** GET /containers/{id}/json */
export interface ContainerJSON {
  Id: string;
  Created: string;
  Path: string;
  Args: string[];
  State: ContainerState;
  Image: string;
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  Name: string; // "/name"
  RestartCount: number;
  Driver: string;
  Platform: string;
  HostConfig: HostConfig;
  Config: ContainerConfig;
  NetworkSettings: NetworkSettings;
}

export interface ContainerPort {
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: 'tcp' | 'udp' | 'sctp';
}

/** GET /containers/json entries. */
export interface ContainerSummary {
  Id: string;
  Names: string[]; // ["/name"]
  Image: string;
  ImageID: string;
  Command: string;
  Created: number; // unix seconds
  Ports: ContainerPort[];
  Labels: Record<string, string>;
  State: ContainerState['Status'];
  Status: string; // "Up 5 minutes", "Exited (0) 2 minutes ago"
  HostConfig: { NetworkMode: string };
  NetworkSettings: { Networks: Record<string, EndpointSettings> };
}

/** Every error body. */
export interface ErrorResponse {
  message: string;
}

/** cnm's own: POST /cnm/networks/{id}/aliases (see src/api/README.md). */
export interface AliasChangeRequest {
  Container: string;
  Add?: string[];
  Remove?: string[];
}

/** The endpoint's aliases afterwards, as container inspect shows them. */
export interface AliasChangeResponse {
  Aliases: string[] | null;
}
