/** Shared by the resolver's tests: queries built and answers read with dns-packet (an independent codec). */
import * as packet from 'dns-packet';
import type { DnsNetwork, DnsSandbox } from '../../src/resolver/state';

/** DnsState with writable arrays, so tests can derive variants. */
export interface TestState {
  networks: DnsNetwork[];
  sandboxes: DnsSandbox[];
}

/** dns-packet's decoded message, typed loosely enough for assertions. */
export interface Decoded {
  id: number;
  rcode: string;
  flag_qr: boolean;
  flag_aa: boolean;
  flag_tc: boolean;
  flag_rd: boolean;
  flag_ra: boolean;
  questions: { name: string; type: string; class: string }[];
  answers: { name: string; type: string; ttl: number; data: unknown }[];
  authorities: { name: string; type: string; ttl: number; data: unknown }[];
  additionals: { type: string; flags?: number; options?: { code: number; data?: Buffer }[] }[];
}

export interface QueryOptions {
  id?: number;
  rd?: boolean;
  edns?: number;
  dnssecOk?: boolean;
  cd?: boolean;
}

export function query(name: string, type = 'A', options: QueryOptions = {}): Buffer {
  let flags = options.rd === false ? 0 : packet.RECURSION_DESIRED;
  if (options.cd) flags |= packet.CHECKING_DISABLED;
  return packet.encode({
    type: 'query',
    id: options.id ?? 4242,
    flags,
    questions: [{ type: type as packet.RecordType, name, class: 'IN' }],
    additionals:
      options.edns === undefined
        ? []
        : [{ type: 'OPT', name: '.', udpPayloadSize: options.edns, flags: options.dnssecOk ? packet.DNSSEC_OK : 0, options: [] } as never],
  });
}

export const decode = (buf: Buffer): Decoded => packet.decode(buf) as never;

export function addresses(buf: Buffer): string[] {
  return (decode(buf).answers ?? []).map((a) => String((a as { data: unknown }).data));
}

/** Two networks, a shared alias, a dual-stack endpoint and one internal network. */
export function sampleState(): TestState {
  return {
    networks: [
      {
        id: 'n1',
        name: 'dnet',
        internal: false,
        endpoints: [
          { sandboxId: 's1', names: ['d1', 'aaaaaaaaaaaa', 'web'], ipv4: '10.50.0.2' },
          { sandboxId: 's2', names: ['d2', 'bbbbbbbbbbbb', 'web'], ipv4: '10.50.0.3', ipv6: 'fd00::3' },
        ],
      },
      {
        id: 'n2',
        name: 'other',
        internal: false,
        endpoints: [
          { sandboxId: 's2', names: ['d2', 'bbbbbbbbbbbb'], ipv4: '10.60.0.3' },
          { sandboxId: 's3', names: ['o3', 'cccccccccccc'], ipv4: '10.60.0.4' },
        ],
      },
      { id: 'n3', name: 'sealed', internal: true, endpoints: [{ sandboxId: 's4', names: ['i4'], ipv4: '10.70.0.2' }] },
    ],
    sandboxes: [
      { id: 's1', nsPath: '/ns/s1', networkIds: ['n1'] },
      { id: 's2', nsPath: '/ns/s2', networkIds: ['n1', 'n2'] },
      { id: 's3', nsPath: '/ns/s3', networkIds: ['n2'], ndots: 2 },
      { id: 's4', nsPath: '/ns/s4', networkIds: ['n3'] },
    ],
  };
}
