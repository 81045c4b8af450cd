/** Drivers by name, and the names Docker users may type that cnm cannot serve here. */
import { CnmError } from '../errors';
import type { DriverNetworkSpec, NetworkDriver } from './api';

/** A network the daemon makes itself, with the driver that declared it. */
export interface DeclaredNetwork {
  driver: NetworkDriver;
  spec: DriverNetworkSpec;
}

export class DriverRegistry {
  private readonly drivers = new Map<string, NetworkDriver>();
  /** Drivers that exist but need something this daemon was not started with. */
  private readonly unavailable = new Map<string, string>();

  register(driver: NetworkDriver): void {
    this.drivers.set(driver.name, driver);
    this.unavailable.delete(driver.name);
  }

  markUnavailable(name: string, reason: string): void {
    if (!this.drivers.has(name)) this.unavailable.set(name, reason);
  }

  /** The driver for a network create request, with Docker's errors for the others. */
  forCreate(name: string): NetworkDriver {
    const driver = this.drivers.get(name);
    if (driver) {
      if (driver.singleton) throw new CnmError('forbidden', `only one instance of "${name}" network is allowed`);
      return driver;
    }
    const reason = this.unavailable.get(name);
    if (reason) throw new CnmError('unavailable', reason);
    throw new CnmError('notFound', `plugin "${name}" not found`);
  }

  /** The driver of an existing network. */
  get(name: string): NetworkDriver {
    const driver = this.drivers.get(name);
    if (!driver) throw new CnmError('internal', `network driver ${name} is not loaded`);
    return driver;
  }

  all(): NetworkDriver[] {
    return [...this.drivers.values()];
  }

  /** The networks the drivers have the daemon create at start, in registration order. */
  predefinedNetworks(): (DeclaredNetwork & { default: boolean })[] {
    return this.all().flatMap((driver) => (driver.predefinedNetwork ? [{ driver, spec: driver.predefinedNetwork, default: Boolean(driver.predefinedNetwork.default) }] : []));
  }

  /** Where sandboxes go without a network mode; its driver is the default of network create. */
  defaultNetwork(): DeclaredNetwork {
    const found = this.predefinedNetworks().find((p) => p.default);
    if (!found) throw new CnmError('internal', 'no network driver declares the default network');
    return found;
  }

  /** The local network that drivers with needsGatewayBridge have their sandboxes join, if a driver provides one. */
  gatewayBridge(): DeclaredNetwork | undefined {
    const driver = this.all().find((d) => d.gatewayBridgeNetwork);
    return driver && { driver, spec: driver.gatewayBridgeNetwork! };
  }
}
