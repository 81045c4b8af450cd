/**
 * Writes a compiled native table (the unit tests' sample state plus 300 endpoints) and N fuzzed
 * messages (bench/dns/fuzz-packets.ts, plus the valid queries of the differential test's names)
 * for answer-check.c under valgrind:
 *   node dist/bench/dns/native-dump.js TABLE MESSAGES [N] [SEED]
 */
import { writeFileSync } from 'node:fs';
import { compileNativeTable } from '../../src/resolver/native-table';
import { buildSnapshot, emptySnapshot } from '../../src/resolver/records';
import { query, sampleState } from '../../test/unit/resolver-fixtures';
import { Fuzzer } from './fuzz-packets';

const [tablePath, messagesPath, count = '100000', seed = '7'] = process.argv.slice(2);
if (tablePath === undefined || messagesPath === undefined) throw new Error('usage: native-dump.js TABLE MESSAGES [N] [SEED]');
const state = sampleState();
state.networks[0] = {
  ...state.networks[0]!,
  endpoints: [...state.networks[0]!.endpoints, ...Array.from({ length: 300 }, (_, i) => ({ sandboxId: `m${i}`, names: [`m${i}`, 'many'], ipv4: `10.50.1.${i & 255}` }))],
};
const snapshot = buildSnapshot(emptySnapshot(), state, 600).snapshot;
const slots = new Map(state.sandboxes.map((s, i) => [s.id, i]));
writeFileSync(tablePath, compileNativeTable(snapshot, slots, 5));
const fuzzer = new Fuzzer(Number(seed));
const parts: Buffer[] = [];
const add = (msg: Buffer): void => {
  const length = Buffer.alloc(4);
  length.writeUInt32LE(msg.length);
  parts.push(length, msg);
};
for (const name of ['d1', 'D1.DNET', 'aaaaaaaaaaaa', 'web', 'd2', 'o3', 'm7', '2.0.50.10.in-addr.arpa', 'nosuch']) {
  for (const type of ['A', 'AAAA', 'PTR', 'TXT']) for (const edns of [undefined, 1232]) add(query(name, type, { edns }));
}
for (let i = 0; i < Number(count); i++) add(fuzzer.next());
writeFileSync(messagesPath, Buffer.concat(parts));
