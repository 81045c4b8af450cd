/**
 * The real daemon as a server under test: cnmd started in a lab of its own (test/helpers/lab: a
 * private host namespace, its own root and run directories), pinned to the server core, with the
 * bench's N sandboxes c0..c<N-1> created through its API on one user-defined network with the
 * bench's addresses (lab-state.ts), so the query files fit it unchanged. dnsperf runs inside
 * sandbox c0 and asks 127.0.0.11 there, as a container does; forwarded names go to the bench's
 * upstream stub started in the daemon's host namespace (cnmd dials upstreams from there).
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Lab as DaemonLab } from '../../test/helpers/lab';
import { GATEWAY_V4, GATEWAY_V6, NETWORK, endpoints } from './lab-state';
import { answering, stopper, type ServerUnderTest } from './servers';

const run = promisify(execFile);

function rssBytes(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
}

async function api(lab: DaemonLab, method: string, url: string, body: unknown, expected: number): Promise<void> {
  const r = await lab.api(method, url, body);
  if (r.status !== expected) throw new Error(`${method} ${url}: ${r.status} ${r.raw}`);
}

/**
 * While called: sandboxes created and removed through the API one after the other (each create
 * connects one to the bench network: a new DNS state, a resolver update, listeners opened and
 * closed), as a busy host would.
 */
function busyLoop(lab: DaemonLab): () => () => Promise<number> {
  return () => {
    let running = true;
    let operations = 0;
    const loop = (async () => {
      for (let i = 0; running; i++) {
        const name = `busy${i}`;
        await api(lab, 'POST', `/containers/create?name=${name}`, { HostConfig: { NetworkMode: NETWORK } }, 201);
        await api(lab, 'DELETE', `/containers/${name}?force=1`, undefined, 204);
        operations += 2;
      }
    })();
    return async () => {
      running = false;
      await loop;
      return operations;
    };
  };
}

/** The real daemon: `cnmd` with its native responder (the default), `cnmd js` with CNM_DNS_NATIVE=0. */
function daemon(name: string, native: boolean): ServerUnderTest {
  return {
    name,
    address: '127.0.0.11',
    async start(bench) {
      // The daemon inherits the environment when it is spawned.
      const saved = process.env.CNM_DNS_NATIVE;
      process.env.CNM_DNS_NATIVE = native ? '1' : '0';
      const starting = DaemonLab.start({ daemonArgs: ['--dns', bench.upstream, '--log-level', 'warn'] });
      if (saved === undefined) delete process.env.CNM_DNS_NATIVE;
      else process.env.CNM_DNS_NATIVE = saved;
      const lab = await starting;
      const removeLab = async (): Promise<void> => {
        // The daemon first: lab.close() would otherwise remove its 1,000 containers one API call
        // at a time (minutes on a loaded machine, a window in which an interrupted bench left
        // every namespace mounted). Its sandboxes are nothing but namespaces of the lab (no
        // programs run), which close() removes with the lab's host namespace.
        await lab.stopDaemon('SIGTERM');
        await lab.close();
      };
      bench.adopt?.(lab.dir, removeLab);
      let stopStub = async (): Promise<void> => {};
      try {
        const stub = spawn('nsenter', [`--net=${lab.hostNs}`, process.execPath, path.join(__dirname, 'upstream-stub.js'), bench.upstream, '53'], { stdio: 'ignore' });
        stopStub = stopper(stub.pid!);
        const pid = lab.daemonPid!;
        // Every thread, as the other servers are pinned from their start.
        await run('taskset', ['-a', '-p', '-c', String(bench.serverCpu), String(pid)]);
        const rssBefore = rssBytes(pid);

        const started = performance.now();
        await api(lab, 'POST', '/networks/create', {
          Name: NETWORK,
          EnableIPv6: true,
          IPAM: { Config: [{ Subnet: '10.99.0.0/16', Gateway: GATEWAY_V4 }, { Subnet: 'fd99::/64', Gateway: GATEWAY_V6 }] },
        }, 201);
        for (const [i, e] of endpoints(bench.sandboxes).entries()) {
          await api(lab, 'POST', `/containers/create?name=c${i}`, {
            HostConfig: { NetworkMode: NETWORK },
            NetworkingConfig: { EndpointsConfig: { [NETWORK]: { IPAMConfig: { IPv4Address: e.ipv4, IPv6Address: e.ipv6 } } } },
          }, 201);
        }
        const createMs = performance.now() - started;
        const rssLoaded = rssBytes(pid);
        const clientNs = await lab.sandboxNs('c0');
        await answering(clientNs, '127.0.0.11');
        // As cnm-server.ts: V8 hands back the heap it grew while loading once it has been idle a while.
        await new Promise((r) => setTimeout(r, 15_000));
        const perSandbox = (rss: number): number => Math.round((rss - rssBefore) / bench.sandboxes);
        const report = {
          ready: true,
          sandboxes: bench.sandboxes,
          createSandboxesMs: Math.round(createMs),
          perSandboxCreateMs: Number((createMs / bench.sandboxes).toFixed(1)),
          rssGrowthPerSandbox: { loaded: perSandbox(rssLoaded), settled: perSandbox(rssBytes(pid)) },
        };
        return {
          pid,
          clientNs,
          report,
          busy: busyLoop(lab),
          stop: async () => {
            await stopStub();
            await removeLab();
          },
        };
      } catch (err) {
        await stopStub();
        await removeLab();
        throw err;
      }
    },
  };
}

export const cnmd = daemon('cnmd', true);
export const cnmdJs = daemon('cnmd js', false);
