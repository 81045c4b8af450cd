/**
 * A fake kernel for running the controller in-process without root (test/unit/controller-*.ts):
 * namespaces with their interfaces and default routes, and what fake drivers make on the host
 * (their networks, the host end of each endpoint's veth pair). Every call the controller makes
 * through ControllerOs or a NetworkDriver is a numbered step of a Faults plan, which can make
 * the call at a chosen step fail (libnetwork's badDriver idea) or note a crash just before it.
 */
import fs from 'node:fs';
import type { DriverEndpoint, DriverNetwork, DriverNetworkSpec, DriverSandbox, DriverScope, JoinResult, NetworkDriver } from '../../src/drivers/api';
import { poolGateways } from '../../src/drivers/gateways';
import type { ControllerOs } from '../../src/controller/os';
import type { DefaultRoute, InterfaceConfig, InterfaceState } from '../../src/os/sandbox-net';

/** The daemon's own namespace (host and handoff sandboxes), always there. */
export const DAEMON_NS = `/proc/${process.pid}/ns/net`;

interface FakeInterface {
  addresses: string[];
  up: boolean;
  /** the endpoint whose veth pair this is the inner end of (deleting one end deletes both) */
  endpointId?: string;
}

interface FakeNamespace {
  interfaces: Map<string, FakeInterface>;
  routes: { family: 4 | 6; ifName: string; gateway: string }[];
}

/** What the kernel holds, as plain data that can be copied (a crash keeps the kernel as it was). */
export class FakeKernel {
  /** the daemon's own namespace is always there */
  namespaces = new Map<string, FakeNamespace>([[DAEMON_NS, { interfaces: new Map([['lo', { addresses: ['127.0.0.1/8'], up: true }]]), routes: [] }]]);
  /** network ids the fake drivers made */
  networks = new Set<string>();
  /** endpoint id → where the inner end of its veth pair is */
  veths = new Map<string, { nsPath: string; ifName: string }>();

  clone(): FakeKernel {
    const copy = new FakeKernel();
    copy.namespaces.clear();
    for (const [path, ns] of this.namespaces) {
      copy.namespaces.set(path, { interfaces: new Map([...ns.interfaces].map(([n, i]) => [n, { ...i, addresses: [...i.addresses] }])), routes: ns.routes.map((r) => ({ ...r })) });
    }
    copy.networks = new Set(this.networks);
    copy.veths = new Map([...this.veths].map(([id, v]) => [id, { ...v }]));
    return copy;
  }

  /** A comparable picture: sorted, plain. */
  view(): unknown {
    return {
      namespaces: [...this.namespaces].sort(([a], [b]) => a.localeCompare(b)).map(([path, ns]) => ({
        path,
        interfaces: [...ns.interfaces].sort(([a], [b]) => a.localeCompare(b)).map(([name, i]) => ({ name, ...i, addresses: [...i.addresses].sort() })),
        routes: [...ns.routes].map((r) => `${r.family} via ${r.gateway} dev ${r.ifName}`).sort(),
      })),
      networks: [...this.networks].sort(),
      veths: [...this.veths].sort(([a], [b]) => a.localeCompare(b)),
    };
  }

  ns(nsPath: string): FakeNamespace {
    const ns = this.namespaces.get(nsPath);
    if (!ns) throw new Error(`ENOENT: no namespace ${nsPath}`);
    return ns;
  }

  deleteInterface(nsPath: string, ifName: string): void {
    const ns = this.namespaces.get(nsPath);
    const iface = ns?.interfaces.get(ifName);
    if (!ns || !iface) return;
    ns.interfaces.delete(ifName);
    ns.routes = ns.routes.filter((r) => r.ifName !== ifName);
    if (iface.endpointId) this.veths.delete(iface.endpointId);
  }
}

export class InjectedFailure extends Error {}

/**
 * Numbers the calls. `failAt`: that call throws (once). `onCrashPoint`: called before every call
 * with its number, so a test can copy the kernel and the store as a crash there would leave them.
 */
export class Faults {
  count = 0;
  failAt = -1;
  readonly names: string[] = [];
  onCrashPoint?: (step: number, name: string) => void;

  step(name: string): void {
    const n = this.count++;
    this.names.push(name);
    this.onCrashPoint?.(n, name);
    if (n === this.failAt) throw new InjectedFailure(`injected failure at step ${n} (${name})`);
  }

  reset(): void {
    this.count = 0;
    this.failAt = -1;
    this.names.length = 0;
    delete this.onCrashPoint;
  }
}

/** ControllerOs on the fake kernel; namespace files are real empty files, as the real mounts are. */
export function fakeOs(kernel: () => FakeKernel, faults: Faults): ControllerOs {
  return {
    createNetns(nsPath) {
      faults.step(`createNetns ${nsPath}`);
      const k = kernel();
      if (k.namespaces.has(nsPath)) throw new Error(`EEXIST: namespace ${nsPath}`);
      fs.writeFileSync(nsPath, '');
      k.namespaces.set(nsPath, { interfaces: new Map([['lo', { addresses: ['127.0.0.1/8'], up: true }]]), routes: [] });
    },
    deleteNetns(nsPath) {
      faults.step(`deleteNetns ${nsPath}`);
      const k = kernel();
      const ns = k.namespaces.get(nsPath);
      for (const name of ns ? [...ns.interfaces.keys()] : []) k.deleteInterface(nsPath, name);
      k.namespaces.delete(nsPath);
      fs.rmSync(nsPath, { force: true });
    },
    namespaceAlive: (nsPath) => nsPath === DAEMON_NS || kernel().namespaces.has(nsPath),
    async configureInterface(nsPath: string, cfg: InterfaceConfig) {
      faults.step(`configureInterface ${cfg.ifName}`);
      const iface = kernel().ns(nsPath).interfaces.get(cfg.ifName);
      if (!iface) throw new Error(`ENODEV: ${cfg.ifName} in ${nsPath}`);
      for (const a of cfg.addresses) if (!iface.addresses.includes(a)) iface.addresses.push(a);
      iface.up = true;
    },
    async deleteInterfaces(nsPath, names) {
      faults.step(`deleteInterfaces ${names.join(',')}`);
      kernel().ns(nsPath);
      for (const name of names) kernel().deleteInterface(nsPath, name);
    },
    async listInterfaces(nsPath) {
      faults.step('listInterfaces');
      return [...kernel().ns(nsPath).interfaces.keys()];
    },
    async addDefaultRoutes(nsPath: string, routes: DefaultRoute[]) {
      faults.step('addDefaultRoutes');
      const ns = kernel().ns(nsPath);
      for (const r of routes) {
        if (!ns.interfaces.has(r.ifName)) throw new Error(`ENODEV: ${r.ifName}`);
        const family = r.gateway.includes(':') ? 6 : 4;
        if (!ns.routes.some((x) => x.family === family)) ns.routes.push({ family, ifName: r.ifName, gateway: r.gateway });
      }
    },
    async deleteDefaultRoutes(nsPath: string, routes: DefaultRoute[]) {
      faults.step('deleteDefaultRoutes');
      const ns = kernel().ns(nsPath);
      ns.routes = ns.routes.filter((x) => !routes.some((r) => r.ifName === x.ifName && r.gateway === x.gateway));
    },
    async hasDefaultRoute(nsPath, family) {
      faults.step('hasDefaultRoute');
      return kernel().ns(nsPath).routes.some((r) => r.family === family);
    },
    async bringLoopbackUp(nsPath) {
      faults.step('bringLoopbackUp');
      kernel().ns(nsPath);
    },
    async interfaceState(nsPath: string, ifName: string): Promise<InterfaceState | undefined> {
      const iface = kernel().namespaces.get(nsPath)?.interfaces.get(ifName);
      return iface && { up: iface.up, addresses: [...iface.addresses] } as InterfaceState;
    },
    hostRoutes: async () => [],
  };
}

export interface FakeDriverOptions {
  name: string;
  scope?: DriverScope;
  hasInterface?: boolean;
  usesIpam?: boolean;
  needsGatewayBridge?: boolean;
  predefinedNetwork?: DriverNetworkSpec & { default?: boolean };
  gatewayBridgeNetwork?: DriverNetworkSpec;
  /** no default route through its endpoints (an overlay's) */
  noGateway?: boolean;
}

/** A driver doing veth-like work on the fake kernel, each call in two steps where it can half-fail. */
export class FakeDriver implements NetworkDriver {
  readonly name: string;
  readonly scope: DriverScope;
  readonly serviceDiscovery = true;
  readonly needsGateway: boolean;
  readonly singleton = false;
  readonly hasInterface: boolean;
  readonly usesIpam: boolean;
  readonly sandboxNamespace = 'own' as const;
  readonly exclusive = false;
  readonly runtimeAttachable = true;
  readonly needsGatewayBridge: boolean;
  readonly predefinedNetwork?: DriverNetworkSpec & { default?: boolean };
  readonly gatewayBridgeNetwork?: DriverNetworkSpec;
  private readonly noGateway: boolean;

  constructor(
    opts: FakeDriverOptions,
    private readonly kernel: () => FakeKernel,
    private readonly faults: Faults,
  ) {
    this.name = opts.name;
    this.scope = opts.scope ?? 'local';
    this.hasInterface = opts.hasInterface ?? true;
    this.usesIpam = opts.usesIpam ?? true;
    this.needsGateway = this.usesIpam;
    this.needsGatewayBridge = Boolean(opts.needsGatewayBridge);
    this.noGateway = Boolean(opts.noGateway);
    if (opts.predefinedNetwork) this.predefinedNetwork = opts.predefinedNetwork;
    if (opts.gatewayBridgeNetwork) this.gatewayBridgeNetwork = opts.gatewayBridgeNetwork;
  }

  validateOptions(): void {}

  async createNetwork(network: DriverNetwork): Promise<void> {
    this.faults.step(`${this.name}.createNetwork ${network.name}`);
    this.kernel().networks.add(network.id);
  }

  async deleteNetwork(network: DriverNetwork): Promise<void> {
    this.faults.step(`${this.name}.deleteNetwork ${network.name}`);
    this.kernel().networks.delete(network.id);
  }

  async join(network: DriverNetwork, endpoint: DriverEndpoint, sandbox: DriverSandbox): Promise<JoinResult> {
    this.faults.step(`${this.name}.join ${network.name}: host end`);
    const k = this.kernel();
    if (!k.networks.has(network.id)) throw new Error(`network ${network.name} has no bridge`);
    if (!this.hasInterface) return {};
    if (k.veths.has(endpoint.id)) throw new Error(`EEXIST: veth of ${endpoint.id}`);
    k.veths.set(endpoint.id, { nsPath: sandbox.nsPath, ifName: endpoint.ifName });
    this.faults.step(`${this.name}.join ${network.name}: inner end ${endpoint.ifName}`);
    const ns = k.ns(sandbox.nsPath);
    if (ns.interfaces.has(endpoint.ifName)) throw new Error(`EEXIST: ${endpoint.ifName} in ${sandbox.nsPath}`);
    ns.interfaces.set(endpoint.ifName, { addresses: [], up: false, endpointId: endpoint.id });
    return this.noGateway ? {} : poolGateways(network, endpoint);
  }

  /** Deleting the host end deletes the inner one, wherever it is; whatever is gone is fine. */
  async leave(network: DriverNetwork, endpoint: DriverEndpoint): Promise<void> {
    this.faults.step(`${this.name}.leave ${network.name}`);
    const k = this.kernel();
    const veth = k.veths.get(endpoint.id);
    if (!veth) return;
    k.veths.delete(endpoint.id);
    const ns = k.namespaces.get(veth.nsPath);
    if (ns?.interfaces.get(veth.ifName)?.endpointId === endpoint.id) k.deleteInterface(veth.nsPath, veth.ifName);
  }

  async reconcile(networks: DriverNetwork[], endpoints: DriverEndpoint[]): Promise<{ missingEndpoints: string[] }> {
    this.faults.step(`${this.name}.reconcile`);
    const k = this.kernel();
    for (const n of networks) k.networks.add(n.id);
    return { missingEndpoints: endpoints.filter((e) => this.hasInterface && !k.veths.has(e.id)).map((e) => e.id) };
  }
}
