import t from 'tap';
import { printActionValue, sprint, sprintf, sprintln } from '../../src/cli/format/gofmt';
import { marshalGo, marshalRaw, quoteJSON } from '../../src/cli/format/gojson';
import { parseRFC3339, timeRFC3339Nano, timeString, unixLocal } from '../../src/cli/format/gotime';
import {
  bool, field, float, INT, int, INVALID, map, mapOf, NIL_IFACE, ptr, ptrTo, slice, sliceOf, STRING, str, struct, structType,
  TIME, time, zeroValue,
} from '../../src/cli/format/govalue';

process.env.TZ = 'UTC';

t.test('Go %v printing', async (t) => {
  const Pair = structType('main.Pair', [field('K', STRING), field('V', INT)]);
  t.equal(printActionValue(struct(Pair, [str('a'), int(1)])), '{a 1}');
  t.equal(printActionValue(struct(Pair, [str(''), int(0)])), '{ 0}', 'an empty string leaves only the separator');
  t.equal(printActionValue(map(mapOf(STRING), null)), 'map[]', 'nil map');
  t.equal(printActionValue(map(mapOf(STRING), new Map([['b', str('2')], ['a', str('1')]]))), 'map[a:1 b:2]');
  t.equal(printActionValue(slice(sliceOf(STRING), null)), '[]');
  t.equal(printActionValue(slice(sliceOf(INT), [int(1), int(2)])), '[1 2]');
  t.equal(printActionValue(ptr(ptrTo(Pair), null)), '<nil>');
  t.equal(printActionValue(bool(true)), 'true');
  t.equal(printActionValue(INVALID), '<no value>');
  t.equal(printActionValue(float(1e6)), '1e+06');
  t.equal(printActionValue(float(2.5)), '2.5');
  const Holder = structType('main.Holder', [field('P', ptrTo(Pair)), field('Q', ptrTo(Pair)), field('I', mapOf(NIL_IFACE.type))]);
  const inner = struct(Pair, [str('x'), int(2)]);
  const holder = struct(Holder, [ptr(ptrTo(Pair), inner), ptr(ptrTo(Pair), null), map(mapOf(NIL_IFACE.type), new Map([['n', NIL_IFACE]]))]);
  const printed = printActionValue(holder);
  t.match(printed, /^\{0xc[0-9a-f]+ <nil> map\[n:<nil>\]\}$/, 'nested pointers print as addresses, nil interfaces as <nil>');
  t.equal(printActionValue(holder), printed, 'the same pointer prints the same address');
  t.equal(sprintf('%v', [ptr(ptrTo(Pair), inner)]), '&{x 2}', 'a pointer argument of printf prints as &{...}');
});

t.test('Sprint, Sprintln, Sprintf', async (t) => {
  t.equal(sprint([str('a'), int(1), int(2), str('b')]), 'a1 2b');
  t.equal(sprintln([str('a'), int(1)]), 'a 1\n');
  t.equal(sprintf('%-10s|', [str('abc')]), 'abc       |');
  t.equal(sprintf('%10.3s|', [str('abcdef')]), '       abc|');
  t.equal(sprintf('%q', [str('tab\there "q" é \u0001')]), '"tab\\there \\"q\\" é \\x01"');
  t.equal(sprintf('%#q', [str('raw')]), '`raw`');
  t.equal(sprintf('%x % x %X', [str('hi'), str('hi'), int(255)]), '6869 68 69 FF');
  t.equal(sprintf('%t %v', [bool(false), NIL_IFACE]), 'false <nil>');
  t.equal(sprintf('%s', [NIL_IFACE]), '%!s(<nil>)');
  t.equal(sprintf('%T %T', [str('a'), slice(sliceOf(STRING), null)]), 'string []string');
  t.equal(sprintf('%08.3f|% d|%+.1e', [float(-3.14159), int(5), float(12345)]), '-003.142| 5|+1.2e+04');
  t.equal(sprintf('50%', []), '50%!(NOVERB)');
  t.equal(sprintf('%!', []), '%!!(MISSING)');
});

t.test('time.Time', async (t) => {
  const created = parseRFC3339('2026-11-27T17:59:37.064260546Z')!;
  t.equal(timeString(created), '2026-11-27 17:59:37.064260546 +0000 UTC');
  t.equal(timeRFC3339Nano(created), '2026-11-27T17:59:37.064260546Z');
  const trimmed = parseRFC3339('2026-11-27T17:59:37.064260000Z')!;
  t.equal(timeRFC3339Nano(trimmed), '2026-11-27T17:59:37.06426Z', 'trailing zeros of the fraction are dropped');
  t.equal(timeString(parseRFC3339('2026-11-27T17:59:37Z')!), '2026-11-27 17:59:37 +0000 UTC');
  const offset = parseRFC3339('2026-11-27T18:59:37+01:00')!;
  t.equal(timeString(offset), '2026-11-27 18:59:37 +0100 +0100', 'an offset that is not the local zone gets a nameless zone');
  t.equal(timeRFC3339Nano(offset), '2026-11-27T18:59:37+01:00');
  t.equal(printActionValue(zeroValue(TIME)), '0001-01-01 00:00:00 +0000 UTC');
  t.equal(timeString(unixLocal(Date.UTC(2026, 10, 27, 17, 59, 37) / 1000)), '2026-11-27 17:59:37 +0000 UTC');
  t.equal(parseRFC3339('yesterday'), undefined);
  t.equal(printActionValue(time(created)), '2026-11-27 17:59:37.064260546 +0000 UTC');
});

t.test('encoding/json', async (t) => {
  t.equal(quoteJSON('<a&b> "q" \\ \n\t\u0001 \u2028', true), '"\\u003ca\\u0026b\\u003e \\"q\\" \\\\ \\n\\t\\u0001 \\u2028"');
  t.equal(quoteJSON('<a&b>', false), '"<a&b>"');
  const Inner = structType('main.Inner', [field('X', STRING)]);
  const S = structType('main.S', [
    field('Name', STRING, { json: 'name' }),
    field('Skip', STRING, { omitempty: true }),
    field('List', sliceOf(STRING)),
    field('Map', mapOf(STRING), { omitempty: true }),
    field('Inner', Inner, { embedded: true }),
    field('Ptr', ptrTo(Inner)),
    field('When', TIME),
  ]);
  const v = struct(S, [
    str('n'),
    str(''),
    slice(sliceOf(STRING), null),
    map(mapOf(STRING), new Map()),
    struct(Inner, [str('inlined')]),
    ptr(ptrTo(Inner), null),
    time(parseRFC3339('2026-11-27T17:59:37.5Z')!),
  ]);
  t.equal(
    marshalGo(v, { escapeHTML: true }),
    '{"name":"n","List":null,"X":"inlined","Ptr":null,"When":"2026-11-27T17:59:37.5Z"}',
    'tags, omitempty, nil slice, embedded struct inlined, nil pointer, time',
  );
  t.equal(marshalGo(map(mapOf(INT), new Map([['b', int(2)], ['a', int(1)]])), { escapeHTML: true }), '{"a":1,"b":2}', 'map keys sorted');
  t.equal(marshalGo(float(1.5e-7), { escapeHTML: true }), '1.5e-7');
  t.equal(marshalGo(float(100), { escapeHTML: true }), '100');
});

t.test('re-indenting raw JSON like json.Indent', async (t) => {
  const raw = { b: 1, a: [], o: {}, l: [{ x: '<' }], n: null };
  t.equal(
    marshalRaw(raw, '    '),
    '{\n    "b": 1,\n    "a": [],\n    "o": {},\n    "l": [\n        {\n            "x": "\\u003c"\n        }\n    ],\n    "n": null\n}',
    'key order kept, empty containers compact, HTML escaped as the daemon does',
  );
  t.equal(marshalRaw([], '    '), '[]');
  t.equal(marshalRaw(raw, ''), '{"b":1,"a":[],"o":{},"l":[{"x":"\\u003c"}],"n":null}');
});
