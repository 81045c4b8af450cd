/**
 * Go's encoding/json output: for GoValues (the template `json` function) and for raw JSON values
 * as the daemon sent them (`inspect` without a format re-indents the daemon's bytes).
 * Go specifics kept: struct fields in declaration order under their JSON names, `omitempty`,
 * embedded structs inlined, map keys sorted, nil slices/maps as `null`, time.Time as RFC 3339
 * with nanoseconds, control characters as `\u00XX`, U+2028/U+2029 always escaped, and `<`, `>`,
 * `&` escaped as `\u003c`... unless HTML escaping is off (Docker's `json` template function).
 */
import { type GoField, type GoStruct, type GoValue, sortedKeys, type StructType } from './govalue';
import { timeRFC3339Nano } from './gotime';

export interface JSONOptions {
  escapeHTML: boolean;
}

/** json.Marshal reports NaN and ±Inf as unsupported values. */
export class JSONUnsupportedValue extends Error {}

export function quoteJSON(s: string, escapeHTML: boolean): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (cp < 0x20 || (escapeHTML && (ch === '<' || ch === '>' || ch === '&'))) out += `\\u00${cp.toString(16).padStart(2, '0')}`;
    else if (cp === 0x2028 || cp === 0x2029) out += `\\u${cp.toString(16)}`;
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\\ufffd'; // a lone surrogate is not valid UTF-8
    else out += ch;
  }
  return `${out}"`;
}

function jsonFloat(x: number): string {
  if (!Number.isFinite(x)) throw new JSONUnsupportedValue(`json: unsupported value: ${x}`);
  return String(x); // JS and Go agree: exponent form below 1e-6 and from 1e21, shortest digits
}

/** json.Marshal of a Go value (compact). */
export function marshalGo(v: GoValue, opts: JSONOptions): string {
  switch (v.kind) {
    case 'invalid':
    case 'interface':
      return 'null';
    case 'string':
      if (v.type.name === 'json.Number') return v.value === '' ? '0' : v.value;
      return quoteJSON(v.value, opts.escapeHTML);
    case 'int':
      return String(v.value);
    case 'float64':
      return jsonFloat(v.value);
    case 'bool':
      return String(v.value);
    case 'time':
      return `"${timeRFC3339Nano(v.value)}"`;
    case 'ptr':
      return v.elem === null ? 'null' : marshalGo(v.elem, opts);
    case 'slice':
      return v.items === null ? 'null' : `[${v.items.map((i) => marshalGo(i, opts)).join(',')}]`;
    case 'map':
      if (v.entries === null) return 'null';
      return `{${sortedKeys(v.entries)
        .map((k) => `${quoteJSON(k, opts.escapeHTML)}:${marshalGo(v.entries!.get(k)!, opts)}`)
        .join(',')}}`;
    case 'struct':
      return marshalStruct(v, opts);
  }
}

interface JSONField {
  field: GoField;
  path: number[];
  depth: number;
}

/** The encoded fields of a struct type: embedded structs inlined, shallower names dominating. */
function jsonFields(t: StructType): JSONField[] {
  const all: JSONField[] = [];
  const walk = (type: StructType, path: number[], depth: number): void => {
    type.fields.forEach((f, i) => {
      const inner = f.type.kind === 'ptr' ? f.type.elem : f.type;
      if (f.embedded && inner.kind === 'struct') walk(inner, [...path, i], depth + 1);
      else all.push({ field: f, path: [...path, i], depth });
    });
  };
  walk(t, [], 0);
  return all.filter((jf) => {
    const rivals = all.filter((o) => o.field.json === jf.field.json);
    const minDepth = Math.min(...rivals.map((o) => o.depth));
    return jf.depth === minDepth && rivals.filter((o) => o.depth === minDepth).length === 1;
  });
}

/** Follows a path of field indexes; undefined when an embedded pointer on the way is nil. */
function valueAt(v: GoStruct, path: number[]): GoValue | undefined {
  let cur: GoValue = v;
  for (const i of path) {
    while (cur.kind === 'ptr') {
      if (cur.elem === null) return undefined;
      cur = cur.elem;
    }
    if (cur.kind !== 'struct') return undefined;
    cur = cur.fields[i]!;
  }
  return cur;
}

function isEmptyValue(v: GoValue): boolean {
  switch (v.kind) {
    case 'string':
      return v.value === '';
    case 'int':
    case 'float64':
      return v.value === 0;
    case 'bool':
      return !v.value;
    case 'ptr':
      return v.elem === null;
    case 'interface':
    case 'invalid':
      return true;
    case 'slice':
      return v.items === null || v.items.length === 0;
    case 'map':
      return v.entries === null || v.entries.size === 0;
    case 'time':
    case 'struct':
      return false;
  }
}

function marshalStruct(v: GoStruct, opts: JSONOptions): string {
  if (v.type.marshalJSON) return v.type.marshalJSON(v);
  const parts: string[] = [];
  for (const jf of jsonFields(v.type)) {
    const fv = valueAt(v, jf.path);
    if (fv === undefined || (jf.field.omitempty && isEmptyValue(fv))) continue;
    parts.push(`${quoteJSON(jf.field.json, opts.escapeHTML)}:${marshalGo(fv, opts)}`);
  }
  return `{${parts.join(',')}}`;
}

/** A JSON value as JSON.parse returns it. */
export type RawJSON = null | boolean | number | string | RawJSON[] | { [key: string]: RawJSON };

/**
 * Re-encodes a raw JSON value keeping its key order, as Go's json.Indent / json.Compact do on
 * the daemon's bytes; `indent` "" gives compact output. The daemon escapes HTML characters.
 */
export function marshalRaw(x: RawJSON, indent: string, level = 0): string {
  if (x === null) return 'null';
  if (typeof x === 'boolean') return String(x);
  if (typeof x === 'number') return jsonFloat(x);
  if (typeof x === 'string') return quoteJSON(x, true);
  const nl = indent === '' ? '' : `\n${indent.repeat(level + 1)}`;
  const close = indent === '' ? '' : `\n${indent.repeat(level)}`;
  const colon = indent === '' ? ':' : ': ';
  if (Array.isArray(x)) {
    if (x.length === 0) return '[]';
    return `[${x.map((e) => nl + marshalRaw(e, indent, level + 1)).join(',')}${close}]`;
  }
  const keys = Object.keys(x);
  if (keys.length === 0) return '{}';
  return `{${keys.map((k) => `${nl}${quoteJSON(k, true)}${colon}${marshalRaw(x[k]!, indent, level + 1)}`).join(',')}${close}}`;
}
