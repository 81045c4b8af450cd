/** Presentation details clients print verbatim: Go's time format. */
import t from 'tap';
import { goTime } from '../../src/api/present';

t.test("goTime: Go's RFC 3339 with nanoseconds, trailing zeros trimmed", async (t) => {
  t.equal(goTime('2026-11-27T17:59:37.064260546Z'), '2026-11-27T17:59:37.064260546Z');
  t.equal(goTime('2026-11-27T19:37:05.655407900Z'), '2026-11-27T19:37:05.6554079Z', 'as time.Time marshals it');
  t.equal(goTime('2026-11-27T19:37:05.100000000Z'), '2026-11-27T19:37:05.1Z');
  t.equal(goTime('2026-11-27T19:37:05.000000000Z'), '2026-11-27T19:37:05Z', 'no fraction at all');
  t.equal(goTime('0001-01-01T00:00:00Z'), '0001-01-01T00:00:00Z', "Go's zero time stays");
});
