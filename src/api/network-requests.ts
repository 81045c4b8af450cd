/**
 * Engine API request bodies for networks → controller requests. Pure, and complete before
 * anything changes: a handler calls the controller only with a body that passed every check.
 */
import type { EndpointRequest } from '../controller/endpoints';
import type { CreateNetworkRequest } from '../controller/networks';
import { invalid } from '../errors';
import type { SubnetRequest } from '../ipam';
import { object, optArray, optBool, optString, optStringArray, optStringMap } from './validate';

function ipamConfig(raw: unknown): SubnetRequest[] {
  const ipam = object(raw, 'IPAM', true);
  const configs = optArray(ipam, 'Config', 'IPAM') ?? [];
  return configs.map((c, i) => {
    const where = `IPAM.Config[${i}]`;
    const o = object(c, where);
    const req: SubnetRequest = {};
    const subnet = optString(o, 'Subnet', where);
    const ipRange = optString(o, 'IPRange', where);
    const gateway = optString(o, 'Gateway', where);
    const aux = optStringMap(o, 'AuxiliaryAddresses', where);
    if (subnet) req.subnet = subnet;
    if (ipRange) req.ipRange = ipRange;
    if (gateway) req.gateway = gateway;
    if (aux && Object.keys(aux).length) req.auxAddresses = aux;
    return req;
  });
}

/**
 * POST /networks/create. CheckDuplicate is type-checked and otherwise ignored: a duplicate name
 * is always refused (Docker's API let duplicates through without it, docker-behaviour §7.3).
 */
export function parseNetworkCreate(raw: unknown): CreateNetworkRequest {
  const body = object(raw, 'request body');
  const w = 'body';
  const ipam = object(body.IPAM, 'IPAM', true);
  const configFrom = optString(object(body.ConfigFrom, 'ConfigFrom', true), 'Network', 'ConfigFrom');
  optBool(body, 'CheckDuplicate', w);
  optString(body, 'Scope', w);
  return {
    name: optString(body, 'Name', w) ?? '',
    driver: optString(body, 'Driver', w) || 'bridge',
    options: optStringMap(body, 'Options', w) ?? {},
    labels: optStringMap(body, 'Labels', w) ?? {},
    ipamDriver: optString(ipam, 'Driver', 'IPAM') || 'default',
    ipamOptions: optStringMap(ipam, 'Options', 'IPAM') ?? null,
    ipamConfig: ipamConfig(body.IPAM),
    enableIPv6: optBool(body, 'EnableIPv6', w) ?? false,
    internal: optBool(body, 'Internal', w) ?? false,
    attachable: optBool(body, 'Attachable', w) ?? false,
    ingress: optBool(body, 'Ingress', w) ?? false,
    configOnly: optBool(body, 'ConfigOnly', w) ?? false,
    ...(configFrom ? { configFrom } : {}),
  };
}

/** An EndpointSettings of a request (connect, or a container create's EndpointsConfig entry). */
export function parseEndpointConfig(raw: unknown, where: string): EndpointRequest {
  const ec = object(raw, where, true);
  const ipam = object(ec.IPAMConfig, `${where}.IPAMConfig`, true);
  const ipv4 = optString(ipam, 'IPv4Address', `${where}.IPAMConfig`);
  const ipv6 = optString(ipam, 'IPv6Address', `${where}.IPAMConfig`);
  return {
    ...(ipv4 ? { ipv4 } : {}),
    ...(ipv6 ? { ipv6 } : {}),
    aliases: optStringArray(ec, 'Aliases', where) ?? [],
    driverOptions: optStringMap(ec, 'DriverOpts', where) ?? {},
  };
}

export function requiredContainer(body: Record<string, unknown>): string {
  const container = optString(body, 'Container', 'body');
  if (!container) throw invalid('body.Container is required: the name or id of the sandbox');
  return container;
}

/** POST /networks/{id}/connect */
export function parseConnect(raw: unknown): { container: string; endpoint: EndpointRequest } {
  const body = object(raw, 'request body');
  return { container: requiredContainer(body), endpoint: parseEndpointConfig(body.EndpointConfig, 'EndpointConfig') };
}

/** POST /networks/{id}/disconnect */
export function parseDisconnect(raw: unknown): { container: string; force: boolean } {
  const body = object(raw, 'request body');
  return { container: requiredContainer(body), force: optBool(body, 'Force', 'body') ?? false };
}
