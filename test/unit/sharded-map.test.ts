/** The record tables' copy-on-write map: a derived map shares untouched shards and never changes its base. */
import t from 'tap';
import { ShardedMap } from '../../src/resolver/sharded-map';

t.test('derive applies changes to a copy; the base and its shards stay as they were', async (t) => {
  const base = ShardedMap.empty<number>().derive((edit) => {
    for (let i = 0; i < 1000; i++) edit.set(`k${i}`, i);
  });
  t.equal(base.size, 1000);
  const next = base.derive((edit) => {
    edit.set('k1', -1);
    edit.set('new', 7);
    edit.delete('k2');
    edit.delete('absent');
    t.equal(edit.get('k1'), -1, 'the editor reads its own writes');
  });
  t.equal(next.size, 1000, 'one added, one removed, one replaced, one absent key not counted');
  t.same([next.get('k1'), next.get('new'), next.has('k2'), next.get('k3')], [-1, 7, false, 3]);
  t.same([base.get('k1'), base.has('new'), base.get('k2')], [1, false, 2], 'the base is unchanged');
  t.equal([...next.keys()].length, 1000, 'iteration sees every key once');
  t.same(new Map(next).get('new'), 7, 'usable as an iterable of entries');
  let seen = 0;
  next.forEach(() => seen++);
  t.equal(seen, 1000);
});
