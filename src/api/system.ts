/** /_ping, /version, /info and /metrics. */
import os from 'node:os';
import type { Controller } from '../controller/controller';
import type { ProcessRuntime } from '../runtime/processes';
import type { Reply, Router } from './http';
import { json } from './http';
import { isUp } from './present';
import { API_VERSION, CNM_VERSION, MIN_API_VERSION } from './version';

/** Go's GOARCH names, which clients print and compare. */
const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' };
/** `uname -m` names, which /info's Architecture carries. */
const UNAME_ARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', arm: 'armv7l', ia32: 'i686', ppc64: 'ppc64le', s390x: 's390x' };

/**
 * Docker's ping: no-cache headers on GET and HEAD, "OK" for GET, an empty text body for HEAD.
 * No Builder-Version: cnm builds no images, and clients treat a missing header as "decide
 * yourself" rather than promising a builder that is not there.
 */
function ping(): Reply {
  return {
    status: 200,
    text: 'OK',
    contentType: 'text/plain; charset=utf-8',
    headers: { 'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache' },
  };
}

export function addSystemRoutes(router: Router, ctl: Controller, runtime: ProcessRuntime, metrics: () => string): void {
  router.add('GET', '/_ping', ping);
  router.add('HEAD', '/_ping', ping);

  router.add('GET', '/version', () => {
    const engine = {
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: '',
      GoVersion: `node ${process.version}`,
      Os: 'linux',
      Arch: GOARCH[os.arch()] ?? os.arch(),
      KernelVersion: os.release(),
      BuildTime: '',
      Experimental: 'false',
    };
    return json(200, {
      Platform: { Name: 'cnm' },
      // The docker CLI prints the "Engine" component in its own layout.
      Components: [{ Name: 'Engine', Version: CNM_VERSION, Details: engine }],
      Version: CNM_VERSION,
      ...engine,
      Experimental: false,
    });
  });

  router.add('GET', '/info', () => {
    const sandboxes = ctl.sandboxes();
    const running = sandboxes.filter((s) => isUp(s, runtime)).length;
    const drivers = ['bridge', 'host', 'null', ...ctl.networks().map((n) => n.driver)].filter((d, i, a) => a.indexOf(d) === i);
    return json(200, {
      ID: '',
      Containers: sandboxes.length,
      ContainersRunning: running,
      ContainersPaused: 0,
      ContainersStopped: sandboxes.length - running,
      Images: 0,
      Driver: 'cnm',
      Plugins: { Volume: null, Network: drivers, Authorization: null, Log: null },
      KernelVersion: os.release(),
      OperatingSystem: 'cnm',
      OSType: 'linux',
      Architecture: UNAME_ARCH[os.arch()] ?? os.arch(),
      NCPU: os.cpus().length,
      MemTotal: os.totalmem(),
      Name: os.hostname(),
      ServerVersion: CNM_VERSION,
      ExperimentalBuild: false,
      // Clients read Swarm.LocalNodeState to decide whether to offer swarm features.
      Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
      Warnings: null,
    });
  });

  router.add('GET', '/metrics', () => ({ status: 200, text: metrics(), contentType: 'text/plain; version=0.0.4' }));
}
