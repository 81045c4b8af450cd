/**
 * Docker-compatible output of the cnm CLI: `network ls`, `ps`, `inspect` (JSON or `--format`)
 * and `port`. Every function returns the exact stdout text (newlines included) and throws
 * CnmError('invalid', 'Template parsing error: template: :1:2: ...') for a bad or failing
 * template, as the docker CLI reports both (print the message, exit 1).
 */
import type { ContainerSummary, NetworkResource } from '../../api/engine-types';
import { CONTAINER_JSON, decodeJSON, NETWORK_RESOURCE, rawJSONValue } from './docker-types';
import { marshalRaw, type RawJSON } from './gojson';
import { CONTAINER_HEADER, containerRow, headerContext, NETWORK_HEADER, networkRow } from './list-contexts';
import { naturalCompare } from './natural-sort';
import { parseFormat, templateError, writeList } from './table';
import { TemplateExecError } from './template';

export { formatPorts } from './ports';

export interface NetworkListOptions {
  /** `--format`: a Go template, `table [TEMPLATE]`, `raw` or `json`; default `table`. */
  format?: string;
  quiet: boolean;
  noTrunc: boolean;
}

const DEFAULT_NETWORK_TABLE = 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}';

/** `network ls`: rows sorted by name (naturally), IDs cut to 12 hex unless noTrunc. */
export function formatNetworkList(networks: NetworkResource[], opts: NetworkListOptions): string {
  const source = opts.format || 'table';
  let format: string;
  if (source === 'table') format = opts.quiet ? '{{.ID}}' : DEFAULT_NETWORK_TABLE;
  else if (source === 'raw') format = opts.quiet ? 'network_id: {{.ID}}' : 'network_id: {{.ID}}\\nname: {{.Name}}\\ndriver: {{.Driver}}\\nscope: {{.Scope}}\\n';
  else format = source; // docker network ls keeps a custom format even with -q
  const sorted = [...networks].sort((a, b) => naturalCompare(a.Name, b.Name));
  return writeList(format, headerContext(NETWORK_HEADER), sorted.map((n) => networkRow(n, !opts.noTrunc)));
}

export interface ContainerListOptions {
  /** `--format`: a Go template, `table [TEMPLATE]`, `raw` or `json`; default `table`. */
  format?: string;
  /** Only IDs; overrides any format, as in docker ps. */
  quiet: boolean;
  noTrunc: boolean;
  /** `-a` selects which containers are listed (the daemon's job); it does not change formatting. */
  all?: boolean;
  /** The clock for "5 minutes ago"; defaults to now. */
  now?: Date;
}

const DEFAULT_CONTAINER_TABLE = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';
const RAW_CONTAINER = `container_id: {{.ID}}
image: {{.Image}}
command: {{.Command}}
created_at: {{.CreatedAt}}
state: {{- pad .State 1 0}}
status: {{- pad .Status 1 0}}
names: {{.Names}}
labels: {{- pad .Labels 1 0}}
ports: {{- pad .Ports 1 0}}
`;

/** `ps`: rows in the order given (the daemon's, newest first). */
export function formatContainerList(containers: ContainerSummary[], opts: ContainerListOptions): string {
  const source = opts.format || 'table';
  let format: string;
  if (source === 'raw') format = opts.quiet ? 'container_id: {{.ID}}' : RAW_CONTAINER;
  else if (opts.quiet) format = '{{.ID}}';
  else format = source === 'table' ? DEFAULT_CONTAINER_TABLE : source;
  const now = opts.now ?? new Date();
  return writeList(format, headerContext(CONTAINER_HEADER), containers.map((c) => containerRow(c, !opts.noTrunc, now)));
}

/**
 * `inspect`: without a format, the objects as a JSON array indented by 4 spaces (`[]` when there
 * are none), keys in the order the daemon sent them; `json` gives it compact. With a template,
 * one line per object: the template runs on the Go type (types.NetworkResource or
 * types.ContainerJSON) and, if that fails, on the raw JSON with missingkey=error, as the docker
 * CLI does, so JSON names work too (`.Id` as well as `.ID`).
 */
export function formatInspect(objects: unknown[], kind: 'network' | 'container', format?: string): string {
  if (!format) return `${marshalRaw(objects as RawJSON, '    ')}\n`;
  if (format === 'json') return `${marshalRaw(objects as RawJSON, '')}\n`;
  const tmpl = parseFormat(format);
  const type = kind === 'network' ? NETWORK_RESOURCE : CONTAINER_JSON;
  let out = '';
  for (const obj of objects) {
    try {
      out += `${tmpl.execute(decodeJSON(type, obj))}\n`;
    } catch (typedError) {
      if (!(typedError instanceof TemplateExecError)) throw typedError;
      try {
        out += `${tmpl.execute(rawJSONValue(obj), { missingKey: 'error' })}\n`;
      } catch (rawError) {
        throw templateError(rawError);
      }
    }
  }
  return out === '' ? '\n' : out;
}
