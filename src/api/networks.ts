/** /networks: Docker Engine API shapes over the controller. */
import type { Controller } from '../controller/controller';
import type { NetworkRecord } from '../controller/model';
import { invalid } from '../errors';
import type { SubnetRequest } from '../ipam';
import { parseFilters, labelMatch, regexMatch } from './filters';
import type { Request, Router } from './http';
import { empty, json } from './http';
import { presentNetwork } from './present';
import { object, optArray, optBool, optString, optStringArray, optStringMap } from './validate';

const LIST_FILTERS = ['driver', 'id', 'label', 'name', 'scope', 'type', 'dangling'] as const;

export function networkMatches(ctl: Controller, n: NetworkRecord, filters: Map<string, string[]>): boolean {
  const any = (key: string, test: (v: string) => boolean): boolean => {
    const values = filters.get(key);
    return !values || values.some(test);
  };
  return (
    any('driver', (v) => v === n.driver) &&
    any('id', (v) => regexMatch(v, n.id)) &&
    any('name', (v) => regexMatch(v, n.name)) &&
    any('scope', (v) => v === n.scope) &&
    (filters.get('label') ?? []).every((v) => labelMatch(v, n.labels)) &&
    any('type', (v) => {
      if (v !== 'custom' && v !== 'builtin') throw invalid(`Invalid filter: 'type'='${v}'`);
      return v === 'builtin' ? n.predefined : !n.predefined;
    }) &&
    any('dangling', (v) => {
      if (!/^(true|false|1|0)$/.test(v)) throw invalid(`Invalid filter: 'dangling'='${v}'`);
      const unused = ctl.state.endpointsOfNetwork(n.id).length === 0 && !n.predefined;
      return (v === 'true' || v === '1') === unused;
    })
  );
}

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

export function addNetworkRoutes(router: Router, ctl: Controller): void {
  router.add('GET', '/networks', (req) => {
    const filters = parseFilters(req.query.get('filters'), LIST_FILTERS);
    return json(200, ctl.networks().filter((n) => networkMatches(ctl, n, filters)).map((n) => presentNetwork(n, ctl.state)));
  });

  router.add('GET', '/networks/{id}', (req) => json(200, presentNetwork(ctl.network(req.params.id!), ctl.state)));

  router.add('POST', '/networks/create', async (req) => {
    const body = object(req.body, 'request body');
    const w = 'body';
    const ipam = object(body.IPAM, 'IPAM', true);
    const configFrom = object(body.ConfigFrom, 'ConfigFrom', true);
    const n = await ctl.createNetwork({
      name: optString(body, 'Name', w) ?? '',
      driver: optString(body, 'Driver', w) ?? 'bridge',
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
      ...(optString(configFrom, 'Network', 'ConfigFrom') ? { configFrom: optString(configFrom, 'Network', 'ConfigFrom')! } : {}),
    });
    optBool(body, 'CheckDuplicate', w); // type-checked; a duplicate name is always refused
    return json(201, { Id: n.id, Warning: '' });
  });

  router.add('POST', '/networks/{id}/connect', async (req) => {
    const body = object(req.body, 'request body');
    const container = requiredContainer(body);
    const ec = object(body.EndpointConfig, 'EndpointConfig', true);
    const ipamCfg = object(ec.IPAMConfig, 'EndpointConfig.IPAMConfig', true);
    const ipv4 = optString(ipamCfg, 'IPv4Address', 'EndpointConfig.IPAMConfig');
    const ipv6 = optString(ipamCfg, 'IPv6Address', 'EndpointConfig.IPAMConfig');
    await ctl.connect(req.params.id!, container, {
      ...(ipv4 ? { ipv4 } : {}),
      ...(ipv6 ? { ipv6 } : {}),
      aliases: optStringArray(ec, 'Aliases', 'EndpointConfig') ?? [],
      driverOptions: optStringMap(ec, 'DriverOpts', 'EndpointConfig') ?? {},
    });
    return empty(200);
  });

  router.add('POST', '/networks/{id}/disconnect', async (req) => {
    const body = object(req.body, 'request body');
    await ctl.disconnect(req.params.id!, requiredContainer(body), optBool(body, 'Force', 'body') ?? false);
    return empty(200);
  });

  router.add('DELETE', '/networks/{id}', async (req) => {
    await ctl.removeNetwork(req.params.id!);
    return empty(204);
  });

  router.add('POST', '/networks/prune', async (req: Request) => {
    const filters = parseFilters(req.query.get('filters'), ['label', 'label!', 'until']);
    const until = filters.get('until')?.map(parseUntil);
    const removed = await ctl.pruneNetworks((n) => {
      const labelsOk = (filters.get('label') ?? []).every((f) => labelMatch(f, n.labels)) && (filters.get('label!') ?? []).every((f) => !labelMatch(f, n.labels));
      const oldEnough = !until || until.every((t) => Date.parse(n.created) < t);
      return !(labelsOk && oldEnough);
    });
    return json(200, { NetworksDeleted: removed.length ? removed : null });
  });
}

function requiredContainer(body: Record<string, unknown>): string {
  const container = optString(body, 'Container', 'body');
  if (!container) throw invalid('body.Container is required: the name or id of the sandbox');
  return container;
}

/** until=<unix seconds> | <RFC 3339> | <duration like 24h> */
function parseUntil(v: string): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const d = /^(\d+)(s|m|h)$/.exec(v);
  if (d) return Date.now() - Number(d[1]) * { s: 1000, m: 60000, h: 3600000 }[d[2] as 's' | 'm' | 'h'];
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw invalid(`invalid until filter "${v}": use a timestamp or a duration such as 24h`);
  return t;
}
