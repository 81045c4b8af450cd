/**
 * Published ports follow the sandbox's gateway endpoint (libnetwork programs external
 * connectivity on the endpoint that carries the default route): the first endpoint, in connect
 * order, on a network with a way out through NAT.
 */
import { CnmError } from '../errors';
import type { PortRequest } from '../nat';
import type { ControllerContext } from './context';
import { toDriverNetwork } from './context';
import type { EndpointRecord, SandboxRecord } from './model';

/** The endpoint that carries the sandbox's published ports. */
export function publishingEndpoint(ctx: ControllerContext, endpoints: EndpointRecord[]): EndpointRecord | undefined {
  for (const e of [...endpoints].sort((a, b) => a.seq - b.seq)) {
    const network = ctx.state.networks.get(e.networkId);
    if (!network || network.internal || !(e.ipv4 || e.ipv6)) continue;
    if (ctx.drivers.get(network.driver).externalConnectivity) return e;
  }
  return undefined;
}

function requestsFor(ctx: ControllerContext, sandbox: SandboxRecord, e: EndpointRecord): PortRequest[] {
  const network = ctx.state.networks.get(e.networkId)!;
  const ext = ctx.drivers.get(network.driver).externalConnectivity!(toDriverNetwork(network));
  const defaultIp = ext.hostBindingIpv4 === '0.0.0.0' ? '' : ext.hostBindingIpv4;
  return sandbox.publish.map((p) => ({ proto: p.proto, hostIp: p.hostIp || defaultIp, hostPortStart: p.hostPortStart, hostPortEnd: p.hostPortEnd, containerPort: p.containerPort }));
}

/** A runtime's container (CNI) has its host ports held by the runtime, which binds them itself. */
const holdsSockets = (sandbox: SandboxRecord): boolean => sandbox.mode.kind !== 'attached';

const bare = (cidr: string): string | undefined => (cidr ? cidr.split('/')[0] : undefined);

/**
 * Allocates the sandbox's published ports on its gateway endpoint (recorded in e.ports). All or
 * nothing; errors carry Docker's "driver failed programming external connectivity" prefix.
 */
export function allocatePorts(ctx: ControllerContext, sandbox: SandboxRecord, endpoints: EndpointRecord[]): EndpointRecord | undefined {
  if (!sandbox.publish.length) return undefined;
  const e = publishingEndpoint(ctx, endpoints);
  if (!e) return undefined;
  if (!ctx.ports) throw new CnmError('unavailable', 'publishing ports needs the NAT service, which this daemon runs without');
  try {
    const bindings = ctx.ports.allocate(e.id, requestsFor(ctx, sandbox, e), { ipv4: bare(e.ipv4), ipv6: bare(e.ipv6) }, { holdSockets: holdsSockets(sandbox) });
    e.ports = bindings.map((b) => ({ proto: b.proto, containerPort: b.containerPort, hostIp: b.hostIp, hostPort: b.hostPort }));
  } catch (err) {
    if (!(err instanceof CnmError)) throw err;
    throw new CnmError(err.kind, `driver failed programming external connectivity on endpoint ${sandbox.name} (${e.id}): ${err.message}`);
  }
  return e;
}

export function releasePorts(ctx: ControllerContext, endpoints: EndpointRecord[]): void {
  for (const e of endpoints) ctx.ports?.release(e.id);
}

/** After a restart: hold again exactly the ports recorded (a host process may have taken one). */
export function restorePorts(ctx: ControllerContext): void {
  for (const e of ctx.state.endpoints.values()) {
    if (!e.ports.length || !ctx.ports) continue;
    const requests: PortRequest[] = e.ports.map((p) => ({ proto: p.proto, hostIp: p.hostIp, hostPortStart: p.hostPort, hostPortEnd: p.hostPort, containerPort: p.containerPort }));
    try {
      const sandbox = ctx.state.sandboxes.get(e.sandboxId);
      ctx.ports.allocate(e.id, dedupeDualStack(requests), { ipv4: bare(e.ipv4), ipv6: bare(e.ipv6) }, { holdSockets: !sandbox || holdsSockets(sandbox) });
    } catch (err) {
      ctx.log.log('error', 'a published port could not be held again after the restart', { endpoint: e.id, error: String(err) });
    }
  }
}

/** 0.0.0.0:P and :::P of one request were allocated together from one all-address request. */
function dedupeDualStack(requests: PortRequest[]): PortRequest[] {
  const out: PortRequest[] = [];
  for (const r of requests) {
    const key = (x: PortRequest): string => `${x.proto}/${x.hostPortStart}/${x.containerPort}`;
    if (r.hostIp === '::' && requests.some((o) => o.hostIp === '0.0.0.0' && key(o) === key(r))) continue;
    out.push(r.hostIp === '0.0.0.0' && requests.some((o) => o.hostIp === '::' && key(o) === key(r)) ? { ...r, hostIp: '' } : r);
  }
  return out;
}
