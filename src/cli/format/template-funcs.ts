/**
 * Template functions: Go's text/template builtins (and, or, not, len, index, slice, print,
 * printf, println, eq, ne, lt, le, gt, ge, html, js, urlquery) and the docker CLI's additions
 * (json, split, join, title, lower, upper, pad, truncate), plus the docker CLI's "header"
 * variants that leave a table header's column names untouched.
 */
import { sprint, sprintf, sprintln } from './gofmt';
import { JSONUnsupportedValue, marshalGo } from './gojson';
import {
  assignable, bool, byteLength, compareGoStrings, type FuncMap, type GoFunc, GoCallError, type GoType, type GoValue,
  IFACE, indirect, INT, int, isTrue, sliceOf, STRING, str, stringSlice, typeName, zeroValue,
} from './govalue';

const STRINGS = sliceOf(STRING);

const fn = (params: GoType[], call: (args: GoValue[]) => GoValue, variadic?: GoType): GoFunc => ({ params, variadic, call });

function asString(v: GoValue): string {
  if (v.kind !== 'string') throw new Error(`internal: expected a string argument, got ${v.kind}`);
  return v.value;
}
function asInt(v: GoValue): number {
  if (v.kind !== 'int') throw new Error(`internal: expected an int argument, got ${v.kind}`);
  return v.value;
}

function valueTypeName(v: GoValue): string {
  return v.kind === 'invalid' || v.kind === 'interface' ? '<nil>' : typeName(v.type);
}

function length(v: GoValue): GoValue {
  if (v.kind === 'invalid' || v.kind === 'interface') {
    throw new GoCallError('reflect: call of reflect.Value.Type on zero Value');
  }
  const { value, isNil } = indirect(v);
  if (isNil) throw new GoCallError('len of nil pointer');
  switch (value.kind) {
    case 'string':
      return int(byteLength(value.value));
    case 'slice':
      return int(value.items?.length ?? 0);
    case 'map':
      return int(value.entries?.size ?? 0);
    default:
      throw new GoCallError(`len of type ${valueTypeName(value)}`);
  }
}

/** An int-like index argument (Go's indexArg). */
function indexArg(i: GoValue, cap: number): number {
  if (i.kind !== 'int') throw new GoCallError(`cannot index slice/array with type ${valueTypeName(i)}`);
  if (i.value < 0 || i.value > cap) throw new GoCallError(`index out of range: ${i.value}`);
  return i.value;
}

function index(args: GoValue[]): GoValue {
  let item = args[0]!;
  for (const i of args.slice(1)) {
    const { value, isNil } = indirect(item);
    if (isNil || value.kind === 'invalid') throw new GoCallError('index of untyped nil');
    switch (value.kind) {
      case 'slice':
      case 'string': {
        const len = value.kind === 'slice' ? (value.items?.length ?? 0) : byteLength(value.value);
        const x = indexArg(i, len);
        if (x === len) throw new GoCallError(`index out of range: ${x}`);
        item = value.kind === 'slice' ? value.items![x]! : int(Buffer.from(value.value, 'utf8')[x]!, { kind: 'int', name: 'uint8' });
        break;
      }
      case 'map': {
        if (i.kind === 'invalid' || i.kind === 'interface') throw new GoCallError(`value is nil; should be of type ${value.type.key.name}`);
        if (i.kind !== 'string' || !assignable(i.type, value.type.key)) {
          throw new GoCallError(`value has type ${valueTypeName(i)}; should be ${value.type.key.name}`);
        }
        item = value.entries?.get(i.value) ?? zeroValue(value.type.elem);
        break;
      }
      default:
        throw new GoCallError(`can't index item of type ${valueTypeName(value)}`);
    }
  }
  return item;
}

function sliceFn(args: GoValue[]): GoValue {
  const { value } = indirect(args[0]!);
  const idx = args.slice(1);
  if (idx.length > 3) throw new GoCallError(`too many slice indexes: ${idx.length}`);
  if (value.kind === 'string') {
    if (idx.length === 3) throw new GoCallError('cannot 3-index slice a string');
    const bytes = Buffer.from(value.value, 'utf8');
    const [lo, hi] = sliceBounds(idx, bytes.length, bytes.length);
    return str(bytes.subarray(lo, hi).toString('utf8'), value.type);
  }
  if (value.kind === 'slice') {
    const items = value.items ?? [];
    const [lo, hi] = sliceBounds(idx, items.length, items.length);
    return { kind: 'slice', type: value.type, items: value.items === null && lo === 0 && hi === 0 ? null : items.slice(lo, hi) };
  }
  throw new GoCallError(`can't slice item of type ${valueTypeName(value)}`);
}

function sliceBounds(idx: GoValue[], len: number, cap: number): [number, number] {
  const bounds = [0, len, cap];
  idx.forEach((v, k) => {
    bounds[k] = indexArg(v, cap);
  });
  if (bounds[0]! > bounds[1]!) throw new GoCallError(`invalid slice index: ${bounds[0]} > ${bounds[1]}`);
  if (idx.length === 3 && bounds[1]! > bounds[2]!) throw new GoCallError(`invalid slice index: ${bounds[1]} > ${bounds[2]}`);
  return [bounds[0]!, bounds[1]!];
}

type BasicKind = 'bool' | 'int' | 'float' | 'string' | 'invalid' | 'other';
function basicKind(v: GoValue): BasicKind {
  switch (v.kind) {
    case 'bool':
      return 'bool';
    case 'int':
      return 'int';
    case 'float64':
      return 'float';
    case 'string':
      return 'string';
    case 'invalid':
    case 'interface':
      return 'invalid';
    default:
      return 'other';
  }
}

function primitive(v: GoValue): string | number | boolean | undefined {
  return v.kind === 'string' || v.kind === 'int' || v.kind === 'float64' || v.kind === 'bool' ? v.value : undefined;
}

function eq(args: GoValue[]): GoValue {
  const [a, ...rest] = args as [GoValue, ...GoValue[]];
  if (rest.length === 0) throw new GoCallError('missing argument for comparison');
  const k1 = basicKind(a);
  for (const b of rest) {
    const k2 = basicKind(b);
    let truth = false;
    if (k1 !== k2) {
      if (k1 !== 'invalid' && k2 !== 'invalid') throw new GoCallError('incompatible types for comparison');
    } else if (k1 === 'invalid') {
      truth = true;
    } else if (k1 === 'other') {
      if (a.kind === 'ptr' && b.kind === 'ptr') truth = a.elem === b.elem;
      else if (a.kind === 'time' && b.kind === 'time') truth = JSON.stringify(a.value) === JSON.stringify(b.value);
      else throw new GoCallError(`non-comparable type ${valueTypeName(b)}`);
    } else {
      truth = primitive(a) === primitive(b);
    }
    if (truth) return bool(true);
  }
  return bool(false);
}

function lt(a: GoValue, b: GoValue): boolean {
  const k1 = basicKind(a);
  const k2 = basicKind(b);
  if (k1 === 'invalid' || k1 === 'other' || k2 === 'invalid' || k2 === 'other') throw new GoCallError('invalid type for comparison');
  if (k1 !== k2) throw new GoCallError('incompatible types for comparison');
  if (k1 === 'bool') throw new GoCallError('invalid type for comparison');
  if (k1 === 'string') return compareGoStrings(primitive(a) as string, primitive(b) as string) < 0;
  return (primitive(a) as number) < (primitive(b) as number);
}
const le = (a: GoValue, b: GoValue): boolean => lt(a, b) || isTrue(eq([a, b]));

/** text/template's evalArgs: one string as is, else fmt.Sprint of the (pointer-followed) values. */
function evalArgs(args: GoValue[]): string {
  if (args.length === 1 && args[0]!.kind === 'string') return args[0]!.value;
  return sprint(args.map((a) => (a.kind === 'ptr' ? indirect(a).value : a)));
}

function htmlEscape(s: string): string {
  return s.replace(/\0/g, '\ufffd').replace(/["'&<>]/g, (c) => ({ '"': '&#34;', "'": '&#39;', '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);
}

function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '\\' || ch === "'" || ch === '"') out += `\\${ch}`;
    else if (ch === '<') out += '\\u003C';
    else if (ch === '>') out += '\\u003E';
    else if (ch === '&') out += '\\u0026';
    else if (ch === '=') out += '\\u003D';
    else if (cp < 0x20) out += `\\u00${cp.toString(16).toUpperCase().padStart(2, '0')}`;
    else if (cp >= 0x80 && !/^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u.test(ch)) out += `\\u${cp.toString(16).toUpperCase().padStart(4, '0')}`;
    else out += ch;
  }
  return out;
}

/** url.QueryEscape */
function queryEscape(s: string): string {
  return [...Buffer.from(s, 'utf8')]
    .map((b) => {
      const c = String.fromCharCode(b);
      if (/[A-Za-z0-9\-_.~]/.test(c)) return c;
      return c === ' ' ? '+' : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

/** strings.Title: upper-cases the first letter of each word (after a separator). */
function title(s: string): string {
  const isSeparator = (ch: string): boolean => {
    const cp = ch.codePointAt(0)!;
    if (cp <= 0x7f) return !/[0-9A-Za-z_]/.test(ch);
    if (/^[\p{L}\p{Nd}]$/u.test(ch)) return false;
    return /^\s$/u.test(ch);
  };
  let prev = ' ';
  let out = '';
  for (const ch of s) {
    out += isSeparator(prev) ? ch.toUpperCase() : ch;
    prev = ch;
  }
  return out;
}

/** Go's `and`/`or` without short-circuit, used only if called with already-evaluated values. */
const andOr = (which: 'and' | 'or'): GoFunc => ({
  params: [IFACE],
  variadic: IFACE,
  shortCircuit: which,
  call: (args) => args.find((a) => isTrue(a) === (which === 'or')) ?? args[args.length - 1]!,
});

export const BUILTINS: FuncMap = new Map<string, GoFunc>([
  ['and', andOr('and')],
  ['or', andOr('or')],
  ['not', fn([IFACE], ([a]) => bool(!isTrue(a!)))],
  ['len', fn([IFACE], ([a]) => length(a!))],
  ['index', fn([IFACE], index, IFACE)],
  ['slice', fn([IFACE], sliceFn, IFACE)],
  ['print', fn([], (args) => str(sprint(args)), IFACE)],
  ['printf', fn([STRING], ([f, ...args]) => str(sprintf(asString(f!), args)), IFACE)],
  ['println', fn([], (args) => str(sprintln(args)), IFACE)],
  ['eq', fn([IFACE], eq, IFACE)],
  ['ne', fn([IFACE, IFACE], ([a, b]) => bool(!isTrue(eq([a!, b!]))))],
  ['lt', fn([IFACE, IFACE], ([a, b]) => bool(lt(a!, b!)))],
  ['le', fn([IFACE, IFACE], ([a, b]) => bool(le(a!, b!)))],
  ['gt', fn([IFACE, IFACE], ([a, b]) => bool(!le(a!, b!)))],
  ['ge', fn([IFACE, IFACE], ([a, b]) => bool(!lt(a!, b!)))],
  ['html', fn([], (args) => str(htmlEscape(evalArgs(args))), IFACE)],
  ['js', fn([], (args) => str(jsEscape(evalArgs(args))), IFACE)],
  ['urlquery', fn([], (args) => str(queryEscape(evalArgs(args))), IFACE)],
]);

/** docker/cli templates.basicFunctions */
export const DOCKER_FUNCS: FuncMap = new Map<string, GoFunc>([
  [
    'json',
    fn([IFACE], ([v]) => {
      try {
        return str(marshalGo(v!, { escapeHTML: false }));
      } catch (e) {
        if (e instanceof JSONUnsupportedValue) return str(''); // the docker CLI ignores encoder errors
        throw e;
      }
    }),
  ],
  ['split', fn([STRING, STRING], ([s, sep]) => stringSlice(asString(sep!) === '' ? [...asString(s!)] : asString(s!).split(asString(sep!))))],
  ['join', fn([STRINGS, STRING], ([a, sep]) => str((a!.kind === 'slice' ? (a.items ?? []) : []).map(asString).join(asString(sep!))))],
  ['title', fn([STRING], ([s]) => str(title(asString(s!))))],
  ['lower', fn([STRING], ([s]) => str(asString(s!).toLowerCase()))],
  ['upper', fn([STRING], ([s]) => str(asString(s!).toUpperCase()))],
  [
    'pad',
    fn([STRING, INT, INT], ([s, pre, post]) => {
      const v = asString(s!);
      return str(v === '' ? v : ' '.repeat(Math.max(asInt(pre!), 0)) + v + ' '.repeat(Math.max(asInt(post!), 0)));
    }),
  ],
  [
    'truncate',
    fn([STRING, INT], ([s, n]) => {
      const bytes = Buffer.from(asString(s!), 'utf8');
      const len = asInt(n!);
      if (len < 0) throw new GoCallError(`runtime error: slice bounds out of range [:${len}]`);
      return str(bytes.length < len ? asString(s!) : bytes.subarray(0, len).toString('utf8'));
    }),
  ],
]);

/** docker/cli templates.HeaderFunctions: a table header shows column names, not transformed ones. */
export const HEADER_FUNCS: FuncMap = new Map<string, GoFunc>([
  ['json', fn([STRING], ([v]) => v!)],
  ['split', fn([STRING, STRING], ([v]) => v!)],
  ['join', fn([STRING, STRING], ([v]) => v!)],
  ['title', fn([STRING], ([v]) => v!)],
  ['lower', fn([STRING], ([v]) => v!)],
  ['upper', fn([STRING], ([v]) => v!)],
  ['truncate', fn([STRING, INT], ([v]) => v!)],
]);
