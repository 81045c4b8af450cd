/**
 * POST /cni: cnmd's side of the CNI plugin (src/cni/plugin.c). The plugin posts the CNI
 * environment and configuration; the answer is a result (200), nothing (204: DEL, CHECK, GC and
 * STATUS succeeded) or a CNI error object (400), which the plugin prints for the runtime.
 */
import type { Controller } from '../controller/controller';
import type { Attachment } from '../controller/attachments';
import { namespaceIdentity } from '../controller/attachments';
import { CniCode, CniError, errorBody, parseRequest, shapeResult, type CniRequest, type CniVersion, type PluginRequest } from '../cni/protocol';
import { CnmError, messageOf } from '../errors';
import { EMBEDDED_DNS } from '../resolver';
import type { Reply, Router } from './http';
import { empty, json } from './http';

/** What a controller refusal means to a runtime. */
function toCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  if (!(err instanceof CnmError)) return new CniError(CniCode.internal, `cnmd failed: ${messageOf(err)}`);
  switch (err.kind) {
    case 'invalid':
      return new CniError(CniCode.invalidConfig, err.message);
    case 'notFound':
      return new CniError(CniCode.unknownContainer, err.message);
    case 'unavailable':
      return new CniError(CniCode.tryAgainLater, err.message);
    case 'forbidden':
    case 'conflict':
      return new CniError(CniCode.refused, err.message);
    default:
      return new CniError(CniCode.internal, err.message);
  }
}

/** The configuration's network, which must be one cnm can attach runtimes to (code 7 otherwise). */
function requireNetwork(ctl: Controller, name: string): void {
  try {
    ctl.attachableNetwork(name);
  } catch (err) {
    if (err instanceof CnmError && err.kind === 'notFound') {
      throw new CniError(CniCode.invalidConfig, `cnm has no network "${name}": create it (cnm network create ${name}) or fix the conflist's "name"`);
    }
    throw toCniError(err);
  }
}

function result(req: CniRequest, a: Attachment): Record<string, unknown> {
  const gateway = (family: 4 | 6): string | undefined => (a.network.internal ? undefined : a.network.pools.find((p) => p.family === family)?.gateway || undefined);
  const gatewayV4 = a.endpoint.ipv4 ? gateway(4) : undefined;
  const gatewayV6 = a.endpoint.ipv6 ? gateway(6) : undefined;
  return shapeResult(req.version, {
    ifName: a.endpoint.ifName,
    mac: a.endpoint.mac,
    netns: req.netns,
    ...(a.endpoint.ipv4 ? { ipv4: a.endpoint.ipv4 } : {}),
    ...(a.endpoint.ipv6 ? { ipv6: a.endpoint.ipv6 } : {}),
    ...(gatewayV4 ? { gatewayV4 } : {}),
    ...(gatewayV6 ? { gatewayV6 } : {}),
    nameservers: [EMBEDDED_DNS],
  });
}

async function serve(ctl: Controller, req: CniRequest): Promise<Reply> {
  switch (req.command) {
    case 'ADD': {
      requireNetwork(ctl, req.network);
      if (!namespaceIdentity(req.netns)) throw new CniError(CniCode.invalidEnvironment, `CNI_NETNS ${req.netns} is not a network namespace (it does not exist)`);
      const a = await ctl.attach({
        network: req.network,
        containerId: req.containerId,
        ifName: req.ifName,
        nsPath: req.netns,
        name: req.name,
        aliases: req.aliases,
        ...(req.ipv4 ? { ipv4: req.ipv4 } : {}),
        ...(req.ipv6 ? { ipv6: req.ipv6 } : {}),
        ...(req.mac ? { mac: req.mac } : {}),
        publish: req.publish,
      });
      return json(200, result(req, a));
    }
    case 'DEL':
      // Idempotent: a network or attachment cnm no longer has is already deleted.
      await ctl.detach(req.network, req.containerId, req.ifName);
      return empty(204);
    case 'CHECK': {
      requireNetwork(ctl, req.network);
      const missing = await ctl.checkAttachment(req.network, req.containerId, req.ifName);
      if (missing.length) throw new CniError(CniCode.refused, `the attachment of ${req.containerId} to ${req.network} is incomplete: missing ${missing.join('; ')}`);
      return empty(204);
    }
    case 'GC':
      requireNetwork(ctl, req.network);
      await ctl.collectGarbage(req.network, req.validAttachments ?? []);
      return empty(204);
    case 'STATUS':
      try {
        requireNetwork(ctl, req.network);
      } catch (err) {
        throw new CniError(CniCode.notAvailable, messageOf(err));
      }
      return empty(204);
  }
}

export function addCniRoutes(router: Router, ctl: Controller): void {
  router.add('POST', '/cni', async (http) => {
    const body = http.body as PluginRequest | undefined;
    let version: CniVersion | string = '1.0.0';
    try {
      if (typeof body !== 'object' || body === null) throw new CniError(CniCode.decodeFailure, 'the plugin sent no request');
      const cv = (body.config as { cniVersion?: unknown } | null)?.cniVersion;
      if (typeof cv === 'string' && cv) version = cv;
      return await serve(ctl, parseRequest(body));
    } catch (err) {
      return json(400, errorBody(version, toCniError(err)));
    }
  });
}
