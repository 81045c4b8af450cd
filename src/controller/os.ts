/**
 * The kernel work the controller does itself (drivers do the rest): namespaces, and the
 * addresses, routes and interfaces inside them. Behind an interface so that the unit tests run
 * the controller in-process, without root, against a fake kernel (test/helpers/fake-kernel.ts).
 */
import fs from 'node:fs';
import { createNetns, deleteNetns, isNetnsMount } from '../os/native';
import { Rtnl } from '../os/links';
import type { DefaultRoute, InterfaceConfig, InterfaceState } from '../os/sandbox-net';
import { addDefaultRoutes, bringLoopbackUp, configureInterface, deleteInterfaces, hasDefaultRoute, interfaceState, listInterfaces } from '../os/sandbox-net';

export interface ControllerOs {
  createNetns(nsPath: string): void;
  /** Idempotent: a namespace already gone is fine. */
  deleteNetns(nsPath: string): void;
  /** Whether the path names a live namespace: a namespace file cnm mounted, or a /proc one. */
  namespaceAlive(nsPath: string): boolean;
  configureInterface(nsPath: string, cfg: InterfaceConfig): Promise<void>;
  /** Idempotent: interfaces already gone are fine. */
  deleteInterfaces(nsPath: string, names: string[]): Promise<void>;
  listInterfaces(nsPath: string): Promise<string[]>;
  addDefaultRoutes(nsPath: string, routes: DefaultRoute[]): Promise<void>;
  /** Idempotent: routes or interfaces already gone are fine. */
  deleteDefaultRoutes(nsPath: string, routes: DefaultRoute[]): Promise<void>;
  hasDefaultRoute(nsPath: string, family: 4 | 6): Promise<boolean>;
  bringLoopbackUp(nsPath: string): Promise<void>;
  interfaceState(nsPath: string, ifName: string): Promise<InterfaceState | undefined>;
  /** The host's routed prefixes, which automatic pools must not overlap. */
  hostRoutes(): Promise<string[]>;
}

export const linuxOs: ControllerOs = {
  createNetns,
  deleteNetns,
  namespaceAlive: (nsPath) => (nsPath.startsWith('/proc/') ? fs.existsSync(nsPath) : isNetnsMount(nsPath)),
  configureInterface,
  deleteInterfaces,
  listInterfaces: async (nsPath) => (await listInterfaces(nsPath)).map((l) => l.name),
  addDefaultRoutes,
  deleteDefaultRoutes: (nsPath, routes) =>
    Rtnl.in(nsPath, async (nl) => {
      for (const r of routes) {
        const link = await nl.getLink(r.ifName);
        if (link) await nl.deleteRoute({ gateway: r.gateway, device: link.index });
      }
    }),
  hasDefaultRoute,
  bringLoopbackUp,
  interfaceState,
  hostRoutes: () => Rtnl.in(undefined, (nl) => nl.listRouteDestinations()),
};
