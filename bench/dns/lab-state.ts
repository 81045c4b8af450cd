/**
 * The names every server in the DNS benchmark is loaded with (N sandboxes on one network), in
 * each server's own format, and the query files of the two mixes.
 */
import { createHash } from 'node:crypto';
import * as packet from 'dns-packet';
import type { DnsState } from '../../src/resolver';

export const NETWORK = 'benchnet';
export const GATEWAY_V4 = '10.99.0.1';
export const GATEWAY_V6 = 'fd99::1';
/** Forwarded names end here: not a zone any of the servers answers itself (unbound owns *.test). */
export const FORWARDED_SUFFIX = 'fwd.example';

export interface BenchEndpoint {
  id: string;
  name: string;
  shortId: string;
  ipv4: string;
  ipv6: string;
}

export function endpoints(n: number): BenchEndpoint[] {
  return Array.from({ length: n }, (_, i) => {
    const id = createHash('sha256').update(`cnm-bench-${i}`).digest('hex');
    const host = i + 2;
    return { id, name: `c${i}`, shortId: id.slice(0, 12), ipv4: `10.99.${host >> 8}.${host & 255}`, ipv6: `fd99::${host.toString(16)}` };
  });
}

/** The resolver's view: every sandbox on one user-defined network, listening in nsPathOf(i). */
export function benchState(n: number, nsPathOf: (i: number) => string): DnsState {
  const eps = endpoints(n);
  return {
    networks: [
      {
        id: createHash('sha256').update(NETWORK).digest('hex'),
        name: NETWORK,
        internal: false,
        endpoints: eps.map((e) => ({ sandboxId: e.id, names: [e.name, e.shortId], ipv4: e.ipv4, ipv6: e.ipv6 })),
      },
    ],
    sandboxes: eps.map((e, i) => ({ id: e.id, nsPath: nsPathOf(i), networkIds: [createHash('sha256').update(NETWORK).digest('hex')] })),
  };
}

export function encodeQuery(name: string, type: string): Buffer {
  return packet.encode({ type: 'query', id: 1, flags: packet.RECURSION_DESIRED, questions: [{ type: type as packet.RecordType, name }] });
}

function reverse(ipv4: string): string {
  return `${ipv4.split('.').reverse().join('.')}.in-addr.arpa`;
}

function shuffled<T>(items: T[], seed: number): T[] {
  let s = seed;
  const random = (): number => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

export type Mix = 'local' | 'mixed';

/** dnsperf query file: 100% local A, or 70% A, 10% AAAA, 10% PTR, 10% forwarded A. */
export function queryFile(n: number, mix: Mix): string {
  const eps = endpoints(n);
  const lines: string[] = [];
  if (mix === 'local') {
    for (const e of eps) lines.push(`${e.name} A`);
  } else {
    for (let i = 0; i < 10 * n; i++) {
      const e = eps[i % n]!;
      const slot = i % 10;
      if (slot < 7) lines.push(`${e.name} A`);
      else if (slot === 7) lines.push(`${e.name} AAAA`);
      else if (slot === 8) lines.push(`${reverse(e.ipv4)} PTR`);
      else lines.push(`f${i % 500}.${FORWARDED_SUFFIX} A`);
    }
  }
  return shuffled(lines, 42).join('\n') + '\n';
}

/** dnsmasq --addn-hosts file (it derives PTR records from it). */
export function hostsFile(n: number): string {
  return endpoints(n)
    .flatMap((e) => [`${e.ipv4} ${e.name} ${e.shortId}`, `${e.ipv6} ${e.name} ${e.shortId}`])
    .join('\n') + '\n';
}

/** unbound local-data lines. */
export function unboundLocalData(n: number, ttl: number): string {
  return endpoints(n)
    .flatMap((e) => [
      `local-data: "${e.name}. ${ttl} IN A ${e.ipv4}"`,
      `local-data: "${e.name}. ${ttl} IN AAAA ${e.ipv6}"`,
      `local-data: "${e.shortId}. ${ttl} IN A ${e.ipv4}"`,
      `local-data-ptr: "${e.ipv4} ${ttl} ${e.name}.${NETWORK}."`,
    ])
    .join('\n');
}

/** aardvark-dns network file: gateway and upstream, then one line per container. */
export function aardvarkConfig(n: number, upstream: string): string {
  const lines = [`${GATEWAY_V4},${GATEWAY_V6} ${upstream}`];
  for (const e of endpoints(n)) lines.push(`${e.id} ${e.ipv4} ${e.ipv6} ${e.name},${e.shortId}`);
  return lines.join('\n') + '\n';
}
