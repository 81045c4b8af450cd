/**
 * The docker CLI's row contexts for list commands: a `network ls` row (network.networkContext)
 * and a `ps` row (formatter.ContainerContext). Templates see methods (`.ID`, `.Label "k"`), not
 * the API object; `{{json .}}` gives every argument-less method's result, keys sorted.
 * Also the header contexts that name the table columns.
 *
 * Docker iterates Go maps for `.Labels` and `.Networks`, so its order is random; we sort.
 */
import type { ContainerPort, ContainerSummary, NetworkResource } from '../../api/engine-types';
import { quoteGo } from './gofmt';
import { quoteJSON } from './gojson';
import {
  compareGoStrings, type GoMethod, type GoStruct, type GoValue, map, mapOf, type MethodSet, ptr, ptrTo, STRING, str,
  struct, structType,
} from './govalue';
import { humanDuration } from '../../human-duration';
import { parseRFC3339, timeString, unixLocal } from './gotime';

const stringMethod = <H>(get: (h: H) => string): GoMethod => ({
  params: [],
  call: (recv) => str(get((recv as GoStruct).hidden as H)),
});
const labelMethod = <H>(labels: (h: H) => Record<string, string> | null | undefined): GoMethod => ({
  params: [STRING],
  call: (recv, [name]) => str(labels((recv as GoStruct).hidden as H)?.[name!.kind === 'string' ? name.value : ''] ?? ''),
});

/** formatter.MarshalJSON: every exported method without arguments, as a JSON object (json.Marshal escapes HTML). */
function marshalMethods(methods: MethodSet): (v: GoStruct) => string {
  return (v) => {
    const names = Object.keys(methods).filter((n) => methods[n]!.params.length === 0).sort(compareGoStrings);
    const parts = names.map((n) => {
      const result = methods[n]!.call(v, []);
      return `${quoteJSON(n, true)}:${quoteJSON(result.kind === 'string' ? result.value : '', true)}`;
    });
    return `{${parts.join(',')}}`;
  };
}

/** stringid.TruncateID */
export function truncateID(id: string): string {
  const colon = id.indexOf(':');
  const bare = colon >= 0 ? id.slice(colon + 1) : id;
  return bare.length > 12 ? bare.slice(0, 12) : bare;
}

const joinLabels = (labels: Record<string, string> | null | undefined): string =>
  labels
    ? Object.keys(labels)
        .sort(compareGoStrings)
        .map((k) => `${k}=${labels[k]}`)
        .join(',')
    : '';

/** formatter.SubHeaderContext: column names by field, and `.Label "a.b-c"` → "b c". */
const HEADER_METHODS: MethodSet = {
  Label: {
    params: [STRING],
    call: (_recv, [name]) => {
      const parts = (name!.kind === 'string' ? name.value : '').split('.');
      return str(parts[parts.length - 1]!.replace(/[-_]/g, ' '));
    },
  },
};
const SUB_HEADER_CONTEXT = mapOf(STRING, { name: 'formatter.SubHeaderContext', methods: HEADER_METHODS });

export function headerContext(columns: Record<string, string>): GoValue {
  return map(SUB_HEADER_CONTEXT, new Map(Object.entries(columns).map(([k, v]) => [k, str(v)])));
}

// --- network ls ---

interface NetworkRow {
  n: NetworkResource;
  trunc: boolean;
}

const NETWORK_METHODS: MethodSet = {
  ID: stringMethod<NetworkRow>((h) => (h.trunc ? truncateID(h.n.Id) : h.n.Id)),
  Name: stringMethod<NetworkRow>((h) => h.n.Name),
  Driver: stringMethod<NetworkRow>((h) => h.n.Driver),
  Scope: stringMethod<NetworkRow>((h) => h.n.Scope),
  IPv6: stringMethod<NetworkRow>((h) => String(h.n.EnableIPv6)),
  Internal: stringMethod<NetworkRow>((h) => String(h.n.Internal)),
  Labels: stringMethod<NetworkRow>((h) => joinLabels(h.n.Labels)),
  Label: labelMethod<NetworkRow>((h) => h.n.Labels),
  CreatedAt: stringMethod<NetworkRow>((h) => {
    const t = parseRFC3339(h.n.Created);
    return t ? timeString(t) : '0001-01-01 00:00:00 +0000 UTC';
  }),
};
const NETWORK_CONTEXT = structType('network.networkContext', [], {
  methods: NETWORK_METHODS,
  marshalJSON: marshalMethods(NETWORK_METHODS),
});

export const NETWORK_HEADER = {
  ID: 'NETWORK ID',
  Name: 'NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  IPv6: 'IPV6',
  Internal: 'INTERNAL',
  Labels: 'LABELS',
  CreatedAt: 'CREATED AT',
};

export function networkRow(n: NetworkResource, trunc: boolean): GoValue {
  const row: NetworkRow = { n, trunc };
  return ptr(ptrTo(NETWORK_CONTEXT), struct(NETWORK_CONTEXT, [], row));
}

// --- ps ---

interface ContainerRow {
  c: ContainerSummary;
  trunc: boolean;
  now: Date;
}

/** Display width of a rune: East Asian wide and fullwidth characters take two columns. */
function charWidth(cp: number): number {
  const wide =
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x20000 && cp <= 0x3fffd);
  return wide ? 2 : 1;
}

/** formatter.Ellipsis: fit into maxDisplayWidth columns, ending with "…" when cut. */
export function ellipsis(s: string, maxDisplayWidth: number): string {
  if (maxDisplayWidth <= 0) return '';
  const runes = [...s];
  if (maxDisplayWidth === 1) return runes[0] ?? '';
  const widths = runes.map((r) => charWidth(r.codePointAt(0)!));
  const total = widths.reduce((a, b) => a + b, 0);
  if (total <= maxDisplayWidth) return s;
  let used = 0;
  let out = '';
  for (const [i, r] of runes.entries()) {
    if (used + widths[i]! > maxDisplayWidth - 1) break;
    used += widths[i]!;
    out += r;
  }
  return `${out}…`;
}

/**
 * formatter.DisplayablePorts as in Docker 20.10: sorted, consecutive ports grouped into ranges,
 * "0.0.0.0:8080->80/tcp, :::8080->80/tcp, 53/udp".
 */
export function displayablePorts(ports: ContainerPort[]): string {
  const sorted = [...ports].sort((a, b) => {
    if (a.PrivatePort !== b.PrivatePort) return a.PrivatePort - b.PrivatePort;
    const ia = a.IP ?? '';
    const ib = b.IP ?? '';
    if (ia !== ib) return compareGoStrings(ia, ib);
    if ((a.PublicPort ?? 0) !== (b.PublicPort ?? 0)) return (a.PublicPort ?? 0) - (b.PublicPort ?? 0);
    return compareGoStrings(a.Type, b.Type);
  });
  const groups = new Map<string, { first: number; last: number }>();
  const result: string[] = [];
  const hostMappings: string[] = [];
  const formGroup = (key: string, first: number, last: number): string => {
    const [ipOrType, type] = key.split('/') as [string, string | undefined];
    const range = first === last ? String(first) : `${first}-${last}`;
    return type === undefined ? `${range}/${ipOrType}` : `${ipOrType}:${range}->${range}/${type}`;
  };
  for (const p of sorted) {
    let key: string = p.Type;
    if (p.IP) {
      if ((p.PublicPort ?? 0) !== p.PrivatePort) {
        hostMappings.push(`${p.IP}:${p.PublicPort ?? 0}->${p.PrivatePort}/${p.Type}`);
        continue;
      }
      key = `${p.IP}/${p.Type}`;
    }
    const g = groups.get(key);
    if (!g) groups.set(key, { first: p.PrivatePort, last: p.PrivatePort });
    else if (p.PrivatePort === g.last + 1) g.last = p.PrivatePort;
    else {
      result.push(formGroup(key, g.first, g.last));
      groups.set(key, { first: p.PrivatePort, last: p.PrivatePort });
    }
  }
  for (const [key, g] of groups) result.push(formGroup(key, g.first, g.last));
  return [...result, ...hostMappings].join(', ');
}

/** The image as `docker ps` shows it: no digest, no docker.io/library/ prefix, or a short image ID. */
function displayImage(c: ContainerSummary, trunc: boolean): string {
  if (c.Image === '') return '<no image>';
  if (!trunc) return c.Image;
  if (truncateID(c.ImageID) === truncateID(c.Image)) return truncateID(c.Image);
  return c.Image.replace(/@sha256:[0-9a-f]{64}$/, '').replace(/^docker\.io\/(library\/)?/, '');
}

const CONTAINER_METHODS: MethodSet = {
  ID: stringMethod<ContainerRow>((h) => (h.trunc ? truncateID(h.c.Id) : h.c.Id)),
  Names: stringMethod<ContainerRow>((h) => {
    const names = h.c.Names.map((n) => n.replace(/^\//, ''));
    // Truncated, only the first name that is not a legacy link ("other/alias").
    if (h.trunc) return names.find((n) => !n.includes('/')) ?? '';
    return names.join(',');
  }),
  Image: stringMethod<ContainerRow>((h) => displayImage(h.c, h.trunc)),
  Command: stringMethod<ContainerRow>((h) => quoteGo(h.trunc ? ellipsis(h.c.Command, 20) : h.c.Command)),
  CreatedAt: stringMethod<ContainerRow>((h) => timeString(unixLocal(h.c.Created))),
  RunningFor: stringMethod<ContainerRow>((h) => `${humanDuration(h.now.getTime() - h.c.Created * 1000)} ago`),
  Ports: stringMethod<ContainerRow>((h) => displayablePorts(h.c.Ports)),
  State: stringMethod<ContainerRow>((h) => h.c.State),
  Status: stringMethod<ContainerRow>((h) => h.c.Status),
  // cnm reports no filesystem sizes or mounts.
  Size: stringMethod<ContainerRow>(() => '0B'),
  Labels: stringMethod<ContainerRow>((h) => joinLabels(h.c.Labels)),
  Label: labelMethod<ContainerRow>((h) => h.c.Labels),
  Mounts: stringMethod<ContainerRow>(() => ''),
  LocalVolumes: stringMethod<ContainerRow>(() => '0'),
  Networks: stringMethod<ContainerRow>((h) => Object.keys(h.c.NetworkSettings?.Networks ?? {}).sort(compareGoStrings).join(',')),
};
const CONTAINER_CONTEXT = structType('formatter.ContainerContext', [], {
  methods: CONTAINER_METHODS,
  marshalJSON: marshalMethods(CONTAINER_METHODS),
});

export const CONTAINER_HEADER = {
  ID: 'CONTAINER ID',
  Names: 'NAMES',
  Image: 'IMAGE',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED',
  Ports: 'PORTS',
  State: 'STATE',
  Status: 'STATUS',
  Size: 'SIZE',
  Labels: 'LABELS',
  Mounts: 'MOUNTS',
  LocalVolumes: 'LOCAL VOLUMES',
  Networks: 'NETWORKS',
};

export function containerRow(c: ContainerSummary, trunc: boolean, now: Date): GoValue {
  const row: ContainerRow = { c, trunc, now };
  return ptr(ptrTo(CONTAINER_CONTEXT), struct(CONTAINER_CONTEXT, [], row));
}
