/** /_ping, /version, /info and /metrics. */
import os from 'node:os';
import type { Controller } from '../controller/controller';
import type { Router } from './http';
import { API_VERSION, json, MIN_API_VERSION } from './http';

export const CNM_VERSION = '0.1.0';

export function addSystemRoutes(router: Router, ctl: Controller, metrics: () => string): void {
  router.add('GET', '/_ping', () => ({ status: 200, text: 'OK', contentType: 'text/plain; charset=utf-8' }));
  router.add('GET', '/version', () =>
    json(200, {
      Platform: { Name: 'cnm' },
      Version: CNM_VERSION,
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: '',
      GoVersion: `node ${process.version}`,
      Os: 'linux',
      Arch: os.arch() === 'x64' ? 'amd64' : os.arch(),
      KernelVersion: os.release(),
      BuildTime: '',
      Components: [{ Name: 'cnm', Version: CNM_VERSION, Details: { ApiVersion: API_VERSION } }],
    }),
  );
  router.add('GET', '/info', () => {
    const sandboxes = ctl.sandboxes();
    const running = sandboxes.filter((s) => s.process.status === 'running').length;
    return json(200, {
      ID: '',
      Containers: sandboxes.length,
      ContainersRunning: running,
      ContainersPaused: 0,
      ContainersStopped: sandboxes.length - running,
      Images: 0,
      Driver: 'cnm',
      Name: os.hostname(),
      OperatingSystem: 'cnm',
      OSType: 'linux',
      Architecture: os.arch(),
      KernelVersion: os.release(),
      NCPU: os.cpus().length,
      MemTotal: os.totalmem(),
      ServerVersion: CNM_VERSION,
      Plugins: { Network: ['bridge', 'host', 'null', ...ctl.networks().map((n) => n.driver)].filter((d, i, a) => a.indexOf(d) === i), Volume: [], Log: [] },
    });
  });
  router.add('GET', '/metrics', () => ({ status: 200, text: metrics(), contentType: 'text/plain; version=0.0.4' }));
}
