/** Where a sandbox's default route goes through an endpoint on a routed network. */
import type { DriverEndpoint, DriverNetwork, JoinResult } from './api';

/** The subnets' gateways, for the families the endpoint has an address of; none on --internal. */
export function poolGateways(network: DriverNetwork, endpoint: DriverEndpoint): JoinResult {
  const result: JoinResult = {};
  if (network.internal) return result;
  for (const pool of network.pools) {
    if (!pool.gateway) continue;
    if (pool.family === 4 && endpoint.ipv4) result.gatewayV4 ??= pool.gateway;
    if (pool.family === 6 && endpoint.ipv6) result.gatewayV6 ??= pool.gateway;
  }
  return result;
}
