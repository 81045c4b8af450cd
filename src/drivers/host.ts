/**
 * host and null ("none"): no kernel work. A host sandbox lives in the daemon's own namespace; a
 * none sandbox has a namespace with only lo. Their endpoints exist only as records, so that
 * network inspect lists the sandbox, as Docker does.
 */
import { invalid } from '../errors';
import type { JoinResult, NetworkDriver } from './api';

abstract class NoKernelDriver implements NetworkDriver {
  abstract readonly name: string;
  readonly scope = 'local' as const;
  readonly serviceDiscovery = false;
  readonly needsGateway = false;
  readonly singleton = true;
  readonly hasInterface = false;
  readonly usesIpam = false;
  readonly runtimeAttachable = false;
  abstract readonly sandboxNamespace: 'own' | 'daemon';
  abstract readonly exclusive: boolean;

  validateOptions(options: Record<string, string>): void {
    const keys = Object.keys(options);
    if (keys.length) throw invalid(`driver ${this.name} takes no options (got ${keys.join(', ')})`);
  }

  async createNetwork(): Promise<void> {}
  async deleteNetwork(): Promise<void> {}
  async join(): Promise<JoinResult> {
    return {};
  }
  async leave(): Promise<void> {}
}

export class HostDriver extends NoKernelDriver {
  readonly name = 'host';
  readonly sandboxNamespace = 'daemon' as const;
  readonly exclusive = false;
  readonly predefinedNetwork = { name: 'host' };
}

/** "none": a sandbox with only lo, on no other network. */
export class NullDriver extends NoKernelDriver {
  readonly name = 'null';
  readonly sandboxNamespace = 'own' as const;
  readonly exclusive = true;
  readonly predefinedNetwork = { name: 'none' };
}
