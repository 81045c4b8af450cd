/** Network lifecycle: create, remove, prune, and the predefined bridge/host/none. */
import { CnmError, conflict, forbidden, invalid } from '../errors';
import type { SubnetRequest } from '../ipam';
import { Rtnl } from '../os/links';
import type { ControllerContext } from './context';
import { DEFAULT_BRIDGE, toDriverNetwork } from './context';
import { newId, nowRfc3339Nano, VALID_NAME } from './ids';
import type { JournalEntry } from './journal';
import type { NetworkRecord } from './model';

export interface CreateNetworkRequest {
  name: string;
  driver?: string;
  options?: Record<string, string>;
  labels?: Record<string, string>;
  ipamDriver?: string;
  ipamOptions?: Record<string, string> | null;
  ipamConfig?: SubnetRequest[];
  enableIPv6?: boolean;
  internal?: boolean;
  attachable?: boolean;
  ingress?: boolean;
  configOnly?: boolean;
  configFrom?: string;
}

const PREDEFINED = new Set(['bridge', 'host', 'none']);

/** Internal flag for the daemon's own networks. */
export interface CreateNetworkInternal {
  predefined?: boolean;
  pick?: 'first' | 'next';
}

export async function createNetwork(ctx: ControllerContext, req: CreateNetworkRequest, internal: CreateNetworkInternal = {}): Promise<NetworkRecord> {
  const name = req.name ?? '';
  if (!internal.predefined) {
    if (name === DEFAULT_BRIDGE) throw forbidden(`operation is not permitted on predefined ${name} network`);
    if (PREDEFINED.has(name)) throw forbidden(`network with name ${name} already exists`);
  }
  if (!name) throw invalid('invalid name: a network needs a name');
  if (!VALID_NAME.test(name)) throw invalid(`invalid network name "${name}": use letters, digits, '_', '.' and '-', starting with a letter or digit`);
  const existing = ctx.state.networkByName(name);
  if (existing) throw conflict(`network with name ${name} already exists`);
  if (req.ingress) throw invalid('ingress networks are a swarm feature that cnm does not provide');
  if (req.configOnly || req.configFrom) throw invalid('config-only networks (--config-only/--config-from) are not supported by cnm');
  const ipamDriver = req.ipamDriver || 'default';
  if (ipamDriver !== 'default') throw new CnmError('notFound', `plugin "${ipamDriver}" not found`);

  const driverName = req.driver || 'bridge';
  const driver = internal.predefined ? ctx.drivers.get(driverName) : ctx.drivers.forCreate(driverName);
  const options = { ...(req.options ?? {}) };
  const enableIPv6 = Boolean(req.enableIPv6);
  const isInternal = Boolean(req.internal);
  driver.validateOptions(options, { ipv6: enableIPv6, internal: isInternal });
  const labels = req.labels ?? {};
  for (const key of Object.keys(labels)) if (!key) throw invalid('invalid label: a label needs a key (--label key=value)');

  const id = newId();
  const needsIpam = driver.name !== 'host' && driver.name !== 'null';
  const exclude = needsIpam ? await hostRoutes() : [];
  const pools = needsIpam
    ? ctx.ipam.allocateNetwork({
        networkId: id,
        networkName: name,
        configs: req.ipamConfig ?? [],
        enableIPv6,
        reserveGateway: driver.needsGateway,
        exclude,
        ...(internal.pick ? { pick: internal.pick } : {}),
      })
    : [];
  const record: NetworkRecord = {
    id,
    name,
    driver: driver.name,
    scope: driver.scope,
    created: nowRfc3339Nano(),
    enableIPv6,
    internal: isInternal,
    attachable: Boolean(req.attachable),
    ipamDriver,
    ipamOptions: req.ipamOptions === undefined ? null : req.ipamOptions,
    pools,
    options,
    labels,
    predefined: Boolean(internal.predefined),
  };
  const dn = toDriverNetwork(record);
  const journal = ctx.store.beginJournal({ op: 'createNetwork', driver: driver.name, network: dn } satisfies JournalEntry);
  try {
    driver.checkConflicts?.(dn, [...ctx.state.networks.values()].filter((n) => n.driver === driver.name).map(toDriverNetwork));
    await driver.createNetwork(dn);
  } catch (err) {
    // abortNetwork also moves the cursor back: a failed create burns no pool (Docker's does).
    if (needsIpam) ctx.ipam.abortNetwork(id);
    ctx.store.endJournal(journal);
    throw err;
  }
  try {
    ctx.store.transaction((tx) => {
      tx.putNetwork(record);
      tx.setMeta('ipamCursor', JSON.stringify(ctx.ipam.getCursor()));
      tx.endJournal(journal);
    });
  } catch (err) {
    await driver.deleteNetwork(dn).catch(() => undefined);
    if (needsIpam) ctx.ipam.abortNetwork(id);
    ctx.store.endJournal(journal);
    throw err;
  }
  ctx.state.networks.set(id, record);
  return record;
}

export async function removeNetwork(ctx: ControllerContext, network: NetworkRecord): Promise<void> {
  if (network.predefined) throw forbidden(`${network.name} is a pre-defined network and cannot be removed`);
  if (ctx.state.endpointsOfNetwork(network.id).length) {
    throw forbidden(`error while removing network: network ${network.name} id ${network.id} has active endpoints`);
  }
  const driver = ctx.drivers.get(network.driver);
  const dn = toDriverNetwork(network);
  const journal = ctx.store.beginJournal({ op: 'removeNetwork', driver: driver.name, network: dn } satisfies JournalEntry);
  await driver.deleteNetwork(dn);
  ctx.store.transaction((tx) => {
    tx.deleteNetwork(network.id);
    tx.endJournal(journal);
  });
  ctx.state.networks.delete(network.id);
  if (network.pools.length) ctx.ipam.releaseNetwork(network.id);
}

/** The daemon's own networks, created once and kept (Docker gives `bridge` a new id each start). */
export async function ensurePredefinedNetworks(ctx: ControllerContext): Promise<void> {
  if (!ctx.state.networkByName('none')) await createNetwork(ctx, { name: 'none', driver: 'null' }, { predefined: true });
  if (!ctx.state.networkByName('host')) await createNetwork(ctx, { name: 'host', driver: 'host' }, { predefined: true });
  if (!ctx.state.networkByName(DEFAULT_BRIDGE)) {
    await createNetwork(
      ctx,
      {
        name: DEFAULT_BRIDGE,
        driver: 'bridge',
        options: {
          'com.docker.network.bridge.default_bridge': 'true',
          'com.docker.network.bridge.enable_icc': 'true',
          'com.docker.network.bridge.enable_ip_masquerade': 'true',
          'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
          'com.docker.network.bridge.name': 'cnm0',
          'com.docker.network.driver.mtu': '1500',
        },
      },
      { predefined: true, pick: 'first' },
    );
  }
}

/** The host's routed prefixes, which automatic pools must not overlap. */
async function hostRoutes(): Promise<string[]> {
  return Rtnl.in(undefined, (nl) => nl.listRouteDestinations());
}
