/**
 * cnm's NAT layer: masquerade, published ports, isolation, on nftables (one `inet cnm` table).
 *
 * How the controller uses it:
 *
 *   // once, at daemon start (netnsPath: the namespace the bridges live in; omit for the daemon's)
 *   const ports = new PortAllocator({ reserver: socketReserver(netnsPath) });
 *   const firewall = Firewall.open({ netnsPath, onRestore: (r) => log(r) });
 *   await firewall.apply(stateFromStore());          // re-applies everything after a restart
 *
 *   // endpoint join with `-p` specs
 *   const requests = specs.flatMap(parsePublish);     // CnmError('invalid') with Docker's text
 *   const bindings = ports.allocate(endpointId, requests, { ipv4, ipv6 }); // all or nothing
 *   await firewall.apply(nextState);                  // NatState with natMappings(bindings, network)
 *   // on failure: ports.release(endpointId)
 *
 *   // endpoint leave: ports.release(endpointId); await firewall.apply(nextState)
 *   // daemon stop: ports.releaseAll(); await firewall.teardown()   (or firewall.close() to keep rules)
 *
 * apply() takes the whole desired state every time and replaces the table atomically, in a few
 * ms (≈9 ms with 100 published ports, ≈23 ms with 1,000 on the shared test machine: bench/nat). The kernel settings the rules rely on
 * (ip_forward, route_localnet on bridges, hairpin on bridge ports) are the bridge driver's: see
 * the header of ./ruleset.ts.
 */
export type { NatNetwork, NatPortMapping, NatProto, NatState } from './state';
export { Firewall, type FirewallOptions } from './firewall';
export { NftError } from './nft';
export { renderRuleset, renderTeardown, DEFAULT_TABLE } from './ruleset';
export { parsePortBindings, parsePublish, type PortRequest } from './publish';
export {
  PortAllocator,
  natMappings,
  socketReserver,
  type ContainerAddresses,
  type PortAllocatorOptions,
  type PortBinding,
  type PortReserver,
  type Reservation,
} from './ports';
