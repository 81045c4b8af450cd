/**
 * What `cnm cni install` writes: one conflist per cnm network, whose only plugin is `cnm` with
 * cnmd's socket recorded (a runtime's clean-up DEL may come from a process without the
 * variables the ADD had) and the capabilities whose runtimeConfig cnmd honours. Pure.
 */
import path from 'node:path';

/** Where the plugin is after `npm run build` (dist/src/cni -> build/Release). */
export const BUILT_PLUGIN = path.join(__dirname, '..', '..', '..', 'build', 'Release', 'cnm-cni');
/** The plugin's name in the runtime's bin dir: the conflist's "type". */
export const PLUGIN_NAME = 'cnm';
export const DEFAULT_CONF_DIR = '/etc/cni/net.d';
export const DEFAULT_BIN_DIR = '/opt/cni/bin';
/**
 * The config version written: the newest one podman 4.3 (libcni 1.1.2) and containerd 1.6
 * (libcni 1.1.1) accept.
 */
export const CONFLIST_VERSION = '1.0.0';

/**
 * Sorts before Debian podman's 87-podman-bridge.conflist: `ctr run --cni` uses only the first
 * file of the directory.
 */
export function conflistFileName(network: string): string {
  return `10-cnm-${network}.conflist`;
}

export function conflist(network: string, socket: string): Record<string, unknown> {
  return {
    cniVersion: CONFLIST_VERSION,
    name: network,
    plugins: [
      {
        type: PLUGIN_NAME,
        socket,
        capabilities: { portMappings: true, aliases: true, ips: true, mac: true },
      },
    ],
  };
}
