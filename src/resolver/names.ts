/**
 * Names as the record tables store them: the wire form (length-prefixed labels, RFC 1035
 * §3.1), lower-cased in ASCII only (RFC 4343) and kept as a latin1 string so that a query's
 * name can be looked up straight from its bytes (see parseQuery) without decoding it.
 */
import { isIPv4, isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Wire form of a dotted name (a trailing dot is fine), or null when it is not a valid DNS name. */
export function wireName(name: string): Buffer | null {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  if (trimmed === '') return null;
  const parts = trimmed.split('.').map((label) => Buffer.from(label, 'utf8'));
  const length = parts.reduce((sum, label) => sum + 1 + label.length, 1);
  if (length > 255 || parts.some((label) => label.length === 0 || label.length > 63)) return null;
  const out = Buffer.allocUnsafe(length);
  let pos = 0;
  for (const label of parts) {
    out[pos++] = label.length;
    pos += label.copy(out, pos);
  }
  out[pos] = 0;
  return out;
}

/** The table key of a wire-form name: ASCII lower-cased, as latin1. */
export function keyOfWire(wire: Buffer): string {
  const lower = Buffer.from(wire);
  for (let i = 0; i < lower.length; i++) {
    const c = lower[i]!;
    if (c >= 0x41 && c <= 0x5a) lower[i] = c | 0x20;
  }
  return lower.toString('latin1');
}

/** Printable ASCII without spaces: the names containers have, encoded byte for byte. */
const PLAIN_ASCII = /^[\x21-\x7e]+$/;

/** The table key of a dotted name, or null when it is not a valid DNS name. */
export function nameKey(name: string): string | null {
  if (!PLAIN_ASCII.test(name)) {
    const wire = wireName(name);
    return wire === null ? null : keyOfWire(wire);
  }
  // Fast path (updates compile thousands of names): build the latin1 key as a string directly.
  const end = name.endsWith('.') ? name.length - 1 : name.length;
  let key = '';
  for (let start = 0; start <= end; ) {
    let dot = name.indexOf('.', start);
    if (dot < 0 || dot > end) dot = end;
    const length = dot - start;
    if (length === 0 || length > 63) return null;
    key += String.fromCharCode(length) + name.slice(start, dot);
    start = dot + 1;
  }
  return key.length + 1 > 255 ? null : (key + '\0').toLowerCase();
}

/** Dotted, human form of a key (for logs and tests). */
export function keyToName(key: string): string {
  const wire = Buffer.from(key, 'latin1');
  const labels: string[] = [];
  for (let pos = 0; wire[pos]! !== 0; pos += 1 + wire[pos]!) {
    labels.push(wire.toString('utf8', pos + 1, pos + 1 + wire[pos]!));
  }
  return labels.join('.') + '.';
}

/** Bytes of an address, or null when the text is not one of the expected family. */
export function addressBytes(text: string, family: 4 | 6): Uint8Array | null {
  if (family === 4) return isIPv4(text) ? Uint8Array.from(text.split('.'), Number) : null;
  return isIPv6(text) ? Uint8Array.from(ipaddr.parse(text).toByteArray()) : null;
}

/** The reverse-lookup name of an address: `4.3.2.1.in-addr.arpa` or the ip6.arpa nibbles. */
export function reverseName(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[3]}.${bytes[2]}.${bytes[1]}.${bytes[0]}.in-addr.arpa`;
  const nibbles: string[] = [];
  for (let i = bytes.length - 1; i >= 0; i--) {
    nibbles.push((bytes[i]! & 0xf).toString(16), (bytes[i]! >> 4).toString(16));
  }
  return `${nibbles.join('.')}.ip6.arpa`;
}
