/**
 * Sandbox records as they start out. A runtime-owned sandbox (a CNI attachment, a Docker
 * endpoint) runs no program of cnm's and gets no DNS settings, hosts or command from cnm: only
 * its identity, mode, network and ports differ.
 */
import { nowRfc3339Nano } from './ids';
import type { AttachedMode, HandoffMode, ProcessState, PublishedPortRequest, SandboxRecord } from './model';

/** The process state of a sandbox whose program has never run. */
export function neverStarted(): ProcessState {
  return { status: 'created', pid: 0, startTicks: 0, exitCode: 0, startedAt: '0001-01-01T00:00:00Z', finishedAt: '0001-01-01T00:00:00Z' };
}

export function runtimeSandbox<M extends AttachedMode | HandoffMode>(fields: {
  id: string;
  name: string;
  mode: M;
  networkMode: string;
  labels: Record<string, string>;
  publish: PublishedPortRequest[];
}): SandboxRecord & { mode: M } {
  return {
    ...fields,
    hostname: fields.name,
    domainname: '',
    created: nowRfc3339Nano(),
    nextInterface: 0,
    dns: { servers: [], search: [], options: [] },
    extraHosts: [],
    cmd: [],
    tty: false,
    openStdin: false,
    autoRemove: false,
    process: neverStarted(),
  };
}
