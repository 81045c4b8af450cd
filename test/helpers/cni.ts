/**
 * Running a CNI plugin the way a runtime does: exec it with the CNI_* environment and the
 * network configuration on stdin, read its stdout and exit status.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';

export const REPO = path.resolve(__dirname, '..', '..', '..');
/** The plugin as built (`cnm cni install` copies it to the runtime's bin dir as `cnm`). */
export const CNM_PLUGIN = path.join(REPO, 'build', 'Release', 'cnm-cni');

export interface CniEnv {
  command: string;
  containerId?: string;
  netns?: string;
  ifName?: string;
  args?: string;
  path?: string;
}

export interface PluginRun {
  code: number;
  out: string;
  err: string;
  /** stdout parsed, when it is JSON */
  json: Record<string, unknown> | undefined;
}

export function runPlugin(plugin: string, env: CniEnv, config: unknown, extraEnv: Record<string, string> = {}): Promise<PluginRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(plugin, [], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        CNI_COMMAND: env.command,
        CNI_CONTAINERID: env.containerId ?? '',
        CNI_NETNS: env.netns ?? '',
        CNI_IFNAME: env.ifName ?? '',
        CNI_ARGS: env.args ?? '',
        CNI_PATH: env.path ?? path.dirname(plugin),
        ...extraEnv,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      let json: Record<string, unknown> | undefined;
      try {
        json = out.trim() ? (JSON.parse(out) as Record<string, unknown>) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ code: code ?? -1, out, err, json });
    });
    child.stdin.end(typeof config === 'string' ? config : JSON.stringify(config));
  });
}

/** The plugin's entry of a conflist as `cnm cni install` writes it, with the runtime's additions. */
export function pluginConfig(network: string, socket: string, extra: Record<string, unknown> = {}, version = '1.0.0'): Record<string, unknown> {
  return { cniVersion: version, name: network, type: 'cnm', socket, ...extra };
}
