/** cnmd: wires the store, IPAM, drivers, controller, services and API, and runs them. */
import { DockerPluginServer } from '../docker-plugin/server';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { buildRouter, ApiServer } from '../api/server';
import { Controller } from '../controller/controller';
import { BridgeDriver } from '../drivers/bridge/driver';
import { HostDriver, NullDriver } from '../drivers/host';
import { MacvlanDriver } from '../drivers/macvlan/driver';
import { OverlayDriver } from '../drivers/overlay/driver';
import { DriverRegistry } from '../drivers/registry';
import { CnmError, messageOf } from '../errors';
import { Ipam } from '../ipam';
import { Firewall, PortAllocator } from '../nat';
import { Resolver } from '../resolver';
import { processMetrics } from './process-metrics';
import { dnsState, natState } from '../controller/service-state';
import { jsonLogger, type Logger } from '../log';
import { linkReaper } from '../os/link-reaper';
import { raiseFdLimit } from '../os/native';
import { writeSysctl } from '../os/sysctl';
import { ProcessRuntime } from '../runtime/processes';
import { EtcdClusterStore } from '../store/etcd-cluster';
import { SqliteStore } from '../store/sqlite';
import { parseDaemonArgs, USAGE, type DaemonOptions } from './options';
import { acquirePidFile } from './pidfile';

/** How soon a namespace destroyed without a CNI DEL loses its attachment (a stat per attachment). */
const ATTACHMENT_POLL_MS = 1000;

export interface Daemon {
  stop(): Promise<void>;
}

export async function startDaemon(opts: DaemonOptions, log: Logger): Promise<Daemon> {
  fs.mkdirSync(opts.execRoot, { recursive: true, mode: 0o755 });
  const releasePid = acquirePidFile(path.join(opts.execRoot, 'cnmd.pid'));
  const fdLimit = raiseFdLimit();
  const store = new SqliteStore(opts.root);
  // Sandboxes reach the outside through the host: routing between interfaces must be on.
  writeSysctl('net.ipv4.ip_forward', '1');

  const drivers = new DriverRegistry();
  // In this order the daemon creates their predefined networks at first start: none, host, bridge.
  drivers.register(new NullDriver());
  drivers.register(new HostDriver());
  drivers.register(new BridgeDriver());
  drivers.register(new MacvlanDriver());
  const cluster = opts.clusterStore && opts.clusterAdvertise ? openCluster(opts.clusterStore, opts.clusterAdvertise, store, log) : undefined;
  if (cluster) drivers.register(new OverlayDriver(cluster.host.advertise));
  else drivers.markUnavailable('overlay', 'overlay networks need a cluster store: start cnmd with --cluster-store etcd://HOST:PORT and --cluster-advertise ADDRESS');

  const ipamOptions = opts.defaultAddressPools.length ? { defaultPools: opts.defaultAddressPools } : {};
  const ipam = new Ipam(ipamOptions);
  const ports = new PortAllocator();
  // The resolver follows the host's resolv.conf (--dns replaces its servers, its search domains
  // still apply) and is the one source of the sandboxes' resolv.conf files: when the file changes,
  // forwarding switches and every sandbox gets its files rewritten.
  const dnsLog = log.child({ component: 'resolver' });
  const resolver = new Resolver({
    ...(opts.dns.length ? { upstreams: opts.dns } : {}),
    resolvConfPath: opts.resolvConf,
    onHostResolvConfChange: () => {
      ctl.refreshFiles().catch((err: unknown) => log.log('error', 'cannot rewrite sandbox resolv.conf files', { error: messageOf(err) }));
    },
    ttl: opts.dnsTtl,
    maxInflight: opts.dnsMaxInflight,
    log: (level, msg, fields) => dnsLog.log(level, msg, fields),
  });
  const ctl = new Controller({ store, ipam, dockerIpam: new Ipam(ipamOptions), drivers, execRoot: opts.execRoot, hostResolv: () => resolver.hostResolvConf(), ports, ...(cluster ? { cluster } : {}), log });

  const natLog = log.child({ component: 'nat' });
  const firewall = Firewall.open({
    onRestore: ({ durationMs, error }) =>
      natLog.log(error ? 'error' : 'warn', error ? 'could not restore the nftables table' : 'restored the nftables table after someone removed it', { durationMs, ...(error ? { error: error.message } : {}) }),
  });
  ctl.addListener({
    name: 'nat',
    stateChanged: async (state) => {
      const desired = natState(state, drivers);
      const started = performance.now();
      if (await firewall.apply(desired)) {
        natLog.log('debug', 'applied the nftables ruleset', { durationMs: Math.round((performance.now() - started) * 10) / 10, networks: desired.networks.length, ports: desired.ports.length });
      }
    },
  });

  ctl.addListener({ name: 'dns', stateChanged: (state) => resolver.update(dnsState(state, drivers, (sandbox) => ctl.nsPath(sandbox))) });

  if (cluster) {
    await joinCluster(cluster, log);
    cluster.onChange((snapshot) => void ctl.clusterChanged(snapshot));
  }
  await ctl.start();
  const runtime = new ProcessRuntime(ctl, opts.execRoot, log);
  await runtime.reconcile();
  // A runtime that dies, or a ctr task that exits, destroys its namespace without a CNI DEL.
  const vanished = setInterval(() => {
    ctl.removeVanishedAttachments().catch((err: unknown) => log.log('error', 'could not check attached namespaces', { error: messageOf(err) }));
  }, ATTACHMENT_POLL_MS);
  vanished.unref();

  const api = new ApiServer(buildRouter(ctl, runtime, { execRoot: opts.execRoot, metrics: () => resolver.metrics() + processMetrics() }), log);
  await api.listenUnix(opts.socket, opts.socketGid);
  const dockerPlugin = opts.dockerPlugin ? new DockerPluginServer(ctl, log) : undefined;
  if (dockerPlugin) await dockerPlugin.listen(opts.dockerPlugin!);
  const tcpPort = opts.tcp ? await api.listenTcp(opts.tcp.host, opts.tcp.port) : undefined;
  log.log('info', 'cnmd is ready', {
    socket: opts.socket,
    ...(opts.dockerPlugin ? { dockerPlugin: opts.dockerPlugin } : {}),
    fdLimit,
    ...(opts.tcp ? { tcpHost: opts.tcp.host, tcpPort } : {}),
    root: opts.root,
    execRoot: opts.execRoot,
    networks: ctl.networks().length,
    sandboxes: ctl.sandboxes().length,
  });

  return {
    async stop() {
      clearInterval(vanished);
      await api.close();
      await dockerPlugin?.close();
      runtime.close();
      await resolver.close();
      await cluster?.close();
      // No cnm rule outlives the daemon; the next start puts them back from the store.
      await firewall.teardown();
      ports.releaseAll();
      await linkReaper.close();
      store.close();
      releasePid();
    },
  };
}

/** This host in the cluster: its id is kept in the local store so a restart is the same host. */
function openCluster(url: string, advertise: string, store: SqliteStore, log: Logger): EtcdClusterStore {
  let hostId = store.getMeta('hostId');
  if (!hostId) {
    hostId = crypto.randomBytes(16).toString('hex');
    const id = hostId;
    store.transaction((tx) => tx.setMeta('hostId', id));
  }
  return new EtcdClusterStore({ url, advertise, hostId, log: log.child({ component: 'cluster' }) });
}

/**
 * Joins the cluster store; if it does not answer, cnmd starts anyway (local networks work) and
 * keeps trying in the background: overlay operations fail with a clear error meanwhile.
 */
async function joinCluster(cluster: EtcdClusterStore, log: Logger): Promise<void> {
  try {
    await cluster.start();
  } catch (err) {
    log.log('warn', 'the cluster store does not answer yet: overlay networks are unavailable until it does', { error: messageOf(err) });
    const retry = setInterval(() => {
      cluster.start().then(
        () => {
          clearInterval(retry);
          log.log('info', 'joined the cluster store');
        },
        () => undefined,
      );
    }, 2000);
    retry.unref();
  }
}

export function main(argv: string[]): void {
  let opts: DaemonOptions | 'help';
  try {
    opts = parseDaemonArgs(argv);
  } catch (err) {
    process.stderr.write(`cnmd: ${messageOf(err)}\n`);
    process.exit(125);
  }
  if (opts === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  // `ps`, `top` and /proc/PID/comm say cnmd, not node.
  process.title = 'cnmd';
  const log = jsonLogger(opts.logLevel);
  startDaemon(opts, log).then(
    (daemon) => {
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        log.log('info', 'stopping', { signal });
        daemon.stop().then(
          () => process.exit(0),
          (err) => {
            log.log('error', 'stop failed', { error: messageOf(err) });
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    },
    (err) => {
      log.log('error', 'cnmd failed to start', { error: err instanceof CnmError ? err.message : err instanceof Error ? err.stack : String(err) });
      process.exit(1);
    },
  );
}
