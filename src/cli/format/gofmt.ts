/**
 * Go's fmt package over GoValues: `%v` printing (what a template action prints), Sprint,
 * Sprintln and Sprintf with the verbs and flags Docker users write (%s %d %v %+v %q %t %x %f %g
 * %e %c, width, precision, `-`, `0`, `+`, ` `, `#`, `*`, `[n]`), and Go's in-band error forms
 * (`%!d(string=x)`, `%!s(MISSING)`, `%!(EXTRA ...)`).
 * Not modelled: `%#v` Go syntax (printed as `%v`), `%p`, `%b`/`%x` of floats.
 */
import { type GoValue, sortedKeys, str, typeName } from './govalue';
import { timeString } from './gotime';

interface Flags {
  minus: boolean;
  plus: boolean;
  sharp: boolean;
  space: boolean;
  zero: boolean;
  plusV: boolean;
  width?: number;
  prec?: number;
}

const noFlags = (): Flags => ({ minus: false, plus: false, sharp: false, space: false, zero: false, plusV: false });

/** What `{{.X}}` prints: a top-level pointer is followed, a missing value is `<no value>`. */
export function printActionValue(v: GoValue): string {
  let cur = v;
  while (cur.kind === 'ptr' && cur.elem !== null) cur = cur.elem;
  if (cur.kind === 'invalid') return '<no value>';
  return formatArg(cur, 'v', noFlags());
}

/** fmt.Sprint: spaces between operands when neither side is a string. */
export function sprint(args: GoValue[]): string {
  let out = '';
  let prevString = false;
  args.forEach((arg, i) => {
    const isString = arg.kind === 'string';
    if (i > 0 && !isString && !prevString) out += ' ';
    out += formatArg(arg, 'v', noFlags());
    prevString = isString;
  });
  return out;
}

/** fmt.Sprintln: always a space between operands, and a final newline. */
export function sprintln(args: GoValue[]): string {
  return `${args.map((a) => formatArg(a, 'v', noFlags())).join(' ')}\n`;
}

/** fmt.Sprintf. */
export function sprintf(format: string, args: GoValue[]): string {
  let out = '';
  let argNum = 0;
  let reordered = false;
  const chars = [...format];
  let i = 0;
  const readNumber = (): number | undefined => {
    let digits = '';
    while (i < chars.length && /[0-9]/.test(chars[i]!)) digits += chars[i++];
    return digits === '' ? undefined : Number(digits);
  };
  /** `[n]` selects argument n (1-based); returns false on a malformed index. */
  const readArgIndex = (): boolean => {
    if (chars[i] !== '[') return true;
    reordered = true;
    const close = chars.indexOf(']', i);
    const n = close < 0 ? NaN : Number(chars.slice(i + 1, close).join(''));
    if (close < 0 || !Number.isInteger(n) || n < 1 || n > args.length) {
      i = close < 0 ? chars.length : close + 1;
      return false;
    }
    argNum = n - 1;
    i = close + 1;
    return true;
  };
  const starArg = (): number | undefined => {
    const a = args[argNum++];
    return a !== undefined && a.kind === 'int' ? a.value : undefined;
  };

  while (i < chars.length) {
    const c = chars[i]!;
    if (c !== '%') {
      out += c;
      i++;
      continue;
    }
    i++;
    const f = noFlags();
    for (; i < chars.length; i++) {
      const fl = chars[i];
      if (fl === '#') f.sharp = true;
      else if (fl === '0') f.zero = !f.minus;
      else if (fl === '+') f.plus = true;
      else if (fl === '-') {
        f.minus = true;
        f.zero = false;
      } else if (fl === ' ') f.space = true;
      else break;
    }
    let goodIndex = readArgIndex();
    if (chars[i] === '*') {
      i++;
      const w = starArg();
      if (w === undefined) out += '%!(BADWIDTH)';
      else if (w < 0) {
        f.minus = true;
        f.zero = false;
        f.width = -w;
      } else f.width = w;
    } else f.width = readNumber();
    if (chars[i] === '.') {
      i++;
      goodIndex = readArgIndex() && goodIndex;
      if (chars[i] === '*') {
        i++;
        const p = starArg();
        if (p === undefined || p < 0) out += '%!(BADPREC)';
        else f.prec = p;
      } else f.prec = readNumber() ?? 0;
    }
    goodIndex = readArgIndex() && goodIndex;
    const verb = chars[i++];
    if (verb === undefined) {
      out += '%!(NOVERB)';
      break;
    }
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (!goodIndex) {
      out += `%!${verb}(BADINDEX)`;
      continue;
    }
    const arg = args[argNum];
    if (arg === undefined) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    argNum++;
    if (verb === 'v' && f.plus) {
      f.plusV = true;
      f.plus = false;
    }
    if (verb === 'v' && f.sharp) f.sharp = false; // %#v (Go syntax) is printed as %v
    out += formatArg(arg, verb, f);
  }
  if (!reordered && argNum < args.length) {
    const extra = args.slice(argNum).map((a) => (isNil(a) ? '<nil>' : `${typeName(a.type)}=${formatArg(a, 'v', noFlags())}`));
    out += `%!(EXTRA ${extra.join(', ')})`;
  }
  return out;
}

function isNil(v: GoValue): v is Extract<GoValue, { kind: 'interface' | 'invalid' }> {
  return v.kind === 'interface' || v.kind === 'invalid';
}

function formatArg(v: GoValue, verb: string, f: Flags): string {
  if (isNil(v)) return verb === 'v' || verb === 'T' ? pad('<nil>', f) : `%!${verb}(<nil>)`;
  if (verb === 'T') return pad(typeName(v.type), f);
  return formatValue(v, verb, f, 0);
}

const addresses = new WeakMap<GoValue, string>();
let nextAddress = 0xc000010000;
/** Go prints nested pointers as heap addresses; ours are synthetic, shaped like Go's, stable per pointee. */
function addressOf(pointee: GoValue): string {
  let a = addresses.get(pointee);
  if (a === undefined) {
    nextAddress += 0x80;
    a = `0x${nextAddress.toString(16)}`;
    addresses.set(pointee, a);
  }
  return a;
}

function formatValue(v: GoValue, verb: string, f: Flags, depth: number): string {
  switch (v.kind) {
    case 'invalid':
      return depth === 0 ? '<invalid reflect.Value>' : '<nil>';
    case 'interface':
      return '<nil>';
    case 'bool':
      return verb === 'v' || verb === 't' ? pad(String(v.value), f) : badVerb(v, verb);
    case 'int':
      return formatInteger(v.value, verb, f) ?? badVerb(v, verb);
    case 'float64':
      return formatFloat(v.value, verb, f) ?? badVerb(v, verb);
    case 'string':
      return formatString(v.value, verb, f) ?? badVerb(v, verb);
    case 'time':
      // time.Time is a fmt.Stringer.
      return formatString(timeString(v.value), verb, f) ?? badVerb(v, verb);
    case 'map': {
      const parts = v.entries === null ? [] : sortedKeys(v.entries).map((k) => {
        const key = formatValue(str(k, v.type.key), verb, f, depth + 1);
        return `${key}:${formatValue(v.entries!.get(k)!, verb, f, depth + 1)}`;
      });
      return `map[${parts.join(' ')}]`;
    }
    case 'struct': {
      const parts = v.fields.map((fv, i) => {
        const name = f.plusV ? `${v.type.fields[i]!.name}:` : '';
        return name + formatValue(fv, verb, f, depth + 1);
      });
      return `{${parts.join(' ')}}`;
    }
    case 'slice':
      return `[${(v.items ?? []).map((item) => formatValue(item, verb, f, depth + 1)).join(' ')}]`;
    case 'ptr': {
      const elem = v.elem;
      if (depth === 0 && elem !== null && (elem.kind === 'struct' || elem.kind === 'slice' || elem.kind === 'map')) {
        return `&${formatValue(elem, verb, f, depth + 1)}`;
      }
      if (verb !== 'v' && verb !== 'p') return badVerb(v, verb);
      return pad(elem === null ? '<nil>' : addressOf(elem), f);
    }
  }
}

function badVerb(v: GoValue, verb: string): string {
  if (isNil(v)) return `%!${verb}(<nil>)`;
  return `%!${verb}(${typeName(v.type)}=${formatValue(v, 'v', noFlags(), 0)})`;
}

function runeCount(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function pad(s: string, f: Flags): string {
  const width = f.width ?? 0;
  const fill = width - runeCount(s);
  if (fill <= 0) return s;
  if (f.minus) return s + ' '.repeat(fill);
  return (f.zero ? '0' : ' ').repeat(fill) + s;
}

/** Sign, then zero padding up to the width (when `0` is set), then space padding. */
function padNumber(sign: string, digits: string, f: Flags): string {
  if (f.zero && !f.minus && f.width !== undefined) {
    const fill = f.width - sign.length - digits.length;
    if (fill > 0) return sign + '0'.repeat(fill) + digits;
  }
  return pad(sign + digits, { ...f, zero: false });
}

function signOf(negative: boolean, f: Flags): string {
  if (negative) return '-';
  if (f.plus) return '+';
  return f.space ? ' ' : '';
}

function formatInteger(n: number, verb: string, f: Flags): string | undefined {
  const bases: Record<string, number> = { v: 10, d: 10, b: 2, o: 8, O: 8, x: 16, X: 16 };
  if (verb === 'c') return pad(String.fromCodePoint(n), f);
  if (verb === 'q') return pad(quoteRune(n), f);
  if (verb === 'U') {
    const hex = n.toString(16).toUpperCase().padStart(4, '0');
    return pad(f.sharp ? `U+${hex} '${String.fromCodePoint(n)}'` : `U+${hex}`, f);
  }
  const base = bases[verb];
  if (base === undefined) return undefined;
  let digits = Math.abs(n).toString(base);
  if (verb === 'X') digits = digits.toUpperCase();
  if (f.prec !== undefined) digits = f.prec === 0 && n === 0 ? '' : digits.padStart(f.prec, '0');
  let prefix = '';
  if (verb === 'O' || (f.sharp && verb === 'o' && !digits.startsWith('0'))) prefix = verb === 'O' ? '0o' : '0';
  if (f.sharp && verb === 'x') prefix = '0x';
  if (f.sharp && verb === 'X') prefix = '0X';
  if (f.sharp && verb === 'b') prefix = '0b';
  const zeroOk = f.prec === undefined ? f : { ...f, zero: false };
  return padNumber(signOf(n < 0, f) + prefix, digits, zeroOk);
}

function formatFloat(x: number, verb: string, f: Flags): string | undefined {
  if (!'vgGeEfF'.includes(verb)) return undefined;
  if (Number.isNaN(x)) return pad(f.plus ? '+NaN' : f.space ? ' NaN' : 'NaN', { ...f, zero: false });
  if (!Number.isFinite(x)) return pad(x < 0 ? '-Inf' : f.plus || verb === 'v' ? '+Inf' : f.space ? ' Inf' : 'Inf', { ...f, zero: false });
  const negative = x < 0 || Object.is(x, -0);
  const a = Math.abs(x);
  let body: string;
  switch (verb) {
    case 'e':
    case 'E':
      body = expForm(a, f.prec ?? 6);
      break;
    case 'f':
    case 'F':
      body = a.toFixed(f.prec ?? 6);
      break;
    default:
      body = gForm(a, verb === 'v' ? undefined : f.prec);
  }
  if (verb === 'E' || verb === 'G') body = body.toUpperCase();
  return padNumber(signOf(negative, f), body, f);
}

/** strconv 'e': mantissa with `prec` decimals, exponent with at least two digits. */
function expForm(a: number, prec: number): string {
  const [mant, exp] = a.toExponential(prec).split('e') as [string, string];
  const e = Number(exp);
  return `${mant}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

/** strconv 'g': shortest (prec undefined) or `prec` significant digits, %e for large/small exponents. */
function gForm(a: number, prec: number | undefined): string {
  if (a === 0) return '0';
  const [mant, exp] = (prec === undefined ? a.toExponential() : a.toExponential(Math.max(prec, 1) - 1)).split('e') as [string, string];
  const digits = mant.replace('.', '').replace(/0+$/, '') || '0';
  const e = Number(exp);
  let eprec = prec === undefined ? 6 : Math.max(prec, 1);
  if (prec !== undefined && eprec > digits.length && digits.length >= e + 1) eprec = digits.length;
  if (e < -4 || e >= eprec) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  if (e < 0) return `0.${'0'.repeat(-e - 1)}${digits}`;
  if (digits.length <= e + 1) return digits + '0'.repeat(e + 1 - digits.length);
  return `${digits.slice(0, e + 1)}.${digits.slice(e + 1)}`;
}

function formatString(s: string, verb: string, f: Flags): string | undefined {
  const truncated = f.prec === undefined ? s : [...s].slice(0, f.prec).join('');
  switch (verb) {
    case 'v':
    case 's':
      return pad(truncated, f);
    case 'q':
      return pad(f.sharp && canBackquote(truncated) ? `\`${truncated}\`` : quoteGo(truncated, f.plus), f);
    case 'x':
    case 'X': {
      const bytes = [...Buffer.from(truncated, 'utf8')].map((b) => b.toString(16).padStart(2, '0'));
      const hex = bytes.map((b) => (f.sharp ? `0x${b}` : b)).join(f.space ? ' ' : '');
      return pad(verb === 'X' ? hex.toUpperCase() : hex, f);
    }
    default:
      return undefined;
  }
}

function canBackquote(s: string): boolean {
  return !/[`\u0000-\u0008\u000a-\u001f\u007f\ufeff]/.test(s);
}

/** unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

function escapeRune(ch: string, quote: string, asciiOnly: boolean): string {
  const cp = ch.codePointAt(0)!;
  if (ch === quote || ch === '\\') return `\\${ch}`;
  if (cp < 0x80 ? cp >= 0x20 && cp !== 0x7f : !asciiOnly && PRINTABLE.test(ch) && (cp < 0xd800 || cp > 0xdfff)) return ch;
  const named: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v' };
  if (named[ch] !== undefined) return named[ch]!;
  if (cp < 0x20 || cp === 0x7f) return `\\x${cp.toString(16).padStart(2, '0')}`;
  if (cp >= 0xd800 && cp <= 0xdfff) return '\\ufffd';
  if (cp < 0x10000) return `\\u${cp.toString(16).padStart(4, '0')}`;
  return `\\U${cp.toString(16).padStart(8, '0')}`;
}

/** strconv.Quote (or QuoteToASCII): a double-quoted Go string literal. */
export function quoteGo(s: string, asciiOnly = false): string {
  let out = '"';
  for (const ch of s) out += escapeRune(ch, '"', asciiOnly);
  return `${out}"`;
}

function quoteRune(n: number): string {
  const ch = n >= 0 && n <= 0x10ffff && (n < 0xd800 || n > 0xdfff) ? String.fromCodePoint(n) : '\ufffd';
  return `'${escapeRune(ch, "'", false)}'`;
}
