/** Network lifecycle: create, remove, prune, and the predefined bridge/host/none. */
import { CnmError, conflict, forbidden, invalid } from '../errors';
import { Ipam, POOL_OVERLAP, type NetworkRequest, type PoolConfig, type SubnetRequest } from '../ipam';
import { cidrsOverlap } from '../ipam/cidr';
import { requireCluster } from './addresses';
import type { ControllerContext } from './context';
import { toDriverNetwork } from './context';
import { newId, nowRfc3339Nano, VALID_NAME } from './ids';
import { beginJournal } from './journal';
import { forgetNetwork } from './teardown';
import { withUndo } from './undo';
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

/** Internal flag for the daemon's own networks. */
export interface CreateNetworkInternal {
  predefined?: boolean;
  pick?: 'first' | 'next';
}

export async function createNetwork(ctx: ControllerContext, req: CreateNetworkRequest, internal: CreateNetworkInternal = {}): Promise<NetworkRecord> {
  const name = req.name ?? '';
  if (!internal.predefined) {
    if (name === ctx.drivers.defaultNetwork().spec.name) throw forbidden(`operation is not permitted on predefined ${name} network`);
    if (ctx.drivers.predefinedNetworks().some((p) => p.spec.name === name)) throw forbidden(`network with name ${name} already exists`);
  }
  if (!name) throw invalid('invalid name: a network needs a name');
  if (!VALID_NAME.test(name)) throw invalid(`invalid network name "${name}": use letters, digits, '_', '.' and '-', starting with a letter or digit`);
  const existing = ctx.state.networkByName(name);
  if (existing) throw conflict(`network with name ${name} already exists`);
  if (req.ingress) throw invalid('ingress networks are a swarm feature that cnm does not provide');
  if (req.configOnly || req.configFrom) throw invalid('config-only networks (--config-only/--config-from) are not supported by cnm');
  const ipamDriver = req.ipamDriver || 'default';
  if (ipamDriver !== 'default') throw new CnmError('notFound', `plugin "${ipamDriver}" not found`);

  const driverName = req.driver || ctx.drivers.defaultNetwork().driver.name;
  const driver = internal.predefined ? ctx.drivers.get(driverName) : ctx.drivers.forCreate(driverName);
  const options = { ...(req.options ?? {}) };
  const enableIPv6 = Boolean(req.enableIPv6);
  const isInternal = Boolean(req.internal);
  driver.validateOptions(options, { ipv6: enableIPv6, internal: isInternal });
  const labels = req.labels ?? {};
  for (const key of Object.keys(labels)) if (!key) throw invalid('invalid label: a label needs a key (--label key=value)');

  const id = newId();
  const needsIpam = driver.usesIpam;
  const global = driver.scope === 'global';
  const ipamRequest = {
    networkId: id,
    networkName: name,
    configs: req.ipamConfig ?? [],
    enableIPv6,
    reserveGateway: driver.needsGateway,
    ...(internal.pick ? { pick: internal.pick } : {}),
    ...(driver.ownAddresses?.(options).length ? { pickAuxAddresses: driver.ownAddresses(options) } : {}),
  };
  return withUndo(ctx.log, `create network ${name}`, async (undo) => {
    const pools = !needsIpam ? [] : global ? await globalPools(ctx, ipamRequest) : ctx.ipam.allocateNetwork({ ...ipamRequest, exclude: await ctx.os.hostRoutes() });
    // abortNetwork also moves the cursor back: a failed create burns no pool (Docker's does).
    if (needsIpam && !global) undo.push(`the pools of network ${name} in IPAM`, () => ctx.ipam.abortNetwork(id));
    let record: NetworkRecord = {
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
    // A global network exists once the cluster store has it (which also gives it its VXLAN id).
    if (global) {
      record = await requireCluster(ctx).createNetwork(record);
      undo.push(`global network ${name} in the cluster store`, () => requireCluster(ctx).deleteNetwork(id));
    }
    const dn = toDriverNetwork(record);
    const journal = beginJournal(ctx, undo, { op: 'createNetwork', driver: driver.name, network: dn });
    driver.checkConflicts?.(dn, [...ctx.state.networks.values()].filter((n) => n.driver === driver.name && n.id !== id).map(toDriverNetwork));
    undo.push(`the ${driver.name} driver's network ${name}`, () => driver.deleteNetwork(dn));
    await driver.createNetwork(dn);
    ctx.store.transaction((tx) => {
      tx.putNetwork(record);
      if (!global) tx.setMeta('ipamCursor', JSON.stringify(ctx.ipam.getCursor()));
      tx.endJournal(journal);
    });
    ctx.state.networks.set(id, record);
    return record;
  });
}

/** Docker's global-scope default pool: 10.0.0.0/8 in /24s. */
const GLOBAL_DEFAULT_POOLS = [{ base: '10.0.0.0/8', size: 24 }];

/**
 * Subnets of a global network: user subnets as given (checked against this host's networks; the
 * cluster store checks the other global networks), or the first free /24 of 10.0.0.0/8 that no
 * global network and no network or route of this host uses.
 */
async function globalPools(ctx: ControllerContext, request: Omit<NetworkRequest, 'exclude'>): Promise<PoolConfig[]> {
  const cluster = requireCluster(ctx);
  const local = [...ctx.state.networks.values()].filter((n) => n.scope === 'local').flatMap((n) => n.pools.map((p) => p.subnet));
  const exclude = [...(await cluster.usedSubnets()), ...local, ...(await ctx.os.hostRoutes())];
  // A fresh allocator: it only chooses and validates; the cluster store holds global state.
  const pools = new Ipam({ defaultPools: GLOBAL_DEFAULT_POOLS }).allocateNetwork({ ...request, exclude });
  for (const pool of pools) {
    if (local.some((subnet) => cidrsOverlap(subnet, pool.subnet))) throw forbidden(POOL_OVERLAP);
  }
  return pools;
}

export async function removeNetwork(ctx: ControllerContext, network: NetworkRecord): Promise<void> {
  if (network.predefined) throw forbidden(`${network.name} is a pre-defined network and cannot be removed`);
  if (ctx.state.endpointsOfNetwork(network.id).length) {
    throw forbidden(`error while removing network: network ${network.name} id ${network.id} has active endpoints`);
  }
  const driver = ctx.drivers.get(network.driver);
  const dn = toDriverNetwork(network);
  // Refused by the cluster store while any host still has endpoints on it.
  if (network.scope === 'global') await requireCluster(ctx).deleteNetwork(network.id);
  await withUndo(ctx.log, `remove network ${network.name}`, async (undo) => {
    const journal = beginJournal(ctx, undo, { op: 'removeNetwork', driver: driver.name, network: dn });
    // A deleteNetwork that failed half-way: the record still says the network exists.
    undo.push(`the ${driver.name} driver's network ${network.name}, half removed`, () => driver.createNetwork(dn));
    await driver.deleteNetwork(dn);
    forgetNetwork(ctx, network, [journal]);
  });
}

/**
 * The daemon's own networks, as the drivers declare them, created once and kept (Docker gives
 * `bridge` a new id each start). The default one takes the first free pool.
 */
export async function ensurePredefinedNetworks(ctx: ControllerContext): Promise<void> {
  for (const p of ctx.drivers.predefinedNetworks()) {
    if (ctx.state.networkByName(p.spec.name)) continue;
    await createNetwork(ctx, { name: p.spec.name, driver: p.driver.name, options: { ...(p.spec.options ?? {}) } }, { predefined: true, ...(p.default ? { pick: 'first' as const } : {}) });
  }
}

/** The local network that carries the way out of sandboxes on networks without one (Docker's docker_gwbridge). */
export async function ensureGatewayBridge(ctx: ControllerContext): Promise<NetworkRecord> {
  const provided = ctx.drivers.gatewayBridge();
  if (!provided) throw new CnmError('internal', 'no network driver provides the gateway bridge network');
  const { driver, spec } = provided;
  const existing = ctx.state.networkByName(spec.name);
  if (existing) return existing;
  return createNetwork(ctx, { name: spec.name, driver: driver.name, options: { ...(spec.options ?? {}) } }, { predefined: true });
}
