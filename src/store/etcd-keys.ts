/**
 * Where the cluster store keeps each global-scope object in etcd, below one prefix (the
 * client's namespace), and what a key read back from a watch is. Pure.
 *
 *   hosts/<hostId>                        {id, advertise}            under the host's lease
 *   networks/<networkId>                  NetworkRecord (with its VNI option)
 *   guards/networks                       touched by every network create/delete
 *   guards/members/<networkId>            touched by every endpoint publish on the network
 *   addresses/<networkId>/<address>       {hostId, token}            under the holder's lease
 *   endpoints/<networkId>/<endpointId>    ClusterEndpoint            under the host's lease
 *   holds/<networkId>/<holderId>          {hostId}                   no lease (a Docker network on a host)
 *
 * The guards stand in for "compare a whole prefix", which etcd transactions cannot do: a create
 * that read the network list commits only if guards/networks has not moved since, and a network
 * delete that saw no endpoints commits only if no publish touched its members guard meanwhile.
 * Holds (a dockerd's network using the global network, through cnmd --docker-plugin) touch the
 * members guard too, so a delete never commits past a hold it did not see.
 */

export const DEFAULT_PREFIX = '/cnm/v1/';

export const HOSTS = 'hosts/';
export const NETWORKS = 'networks/';
export const ENDPOINTS = 'endpoints/';
export const ADDRESSES = 'addresses/';
export const HOLDS = 'holds/';
export const NETWORKS_GUARD = 'guards/networks';

export const hostKey = (hostId: string): string => `${HOSTS}${hostId}`;
export const networkKey = (networkId: string): string => `${NETWORKS}${networkId}`;
export const membersGuardKey = (networkId: string): string => `guards/members/${networkId}`;
export const addressesOf = (networkId: string): string => `${ADDRESSES}${networkId}/`;
export const addressKey = (networkId: string, address: string): string => `${addressesOf(networkId)}${address}`;
export const holdsOf = (networkId: string): string => `${HOLDS}${networkId}/`;
export const holdKey = (networkId: string, holderId: string): string => `${holdsOf(networkId)}${holderId}`;
export const endpointsOf = (networkId: string): string => `${ENDPOINTS}${networkId}/`;
export const endpointKey = (networkId: string, endpointId: string): string => `${endpointsOf(networkId)}${endpointId}`;

/** The objects a watch of the whole prefix reports; guards and addresses are not part of the snapshot. */
export type ParsedKey =
  | { kind: 'host'; hostId: string }
  | { kind: 'network'; networkId: string }
  | { kind: 'endpoint'; networkId: string; endpointId: string }
  | { kind: 'other' };

export function parseKey(key: string): ParsedKey {
  if (key.startsWith(HOSTS)) return { kind: 'host', hostId: key.slice(HOSTS.length) };
  if (key.startsWith(NETWORKS)) return { kind: 'network', networkId: key.slice(NETWORKS.length) };
  if (key.startsWith(ENDPOINTS)) {
    const [networkId, endpointId, ...rest] = key.slice(ENDPOINTS.length).split('/');
    if (networkId && endpointId && rest.length === 0) return { kind: 'endpoint', networkId, endpointId };
  }
  return { kind: 'other' };
}

/** Ids become key segments: they must not carry a separator. */
export function checkKeySegment(what: string, value: string): string {
  if (value === '' || value.includes('/')) throw new Error(`${what} "${value}" cannot be part of a cluster store key`);
  return value;
}
