/**
 * A small model of Go values, enough to evaluate Docker's `--format` templates the way the docker
 * CLI does: it runs Go's text/template on Go structs, so what a template prints depends on Go
 * types (field order, nil vs empty, pointers, named types). Every value carries an explicit type
 * built from a schema (see docker-types.ts); nothing is guessed from the shape of a JS value.
 */
import type { GoTime } from './gotime';

export interface BasicType {
  kind: 'string' | 'int' | 'float64' | 'bool';
  /** Go's name for error messages and type identity: "string", "int64", "json.Number", "nat.Port"... */
  name: string;
}
export interface TimeType {
  kind: 'time';
  name: 'time.Time';
}
/** `interface {}`: a slot that holds any concrete value (or nil). */
export interface IfaceType {
  kind: 'interface';
  name: 'interface {}';
}
export interface PtrType {
  kind: 'ptr';
  elem: GoType;
}
export interface SliceType {
  kind: 'slice';
  elem: GoType;
  name?: string;
}
/** Maps are keyed by strings (or named string types) only: every Docker map is. */
export interface MapType {
  kind: 'map';
  key: BasicType;
  elem: GoType;
  name?: string;
  methods?: MethodSet;
}
export interface StructType {
  kind: 'struct';
  name: string;
  fields: GoField[];
  methods?: MethodSet;
  /** A MarshalJSON method: returns the encoded JSON text. */
  marshalJSON?: (v: GoStruct) => string;
}
export interface GoField {
  name: string;
  /** Key in encoding/json output (the `json:"..."` tag, else the Go name). */
  json: string;
  omitempty: boolean;
  /** An anonymous (embedded) field: its fields are promoted, and JSON inlines them. */
  embedded: boolean;
  type: GoType;
}
export type GoType = BasicType | TimeType | IfaceType | PtrType | SliceType | MapType | StructType;

/** A method as text/template sees it: fixed parameters, one result, may fail with GoCallError. */
export interface GoMethod {
  params: GoType[];
  call(recv: GoValue, args: GoValue[]): GoValue;
}
export type MethodSet = Readonly<Record<string, GoMethod>>;

/** A template function: fixed parameters, optionally variadic, one result. */
export interface GoFunc {
  params: GoType[];
  variadic?: GoType;
  /** `and`/`or` evaluate their arguments lazily (Go 1.18+). */
  shortCircuit?: 'and' | 'or';
  call(args: GoValue[]): GoValue;
}
export type FuncMap = ReadonlyMap<string, GoFunc>;

export interface GoString {
  kind: 'string';
  type: BasicType;
  value: string;
}
export interface GoInt {
  kind: 'int';
  type: BasicType;
  value: number;
}
export interface GoFloat {
  kind: 'float64';
  type: BasicType;
  value: number;
}
export interface GoBool {
  kind: 'bool';
  type: BasicType;
  value: boolean;
}
export interface GoTimeValue {
  kind: 'time';
  type: TimeType;
  value: GoTime;
}
export interface GoPtr {
  kind: 'ptr';
  type: PtrType;
  /** null: a nil pointer. */
  elem: GoValue | null;
}
/** A nil `interface {}`. A non-nil interface slot simply holds its concrete value. */
export interface GoNilIface {
  kind: 'interface';
  type: IfaceType;
}
export interface GoSlice {
  kind: 'slice';
  type: SliceType;
  /** null: a nil slice (prints `[]`, encodes as `null`). */
  items: GoValue[] | null;
}
export interface GoMap {
  kind: 'map';
  type: MapType;
  /** null: a nil map (prints `map[]`, encodes as `null`). */
  entries: ReadonlyMap<string, GoValue> | null;
}
export interface GoStruct {
  kind: 'struct';
  type: StructType;
  fields: GoValue[];
  /** Unexported state read by methods (e.g. the row a list context formats). */
  hidden?: unknown;
}
/** reflect's zero Value: a missing map key, or the result of a nil interface. Prints `<no value>`. */
export interface GoInvalid {
  kind: 'invalid';
}
export type GoValue =
  | GoString
  | GoInt
  | GoFloat
  | GoBool
  | GoTimeValue
  | GoPtr
  | GoNilIface
  | GoSlice
  | GoMap
  | GoStruct
  | GoInvalid;

/** A failure inside a function or method; the template reports `error calling NAME: MESSAGE`. */
export class GoCallError extends Error {}

export const STRING: BasicType = { kind: 'string', name: 'string' };
export const INT: BasicType = { kind: 'int', name: 'int' };
export const INT64: BasicType = { kind: 'int', name: 'int64' };
export const FLOAT64: BasicType = { kind: 'float64', name: 'float64' };
export const BOOL: BasicType = { kind: 'bool', name: 'bool' };
export const TIME: TimeType = { kind: 'time', name: 'time.Time' };
export const IFACE: IfaceType = { kind: 'interface', name: 'interface {}' };
/** encoding/json's Number (a string type) as decoded with UseNumber. */
export const JSON_NUMBER: BasicType = { kind: 'string', name: 'json.Number' };

export const INVALID: GoInvalid = { kind: 'invalid' };
export const NIL_IFACE: GoNilIface = { kind: 'interface', type: IFACE };

export const namedString = (name: string): BasicType => ({ kind: 'string', name });
export const ptrTo = (elem: GoType): PtrType => ({ kind: 'ptr', elem });
export const sliceOf = (elem: GoType, name?: string): SliceType => ({ kind: 'slice', elem, name });
export const mapOf = (elem: GoType, opts: { key?: BasicType; name?: string; methods?: MethodSet } = {}): MapType => ({
  kind: 'map',
  key: opts.key ?? STRING,
  elem,
  name: opts.name,
  methods: opts.methods,
});

export interface FieldSpec {
  json?: string;
  omitempty?: boolean;
  embedded?: boolean;
}
export const field = (name: string, type: GoType, spec: FieldSpec = {}): GoField => ({
  name,
  type,
  json: spec.json ?? name,
  omitempty: spec.omitempty ?? false,
  embedded: spec.embedded ?? false,
});
export const structType = (
  name: string,
  fields: GoField[],
  extra: { methods?: MethodSet; marshalJSON?: (v: GoStruct) => string } = {},
): StructType => ({ kind: 'struct', name, fields, ...extra });

export const str = (value: string, type: BasicType = STRING): GoString => ({ kind: 'string', type, value });
export const int = (value: number, type: BasicType = INT): GoInt => ({ kind: 'int', type, value });
export const float = (value: number): GoFloat => ({ kind: 'float64', type: FLOAT64, value });
export const bool = (value: boolean): GoBool => ({ kind: 'bool', type: BOOL, value });
export const time = (value: GoTime): GoTimeValue => ({ kind: 'time', type: TIME, value });
export const ptr = (type: PtrType, elem: GoValue | null): GoPtr => ({ kind: 'ptr', type, elem });
export const slice = (type: SliceType, items: GoValue[] | null): GoSlice => ({ kind: 'slice', type, items });
export const map = (type: MapType, entries: ReadonlyMap<string, GoValue> | null): GoMap => ({ kind: 'map', type, entries });
export const struct = (type: StructType, fields: GoValue[], hidden?: unknown): GoStruct => ({ kind: 'struct', type, fields, hidden });
export const stringSlice = (items: string[] | null): GoSlice => slice(sliceOf(STRING), items === null ? null : items.map((s) => str(s)));

export function typeName(t: GoType): string {
  switch (t.kind) {
    case 'ptr':
      return `*${typeName(t.elem)}`;
    case 'slice':
      return t.name ?? `[]${typeName(t.elem)}`;
    case 'map':
      return t.name ?? `map[${t.key.name}]${typeName(t.elem)}`;
    default:
      return t.name;
  }
}

export function sameType(a: GoType, b: GoType): boolean {
  return a === b || typeName(a) === typeName(b);
}

function underlyingName(t: GoType): string {
  if (t.kind === 'slice') return `[]${typeName(t.elem)}`;
  if (t.kind === 'map') return `map[${t.key.name}]${typeName(t.elem)}`;
  return typeName(t);
}

/** Go assignability: identical types, or identical underlying types when one side is unnamed. */
export function assignable(value: GoType, to: GoType): boolean {
  if (to.kind === 'interface' || sameType(value, to)) return true;
  const composite = (t: GoType): t is SliceType | MapType => t.kind === 'slice' || t.kind === 'map';
  if (composite(value) && composite(to) && (value.name === undefined || to.name === undefined)) {
    return underlyingName(value) === underlyingName(to);
  }
  return false;
}

export function zeroValue(t: GoType): GoValue {
  switch (t.kind) {
    case 'string':
      return str('', t);
    case 'int':
      return int(0, t);
    case 'float64':
      return { kind: 'float64', type: t, value: 0 };
    case 'bool':
      return { kind: 'bool', type: t, value: false };
    case 'time':
      return time(ZERO_TIME_VALUE);
    case 'interface':
      return NIL_IFACE;
    case 'ptr':
      return ptr(t, null);
    case 'slice':
      return slice(t, null);
    case 'map':
      return map(t, null);
    case 'struct':
      return struct(
        t,
        t.fields.map((f) => zeroValue(f.type)),
      );
  }
}

/** Go's zero time.Time: January 1, year 1, 00:00:00 UTC. */
const ZERO_TIME_VALUE: GoTime = { unixSeconds: -62135596800, nanos: 0, offsetSeconds: 0, zone: 'UTC' };

/** Field lookup with promotion through embedded structs, shallowest first (as reflect's FieldByName). */
export function findField(t: StructType, name: string): number[] | undefined {
  let level: { type: StructType; path: number[] }[] = [{ type: t, path: [] }];
  while (level.length > 0) {
    const next: { type: StructType; path: number[] }[] = [];
    for (const { type, path } of level) {
      for (const [i, f] of type.fields.entries()) {
        if (f.name === name) return [...path, i];
        if (f.embedded) {
          const inner = f.type.kind === 'ptr' ? f.type.elem : f.type;
          if (inner.kind === 'struct') next.push({ type: inner, path: [...path, i] });
        }
      }
    }
    level = next;
  }
  return undefined;
}

/** Follows a field path; 'nil' when it passes through a nil embedded pointer. */
export function fieldAt(v: GoStruct, path: number[]): GoValue | 'nil' {
  let cur: GoValue = v;
  for (const i of path) {
    if (cur.kind === 'ptr') {
      if (cur.elem === null) return 'nil';
      cur = cur.elem;
    }
    if (cur.kind !== 'struct') throw new Error(`internal: field path through ${cur.kind}`);
    const next: GoValue | undefined = cur.fields[i];
    if (next === undefined) throw new Error('internal: field index out of range');
    cur = next;
  }
  return cur;
}

/** The value's methods (declared on the struct or map type, or on the type a pointer points to). */
export function methodsOf(v: GoValue): MethodSet | undefined {
  if (v.kind === 'struct' || v.kind === 'map') return v.type.methods;
  if (v.kind === 'ptr' && v.elem !== null) return methodsOf(v.elem);
  return undefined;
}

/** Strips pointers; returns the last nil pointer if one is met (reflect-style `indirect`). */
export function indirect(v: GoValue): { value: GoValue; isNil: boolean } {
  let cur = v;
  while (cur.kind === 'ptr') {
    if (cur.elem === null) return { value: cur, isNil: true };
    cur = cur.elem;
  }
  if (cur.kind === 'interface') return { value: cur, isNil: true };
  return { value: cur, isNil: false };
}

/** text/template's notion of truth (`if`, `with`, `and`, `or`, `not`). */
export function isTrue(v: GoValue): boolean {
  switch (v.kind) {
    case 'invalid':
    case 'interface':
      return false;
    case 'string':
      return v.value.length > 0;
    case 'int':
    case 'float64':
      return v.value !== 0;
    case 'bool':
      return v.value;
    case 'ptr':
      return v.elem !== null;
    case 'slice':
      return v.items !== null && v.items.length > 0;
    case 'map':
      return v.entries !== null && v.entries.size > 0;
    case 'time':
    case 'struct':
      return true;
  }
}

/** Go orders strings by bytes (UTF-8), which is code-point order, not JS's UTF-16 order. */
export function compareGoStrings(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const cx = x.value.codePointAt(0) ?? 0;
    const cy = y.value.codePointAt(0) ?? 0;
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}

export function sortedKeys(entries: ReadonlyMap<string, GoValue>): string[] {
  return [...entries.keys()].sort(compareGoStrings);
}

/** Length in UTF-8 bytes, as Go's len() of a string. */
export function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}
