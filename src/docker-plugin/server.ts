/**
 * The Docker plugin socket (cnmd --docker-plugin PATH): HTTP POSTs with JSON bodies from dockerd,
 * answered from the controller. No kernel work here: every change goes through the controller.
 * Docker names the plugin after the socket's base name (/run/docker/plugins/cnm.sock → -d cnm).
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Controller } from '../controller/controller';
import type { Logger } from '../log';
import { CnmError } from '../errors';
import {
  CAPABILITIES,
  createEndpointRequest,
  createEndpointResponse,
  createNetworkRequest,
  endpointIdOf,
  errorResponse,
  errorText,
  externalConnectivityRequest,
  joinResponse,
  networkIdOf,
  PLUGIN_CONTENT_TYPE,
  PluginRequestError,
  IPAM_CAPABILITIES,
  addressSpacesResponse,
  requestPoolRequest,
  poolIdOf,
  addressRequest,
} from './protocol';
import { DOCKER_ADDRESS_SPACE } from '../controller/docker-ipam';

const MAX_BODY = 1 << 20;

type Handler = (body: unknown) => Promise<unknown> | unknown;

export function pluginHandlers(ctl: Controller): Record<string, Handler> {
  return {
    '/Plugin.Activate': () => ({ Implements: ['NetworkDriver', 'IpamDriver'] }),
    '/NetworkDriver.GetCapabilities': () => CAPABILITIES,
    '/NetworkDriver.CreateNetwork': async (body) => {
      // A retried CreateNetwork for a network cnm already has is a success.
      await ctl.createDockerNetwork(networkIdOf(body), createNetworkRequest(body));
      return {};
    },
    '/NetworkDriver.DeleteNetwork': async (body) => {
      await ctl.deleteDockerNetwork(networkIdOf(body));
      return {};
    },
    '/NetworkDriver.CreateEndpoint': async (body) => {
      const req = createEndpointRequest(body);
      return createEndpointResponse(req, await ctl.createHandoff(req));
    },
    '/NetworkDriver.DeleteEndpoint': async (body) => {
      await ctl.deleteHandoff(endpointIdOf(body));
      return {};
    },
    '/NetworkDriver.EndpointOperInfo': (body) => {
      const h = ctl.handoff(endpointIdOf(body));
      return { Value: h ? { id: h.endpoint.id, network: h.network.name, interface: h.endpoint.ifName, mac: h.endpoint.mac, ipv4: h.endpoint.ipv4, ipv6: h.endpoint.ipv6 } : {} };
    },
    '/NetworkDriver.Join': (body) => {
      const endpointId = endpointIdOf(body);
      const h = ctl.handoff(endpointId);
      if (!h) throw new CnmError('notFound', `cnm has no endpoint ${endpointId.slice(0, 12)}: it failed or was removed; start the container again`);
      return joinResponse(h);
    },
    // libnetwork takes the interface out of the container itself; DeleteEndpoint removes it.
    '/NetworkDriver.Leave': (body) => {
      endpointIdOf(body);
      return {};
    },
    // dockerd publishes nothing for plugin networks: cnm's NAT publishes the -p ports.
    '/NetworkDriver.ProgramExternalConnectivity': async (body) => {
      const req = externalConnectivityRequest(body);
      await ctl.publishHandoff(req.endpointId, req.publish);
      return {};
    },
    '/NetworkDriver.RevokeExternalConnectivity': async (body) => {
      await ctl.revokeHandoff(endpointIdOf(body));
      return {};
    },
    // Node discovery and swarm allocation: local-scope networks need neither.
    '/NetworkDriver.DiscoverNew': () => ({}),
    '/NetworkDriver.DiscoverDelete': () => ({}),
    '/NetworkDriver.AllocateNetwork': () => ({ Options: {} }),
    '/NetworkDriver.FreeNetwork': () => ({}),

    '/IpamDriver.GetCapabilities': () => IPAM_CAPABILITIES,
    '/IpamDriver.GetDefaultAddressSpaces': () => addressSpacesResponse(DOCKER_ADDRESS_SPACE),
    '/IpamDriver.RequestPool': async (body) => {
      const p = await ctl.requestDockerPool(requestPoolRequest(body, DOCKER_ADDRESS_SPACE));
      return { PoolID: p.poolId, Pool: p.pool, Data: {} };
    },
    '/IpamDriver.ReleasePool': async (body) => {
      await ctl.releaseDockerPool(poolIdOf(body));
      return {};
    },
    '/IpamDriver.RequestAddress': async (body) => {
      const req = addressRequest(body);
      return { Address: await ctl.requestDockerAddress(req.poolId, req.address), Data: {} };
    },
    '/IpamDriver.ReleaseAddress': async (body) => {
      const req = addressRequest(body);
      if (req.address) await ctl.releaseDockerAddress(req.poolId, req.address);
      return {};
    },
  };
}

/** How often removals that waited for the cluster store are tried again. */
const RETRY_MS = 5000;

export class DockerPluginServer {
  private readonly server: http.Server;
  private readonly retry: NodeJS.Timeout;

  constructor(
    ctl: Controller,
    private readonly log: Logger,
    handlers: Record<string, Handler> = pluginHandlers(ctl),
  ) {
    this.server = http.createServer((req, res) => void this.handle(handlers, req, res));
    // dockerd forgets what it removed whatever cnm answers: what waits for the store is cnm's to finish.
    this.retry = setInterval(
      () => void ctl.retryDockerRemovals().catch((err) => this.log.log('debug', 'the cluster store is still unreachable: Docker removals keep waiting', { error: err instanceof Error ? err.message : String(err) })),
      RETRY_MS,
    );
    this.retry.unref();
  }

  private async handle(handlers: Record<string, Handler>, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let status = 200;
    let out: unknown;
    const handler = req.method === 'POST' ? handlers[req.url ?? ''] : undefined;
    try {
      const text = await readBody(req);
      if (!handler) {
        status = 404;
        throw new PluginRequestError(`${req.method} ${req.url} is not part of the plugin protocols cnm serves`);
      }
      let body: unknown = {};
      if (text.trim()) {
        try {
          body = JSON.parse(text);
        } catch {
          throw new PluginRequestError('the body is not JSON');
        }
      }
      out = await handler(body);
    } catch (err) {
      // libnetwork reads Err from any answer; 200 keeps its plugin client from retrying.
      out = errorResponse(req.url ?? '', err);
      this.log.log('info', 'docker plugin call refused', { call: req.url, error: errorText(err) });
    }
    const payload = JSON.stringify(out);
    res.writeHead(status, { 'Content-Type': PLUGIN_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(payload) });
    res.end(payload);
  }

  async listen(socketPath: string): Promise<void> {
    fs.mkdirSync(path.dirname(socketPath), { recursive: true });
    fs.rmSync(socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(socketPath, () => resolve());
    });
    fs.chmodSync(socketPath, 0o660);
  }

  close(): Promise<void> {
    clearInterval(this.retry);
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new PluginRequestError('the request body is too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
