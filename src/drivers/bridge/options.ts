/** The bridge driver's -o options (Docker's names) parsed into typed settings. Pure. */
import { invalid } from '../../errors';
import { parseBoolOption } from '../shared-options';

export const BRIDGE_OPTIONS = {
  name: 'com.docker.network.bridge.name',
  icc: 'com.docker.network.bridge.enable_icc',
  masquerade: 'com.docker.network.bridge.enable_ip_masquerade',
  hostBindingIpv4: 'com.docker.network.bridge.host_binding_ipv4',
  defaultBridge: 'com.docker.network.bridge.default_bridge',
  mtu: 'com.docker.network.driver.mtu',
} as const;

export interface BridgeSettings {
  /** explicit bridge device name, if given */
  name?: string;
  icc: boolean;
  masquerade: boolean;
  hostBindingIpv4: string;
  mtu: number;
  defaultBridge: boolean;
}

const KNOWN = new Set<string>(Object.values(BRIDGE_OPTIONS));
const IFNAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/;

export function parseBridgeOptions(options: Record<string, string>): BridgeSettings {
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) {
      throw invalid(`unknown option "${key}" for driver bridge; known options: ${[...KNOWN].filter((k) => k !== BRIDGE_OPTIONS.defaultBridge).join(', ')}`);
    }
  }
  const name = options[BRIDGE_OPTIONS.name];
  if (name !== undefined && !IFNAME.test(name)) {
    throw invalid(`invalid bridge name "${name}": use 1-15 letters, digits, '_', '.' or '-'`);
  }
  const mtuText = options[BRIDGE_OPTIONS.mtu];
  const mtu = mtuText === undefined ? 1500 : Number(mtuText);
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw invalid(`invalid MTU "${mtuText}": use an integer between 68 and 65535`);
  const hostBindingIpv4 = options[BRIDGE_OPTIONS.hostBindingIpv4] ?? '0.0.0.0';
  if (!/^(\d{1,3})(\.\d{1,3}){3}$/.test(hostBindingIpv4) || hostBindingIpv4.split('.').some((o) => Number(o) > 255)) {
    throw invalid(`invalid host binding address "${hostBindingIpv4}" for option ${BRIDGE_OPTIONS.hostBindingIpv4}`);
  }
  return {
    ...(name !== undefined ? { name } : {}),
    icc: options[BRIDGE_OPTIONS.icc] === undefined ? true : parseBoolOption(BRIDGE_OPTIONS.icc, options[BRIDGE_OPTIONS.icc]!),
    masquerade: options[BRIDGE_OPTIONS.masquerade] === undefined ? true : parseBoolOption(BRIDGE_OPTIONS.masquerade, options[BRIDGE_OPTIONS.masquerade]!),
    hostBindingIpv4,
    mtu,
    defaultBridge: options[BRIDGE_OPTIONS.defaultBridge] === 'true',
  };
}

/** Docker's naming: br-<first 12 hex of the network id>, unless -o ...bridge.name says otherwise. */
export function bridgeDeviceName(networkId: string, settings: BridgeSettings): string {
  return settings.name ?? `br-${networkId.slice(0, 12)}`;
}

/** Host side of an endpoint's veth pair: veth<7 hex>, as Docker names them. */
export function hostVethName(endpointId: string): string {
  return `veth${endpointId.slice(0, 7)}`;
}
