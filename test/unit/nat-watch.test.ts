import t from 'tap';
import { foldEvent, isDamage, type TransactionSummary } from '../../src/nat/watch';

const NFTABLES = 10 << 8;
const INET = 1;
const IP = 2;
const [NEWTABLE, DELTABLE, NEWCHAIN, DELCHAIN, NEWRULE, DELRULE, NEWSET, DELSETELEM, NEWGEN] = [0, 2, 3, 5, 6, 8, 9, 14, 15];

/** An nftables event: nfgenmsg, then attribute 1 (the table name, NUL-terminated, padded). */
function event(family: number, table: string): Buffer {
  const name = Buffer.from(`${table}\0`);
  const attr = Buffer.alloc(4 + Math.ceil(name.length / 4) * 4);
  attr.writeUInt16LE(4 + name.length, 0);
  attr.writeUInt16LE(1, 2);
  name.copy(attr, 4);
  return Buffer.concat([Buffer.from([family, 0, 0, 0]), attr]);
}

/** Folds one transaction and says whether it damaged inet cnm. */
function damaged(events: [type: number, family: number, table: string][]): boolean {
  const summary: TransactionSummary = { deleted: false, recreated: false };
  for (const [type, family, table] of events) t.notOk(foldEvent(summary, NFTABLES | type, event(family, table), 'cnm'));
  t.ok(foldEvent(summary, NFTABLES | NEWGEN, Buffer.from([0, 0, 0, 0]), 'cnm'), 'NEWGEN closes the transaction');
  return isDamage(summary);
}

t.test('cnm\'s own apply (add; delete; re-create) is not damage', async (t) => {
  t.notOk(
    damaged([
      [NEWTABLE, INET, 'cnm'],
      [DELRULE, INET, 'cnm'],
      [DELCHAIN, INET, 'cnm'],
      [DELTABLE, INET, 'cnm'],
      [NEWTABLE, INET, 'cnm'],
      [NEWSET, INET, 'cnm'],
      [NEWCHAIN, INET, 'cnm'],
      [NEWRULE, INET, 'cnm'],
    ]),
  );
});

t.test('foreign deletions in cnm\'s table are damage', async (t) => {
  t.ok(damaged([[DELRULE, INET, 'cnm'], [DELCHAIN, INET, 'cnm'], [DELTABLE, INET, 'cnm']]), 'delete table / flush ruleset');
  t.ok(damaged([[DELRULE, INET, 'cnm']]), 'flush chain');
  t.ok(damaged([[DELSETELEM, INET, 'cnm']]), 'delete element');
  t.ok(damaged([[NEWTABLE, INET, 'cnm'], [DELTABLE, INET, 'cnm']]), 'add table; delete table (a teardown by someone else)');
});

t.test('what is not damage', async (t) => {
  t.notOk(damaged([[NEWRULE, INET, 'cnm']]), 'a rule added to cnm\'s table');
  t.notOk(damaged([[DELTABLE, INET, 'other']]), 'another table');
  t.notOk(damaged([[DELTABLE, IP, 'cnm']]), 'a table named cnm in another family');
  t.notOk(damaged([]), 'an empty transaction');
  const summary: TransactionSummary = { deleted: false, recreated: false };
  t.notOk(foldEvent(summary, (1 << 8) | DELTABLE, event(INET, 'cnm'), 'cnm'), 'another netfilter subsystem');
  t.notOk(summary.deleted);
});
