/**
 * Schemas of the Docker Engine API Go types that `inspect --format` evaluates (docker/docker
 * api/types as of Engine 20.10), and decoding of the API's JSON into them, as the docker CLI's
 * json.Unmarshal does. Field order is Go's declaration order: `{{.IPAM.Config}}` prints
 * `[{10.0.0.0/24  10.0.0.1 map[]}]` because IPAMConfig is {Subnet IPRange Gateway AuxAddress}.
 *
 * Modelled in full: NetworkResource and everything under it, ContainerJSON(Base), ContainerState,
 * container.Config, NetworkSettings, EndpointSettings. container.HostConfig keeps only the fields
 * cnm reports (NetworkMode, PortBindings, AutoRemove, Dns, DnsOptions, DnsSearch, ExtraHosts), in
 * Go's relative order; printing a whole `{{.HostConfig}}` therefore differs from Docker's.
 */
import {
  BOOL, field, type GoType, type GoValue, IFACE, INT, INT64, int, JSON_NUMBER, map, mapOf, namedString, NIL_IFACE, ptr, ptrTo,
  slice, sliceOf, STRING, str, struct, structType, type StructType, TIME, time, zeroValue, bool, float,
} from './govalue';
import { parseRFC3339 } from './gotime';

const omit = { omitempty: true };
const STRINGS = sliceOf(STRING);
const STRING_MAP = mapOf(STRING);
const EMPTY_STRUCT = structType('struct {}', []);

// --- networks (types.NetworkResource) ---

const IPAM_CONFIG = structType('network.IPAMConfig', [
  field('Subnet', STRING, omit),
  field('IPRange', STRING, omit),
  field('Gateway', STRING, omit),
  field('AuxAddress', STRING_MAP, { json: 'AuxiliaryAddresses', omitempty: true }),
]);
const IPAM = structType('network.IPAM', [field('Driver', STRING), field('Options', STRING_MAP), field('Config', sliceOf(IPAM_CONFIG))]);
const CONFIG_REFERENCE = structType('network.ConfigReference', [field('Network', STRING)]);
export const ENDPOINT_RESOURCE = structType('types.EndpointResource', [
  field('Name', STRING),
  field('EndpointID', STRING),
  field('MacAddress', STRING),
  field('IPv4Address', STRING),
  field('IPv6Address', STRING),
]);
const PEER_INFO = structType('network.PeerInfo', [field('Name', STRING), field('IP', STRING)]);
const TASK = structType('network.Task', [field('Name', STRING), field('EndpointID', STRING), field('EndpointIP', STRING), field('Info', STRING_MAP)]);
const SERVICE_INFO = structType('network.ServiceInfo', [
  field('VIP', STRING),
  field('Ports', STRINGS),
  field('LocalLBIndex', INT),
  field('Tasks', sliceOf(TASK)),
]);

export const NETWORK_RESOURCE = structType('types.NetworkResource', [
  field('Name', STRING),
  field('ID', STRING, { json: 'Id' }),
  field('Created', TIME),
  field('Scope', STRING),
  field('Driver', STRING),
  field('EnableIPv6', BOOL),
  field('IPAM', IPAM),
  field('Internal', BOOL),
  field('Attachable', BOOL),
  field('Ingress', BOOL),
  field('ConfigFrom', CONFIG_REFERENCE),
  field('ConfigOnly', BOOL),
  field('Containers', mapOf(ENDPOINT_RESOURCE)),
  field('Options', STRING_MAP),
  field('Labels', STRING_MAP),
  field('Peers', sliceOf(PEER_INFO), omit),
  field('Services', mapOf(SERVICE_INFO), omit),
]);

// --- containers (types.ContainerJSON) ---

const HEALTHCHECK_RESULT = structType('types.HealthcheckResult', [
  field('Start', TIME),
  field('End', TIME),
  field('ExitCode', INT),
  field('Output', STRING),
]);
const HEALTH = structType('types.Health', [field('Status', STRING), field('FailingStreak', INT), field('Log', sliceOf(ptrTo(HEALTHCHECK_RESULT)))]);
const CONTAINER_STATE = structType('types.ContainerState', [
  field('Status', STRING),
  field('Running', BOOL),
  field('Paused', BOOL),
  field('Restarting', BOOL),
  field('OOMKilled', BOOL),
  field('Dead', BOOL),
  field('Pid', INT),
  field('ExitCode', INT),
  field('Error', STRING),
  field('StartedAt', STRING),
  field('FinishedAt', STRING),
  field('Health', ptrTo(HEALTH), omit),
]);
const CONTAINER_NODE = structType('types.ContainerNode', [
  field('ID', STRING),
  field('IPAddress', STRING, { json: 'IP' }),
  field('Addr', STRING),
  field('Name', STRING),
  field('Cpus', INT),
  field('Memory', INT64),
  field('Labels', STRING_MAP),
]);

const PORT = namedString('nat.Port');
const PORT_BINDING = structType('nat.PortBinding', [field('HostIP', STRING, { json: 'HostIp' }), field('HostPort', STRING)]);
const PORT_MAP = mapOf(sliceOf(PORT_BINDING), { key: PORT, name: 'nat.PortMap' });
const STR_SLICE = sliceOf(STRING, 'strslice.StrSlice');
/** time.Duration is printed as an integer here (its String method is not modelled). */
const DURATION = { kind: 'int' as const, name: 'time.Duration' };

const HOST_CONFIG = structType('container.HostConfig', [
  field('NetworkMode', namedString('container.NetworkMode')),
  field('PortBindings', PORT_MAP),
  field('AutoRemove', BOOL),
  field('DNS', STRINGS, { json: 'Dns' }),
  field('DNSOptions', STRINGS, { json: 'DnsOptions' }),
  field('DNSSearch', STRINGS, { json: 'DnsSearch' }),
  field('ExtraHosts', STRINGS),
]);
const HEALTH_CONFIG = structType('container.HealthConfig', [
  field('Test', STRINGS, omit),
  field('Interval', DURATION, omit),
  field('Timeout', DURATION, omit),
  field('StartPeriod', DURATION, omit),
  field('Retries', INT, omit),
]);
const CONTAINER_CONFIG = structType('container.Config', [
  field('Hostname', STRING),
  field('Domainname', STRING),
  field('User', STRING),
  field('AttachStdin', BOOL),
  field('AttachStdout', BOOL),
  field('AttachStderr', BOOL),
  field('ExposedPorts', mapOf(EMPTY_STRUCT, { key: PORT, name: 'nat.PortSet' }), omit),
  field('Tty', BOOL),
  field('OpenStdin', BOOL),
  field('StdinOnce', BOOL),
  field('Env', STRINGS),
  field('Cmd', STR_SLICE),
  field('Healthcheck', ptrTo(HEALTH_CONFIG), omit),
  field('ArgsEscaped', BOOL, omit),
  field('Image', STRING),
  field('Volumes', mapOf(EMPTY_STRUCT)),
  field('WorkingDir', STRING),
  field('Entrypoint', STR_SLICE),
  field('NetworkDisabled', BOOL, omit),
  field('MacAddress', STRING, omit),
  field('OnBuild', STRINGS),
  field('Labels', STRING_MAP),
  field('StopSignal', STRING, omit),
  field('StopTimeout', ptrTo(INT), omit),
  field('Shell', STR_SLICE, omit),
]);
const GRAPH_DRIVER_DATA = structType('types.GraphDriverData', [field('Data', STRING_MAP), field('Name', STRING)]);
const MOUNT_POINT = structType('types.MountPoint', [
  field('Type', namedString('mount.Type'), omit),
  field('Name', STRING, omit),
  field('Source', STRING),
  field('Destination', STRING),
  field('Driver', STRING, omit),
  field('Mode', STRING),
  field('RW', BOOL),
  field('Propagation', namedString('mount.Propagation')),
]);
const CONTAINER_JSON_BASE = structType('types.ContainerJSONBase', [
  field('ID', STRING, { json: 'Id' }),
  field('Created', STRING),
  field('Path', STRING),
  field('Args', STRINGS),
  field('State', ptrTo(CONTAINER_STATE)),
  field('Image', STRING),
  field('ResolvConfPath', STRING),
  field('HostnamePath', STRING),
  field('HostsPath', STRING),
  field('LogPath', STRING),
  field('Node', ptrTo(CONTAINER_NODE), omit),
  field('Name', STRING),
  field('RestartCount', INT),
  field('Driver', STRING),
  field('Platform', STRING),
  field('MountLabel', STRING),
  field('ProcessLabel', STRING),
  field('AppArmorProfile', STRING),
  field('ExecIDs', STRINGS),
  field('HostConfig', ptrTo(HOST_CONFIG)),
  field('GraphDriver', GRAPH_DRIVER_DATA),
  field('SizeRw', ptrTo(INT64), omit),
  field('SizeRootFs', ptrTo(INT64), omit),
]);

const ADDRESS = structType('network.Address', [field('Addr', STRING), field('PrefixLen', INT)]);
const ENDPOINT_IPAM_CONFIG = structType('network.EndpointIPAMConfig', [
  field('IPv4Address', STRING, omit),
  field('IPv6Address', STRING, omit),
  field('LinkLocalIPs', STRINGS, omit),
]);
export const ENDPOINT_SETTINGS = structType('network.EndpointSettings', [
  field('IPAMConfig', ptrTo(ENDPOINT_IPAM_CONFIG)),
  field('Links', STRINGS),
  field('Aliases', STRINGS),
  field('NetworkID', STRING),
  field('EndpointID', STRING),
  field('Gateway', STRING),
  field('IPAddress', STRING),
  field('IPPrefixLen', INT),
  field('IPv6Gateway', STRING),
  field('GlobalIPv6Address', STRING),
  field('GlobalIPv6PrefixLen', INT),
  field('MacAddress', STRING),
  field('DriverOpts', STRING_MAP),
]);
const NETWORK_SETTINGS_BASE = structType('types.NetworkSettingsBase', [
  field('Bridge', STRING),
  field('SandboxID', STRING),
  field('HairpinMode', BOOL),
  field('LinkLocalIPv6Address', STRING),
  field('LinkLocalIPv6PrefixLen', INT),
  field('Ports', PORT_MAP),
  field('SandboxKey', STRING),
  field('SecondaryIPAddresses', sliceOf(ADDRESS)),
  field('SecondaryIPv6Addresses', sliceOf(ADDRESS)),
]);
const DEFAULT_NETWORK_SETTINGS = structType('types.DefaultNetworkSettings', [
  field('EndpointID', STRING),
  field('Gateway', STRING),
  field('GlobalIPv6Address', STRING),
  field('GlobalIPv6PrefixLen', INT),
  field('IPAddress', STRING),
  field('IPPrefixLen', INT),
  field('IPv6Gateway', STRING),
  field('MacAddress', STRING),
]);
const NETWORK_SETTINGS = structType('types.NetworkSettings', [
  field('NetworkSettingsBase', NETWORK_SETTINGS_BASE, { embedded: true }),
  field('DefaultNetworkSettings', DEFAULT_NETWORK_SETTINGS, { embedded: true }),
  field('Networks', mapOf(ptrTo(ENDPOINT_SETTINGS))),
]);

export const CONTAINER_JSON = structType('types.ContainerJSON', [
  field('ContainerJSONBase', ptrTo(CONTAINER_JSON_BASE), { embedded: true }),
  field('Mounts', sliceOf(MOUNT_POINT)),
  field('Config', ptrTo(CONTAINER_CONFIG)),
  field('NetworkSettings', ptrTo(NETWORK_SETTINGS)),
]);

// --- decoding ---

type JSONObject = { [key: string]: unknown };
const isObject = (x: unknown): x is JSONObject => typeof x === 'object' && x !== null && !Array.isArray(x);

/** encoding/json matches keys exactly first, then case-insensitively. */
function lookupKey(obj: JSONObject, key: string): unknown {
  if (Object.prototype.hasOwnProperty.call(obj, key)) return obj[key];
  const lower = key.toLowerCase();
  const k = Object.keys(obj).find((candidate) => candidate.toLowerCase() === lower);
  return k === undefined ? undefined : obj[k];
}

/**
 * json.Unmarshal of an API JSON value into a Go type: absent or mistyped fields get their zero
 * value (the daemon is trusted; a lenient decode keeps formatting total), null leaves nil.
 */
export function decodeJSON(type: GoType, json: unknown): GoValue {
  if (json === undefined) return zeroValue(type);
  switch (type.kind) {
    case 'string':
      return typeof json === 'string' ? str(json, type) : zeroValue(type);
    case 'int':
      return typeof json === 'number' ? int(Math.trunc(json), type) : zeroValue(type);
    case 'float64':
      return typeof json === 'number' ? float(json) : zeroValue(type);
    case 'bool':
      return typeof json === 'boolean' ? { ...bool(json), type } : zeroValue(type);
    case 'time': {
      const t = typeof json === 'string' ? parseRFC3339(json) : undefined;
      return t ? time(t) : zeroValue(type);
    }
    case 'interface':
      return rawJSONValue(json);
    case 'ptr':
      return json === null ? ptr(type, null) : ptr(type, decodeJSON(type.elem, json));
    case 'slice':
      return Array.isArray(json) ? slice(type, json.map((e) => decodeJSON(type.elem, e))) : zeroValue(type);
    case 'map':
      return isObject(json)
        ? map(type, new Map(Object.entries(json).map(([k, v]) => [k, decodeJSON(type.elem, v)])))
        : zeroValue(type);
    case 'struct':
      return isObject(json) ? decodeStruct(type, json) : zeroValue(type);
  }
}

function decodeStruct(type: StructType, obj: JSONObject): GoValue {
  return struct(
    type,
    type.fields.map((f) => {
      // An embedded struct's fields sit in the same JSON object.
      if (f.embedded) return f.type.kind === 'ptr' ? ptr(f.type, decodeJSON(f.type.elem, obj)) : decodeJSON(f.type, obj);
      return decodeJSON(f.type, lookupKey(obj, f.json));
    }),
  );
}

/**
 * The docker CLI's fallback for `inspect -f`: the raw JSON decoded into interface{} with
 * UseNumber, so objects are map[string]interface {}, arrays []interface {}, numbers json.Number.
 */
export function rawJSONValue(json: unknown): GoValue {
  if (json === null || json === undefined) return NIL_IFACE;
  if (typeof json === 'string') return str(json);
  if (typeof json === 'number') return str(String(json), JSON_NUMBER);
  if (typeof json === 'boolean') return bool(json);
  if (Array.isArray(json)) return slice(RAW_ARRAY, json.map(rawJSONValue));
  if (isObject(json)) return map(RAW_OBJECT, new Map(Object.entries(json).map(([k, v]) => [k, rawJSONValue(v)])));
  return NIL_IFACE;
}
const RAW_ARRAY = sliceOf(IFACE);
const RAW_OBJECT = mapOf(IFACE);
