/** /networks: Docker Engine API shapes over the controller. */
import type { Controller } from '../controller/controller';
import type { NetworkRecord } from '../controller/model';
import { invalid } from '../errors';
import { parseFilters, labelMatch, regexMatch } from './filters';
import type { Request, Router } from './http';
import { empty, json } from './http';
import { parseConnect, parseDisconnect, parseNetworkCreate } from './network-requests';
import { presentNetwork } from './present';

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

export function addNetworkRoutes(router: Router, ctl: Controller): void {
  router.add('GET', '/networks', (req) => {
    const filters = parseFilters(req.query.get('filters'), LIST_FILTERS);
    return json(200, ctl.networks().filter((n) => networkMatches(ctl, n, filters)).map((n) => presentNetwork(n, ctl.state)));
  });

  router.add('GET', '/networks/{id}', (req) => json(200, presentNetwork(ctl.network(req.params.id!), ctl.state)));

  router.add('POST', '/networks/create', async (req) => {
    const n = await ctl.createNetwork(parseNetworkCreate(req.body));
    return json(201, { Id: n.id, Warning: '' });
  });

  router.add('POST', '/networks/{id}/connect', async (req) => {
    const { container, endpoint } = parseConnect(req.body);
    await ctl.connect(req.params.id!, container, endpoint);
    return empty(200);
  });

  router.add('POST', '/networks/{id}/disconnect', async (req) => {
    const { container, force } = parseDisconnect(req.body);
    await ctl.disconnect(req.params.id!, container, force);
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

/** until=<unix seconds> | <RFC 3339> | <duration like 24h> */
function parseUntil(v: string): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const d = /^(\d+)(s|m|h)$/.exec(v);
  if (d) return Date.now() - Number(d[1]) * { s: 1000, m: 60000, h: 3600000 }[d[2] as 's' | 'm' | 'h'];
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw invalid(`invalid until filter "${v}": use a timestamp or a duration such as 24h`);
  return t;
}
