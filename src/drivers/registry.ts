/** Drivers by name, and the names Docker users may type that cnm cannot serve here. */
import { CnmError } from '../errors';
import type { NetworkDriver } from './api';

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
}
