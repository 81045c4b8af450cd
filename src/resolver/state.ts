/**
 * The contract between the controller and the resolver: the complete desired DNS state as plain
 * data. The controller pushes a fresh copy on every change (`Resolver.update`); the resolver
 * works out the difference itself.
 */

export interface DnsEndpoint {
  /** The sandbox this endpoint belongs to (one endpoint per sandbox and network). */
  readonly sandboxId: string;
  /** Container name, short id, hostname, aliases... The first one is the PTR target. */
  readonly names: readonly string[];
  readonly ipv4?: string;
  readonly ipv6?: string;
}

export interface DnsNetwork {
  readonly id: string;
  /** Qualifies names: `name.network`. */
  readonly name: string;
  /** Sandboxes whose networks are all internal never get forwarded answers. */
  readonly internal: boolean;
  readonly endpoints: readonly DnsEndpoint[];
}

export interface DnsSandbox {
  readonly id: string;
  /** The sandbox's network namespace; the resolver listens on 127.0.0.11:53 inside it. */
  readonly nsPath: string;
  /** Networks whose names the sandbox sees, in connect order (the first holder of a name wins). */
  readonly networkIds: readonly string[];
  /** Only when the user set it (`--dns-option ndots:N`); see docker-behaviour.md §4.4. */
  readonly ndots?: number;
}

/** Sandboxes listed here are on at least one DNS-enabled (user-defined) network. */
export interface DnsState {
  readonly networks: readonly DnsNetwork[];
  readonly sandboxes: readonly DnsSandbox[];
}
