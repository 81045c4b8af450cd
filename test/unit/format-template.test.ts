import t from 'tap';
import { decodeJSON } from '../../src/cli/format/docker-types';
import { BOOL, field, INT, mapOf, ptrTo, sliceOf, STRING, structType } from '../../src/cli/format/govalue';
import { type MissingKey, Template, TemplateError, TemplateExecError } from '../../src/cli/format/template';

const Inner = structType('main.Inner', [field('A', STRING), field('B', INT)]);
const Outer = structType('main.Outer', [
  field('Name', STRING),
  field('Items', sliceOf(STRING)),
  field('Empty', sliceOf(STRING)),
  field('M', mapOf(STRING)),
  field('In', Inner),
  field('P', ptrTo(Inner)),
  field('Nil', ptrTo(Inner)),
  field('Flag', BOOL),
  field('N', INT),
]);
const data = decodeJSON(Outer, {
  Name: 'x',
  Items: ['a', 'b'],
  Empty: null,
  M: { k2: 'v2', k1: 'v1' },
  In: { A: 'a', B: 1 },
  P: { A: 'p', B: 2 },
  Nil: null,
  Flag: false,
  N: 3,
});

const run = (text: string, missingKey?: MissingKey): string => Template.parse(text).execute(data, { missingKey });
const fails = (text: string): string => {
  try {
    run(text);
  } catch (e) {
    if (e instanceof TemplateError) return e.message;
    throw e;
  }
  throw new Error(`${text} did not fail`);
};

t.test('fields and Go printing of values', async (t) => {
  t.equal(run('{{.Name}}'), 'x');
  t.equal(run('{{.In}}'), '{a 1}');
  t.equal(run('{{.In.B}}'), '1');
  t.equal(run('{{.P}}'), '{p 2}', 'a pointer action prints what it points to');
  t.equal(run('{{.P.A}}'), 'p', 'fields through pointers');
  t.equal(run('{{.Nil}}'), '<nil>');
  t.equal(run('{{.Items}}'), '[a b]');
  t.equal(run('{{.Empty}}'), '[]', 'nil slice');
  t.equal(run('{{.M}}'), 'map[k1:v1 k2:v2]', 'map keys sorted');
  t.equal(run('{{.Flag}} {{.N}}'), 'false 3');
  t.match(run('{{.}}'), /^\{x \[a b\] \[\] map\[k1:v1 k2:v2\] \{a 1\} 0xc[0-9a-f]+ <nil> false 3\}$/, 'a nested pointer prints as an address');
  t.equal(run('{{$}}'), run('{{.}}'));
  t.equal(run('{{.M.k1}}'), 'v1', 'map keys as fields');
  t.equal(run('{{.M.nokey}}'), '<no value>');
  t.equal(run('{{.M.nokey}}', 'zero'), '');
  t.equal(run('[{{.M.nokey.deeper}}]'), '[<no value>]');
});

t.test('control structures', async (t) => {
  t.equal(run('{{range .Items}}[{{.}}]{{end}}'), '[a][b]');
  t.equal(run('{{range $i, $e := .Items}}{{$i}}={{$e}},{{end}}'), '0=a,1=b,');
  t.equal(run('{{range $e := .Items}}{{$e}}{{end}}'), 'ab', 'one range variable gets the element');
  t.equal(run('{{range $k, $v := .M}}{{$k}}:{{$v}};{{end}}'), 'k1:v1;k2:v2;', 'map range in key order');
  t.equal(run('{{range .Empty}}x{{else}}none{{end}}'), 'none');
  t.equal(run('{{range .M.nokey}}x{{else}}none{{end}}'), 'none', 'a missing value ranges like an empty map');
  t.equal(run('{{range .Items}}{{if eq . "b"}}{{break}}{{end}}{{.}}{{end}}'), 'a');
  t.equal(run('{{range .Items}}{{if eq . "a"}}{{continue}}{{end}}{{.}}{{end}}'), 'b');
  t.equal(run('{{if .Flag}}yes{{else if eq .N 3}}three{{else}}no{{end}}'), 'three');
  t.equal(run('{{if .Items}}some{{end}}{{if .Empty}}x{{else}}-{{end}}'), 'some-');
  t.equal(run('{{if .Nil}}x{{else}}nil{{end}}{{if .In}}struct{{end}}'), 'nilstruct');
  t.equal(run('{{with .In}}{{.A}}{{end}}'), 'a');
  t.equal(run('{{with .Empty}}x{{else}}y{{end}}'), 'y');
  t.equal(run('{{with $x := .Name}}{{$x}}{{.}}{{end}}'), 'xx');
});

t.test('variables, pipelines, parentheses, literals', async (t) => {
  t.equal(run('{{$x := .Name}}{{$x}}'), 'x');
  t.equal(run('{{$x := 1}}{{$x = 2}}{{$x}}'), '2');
  t.equal(run('{{range .Items}}{{$.Name}}{{end}}'), 'xx', '$ is the data');
  t.equal(run('{{.Name | upper}}'), 'X');
  t.equal(run('{{.Name | printf "%s-%s" "a"}}'), 'a-x', 'the piped value is the last argument');
  t.equal(run('{{(index .Items 1) | upper}}'), 'B');
  t.equal(run('{{(.P).A}}'), 'p');
  t.equal(run('{{len (index .M "k1")}}'), '2');
  t.equal(run('{{"a\\tb"}}|{{`r\\n`}}'), 'a\tb|r\\n');
  t.equal(run('{{1.5}} {{0x10}} {{\'a\'}} {{true}} {{1e3}} {{-3}} {{1_000}}'), '1.5 16 97 true 1000 -3 1000');
  t.equal(run('{{print nil}}'), '<nil>');
});

t.test('whitespace trimming and comments', async (t) => {
  t.equal(run('a  {{- .Name -}}  b'), 'axb');
  t.equal(run('a\n\t{{- .Name}}\n'), 'ax\n');
  t.equal(run('a{{/* comment */}}b'), 'ab');
  t.equal(run('a {{- /* comment */ -}} b'), 'ab');
  t.equal(run('{{ .Name }}'), 'x');
  t.equal(run('{{-3}}'), '-3', '"{{-3" is a number, not a trim marker');
});

t.test('Go builtins', async (t) => {
  t.equal(run('{{and .Flag (index .Items 5)}}'), 'false', 'and short-circuits');
  t.equal(run('{{or .Name (index .Items 5)}}'), 'x', 'or short-circuits');
  t.equal(run('{{or "" "d"}} {{and 1 2}} {{not .Flag}}'), 'd 2 true');
  t.equal(run('{{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1 2}} {{ne 1 2}}'), 'true true true false true');
  t.equal(run('{{eq .Name "y" "x"}}'), 'true', 'eq with several candidates');
  t.equal(run('{{len .Name}} {{len .Items}} {{len .M}} {{len "héllo"}}'), '1 2 2 6', 'len of a string counts bytes');
  t.equal(run('{{index .M "k2"}} {{index .Items 0}} {{index .M "none"}}|'), 'v2 a |');
  t.equal(run('{{slice "abcdef" 1 3}} {{slice .Items 1}}'), 'bc [b]');
  t.equal(run('{{print 1 2 "a" "b" 3}}'), '1 2ab3', 'Sprint spaces only between non-strings');
  t.equal(run('{{println 1 "a"}}'), '1 a\n');
  t.equal(run('{{html "<a href=\'x\'>"}} {{urlquery "a b&c"}} {{js "it\'s"}}'), "&lt;a href=&#39;x&#39;&gt; a+b%26c it\\'s");
});

t.test('printf', async (t) => {
  const cases: [string, string][] = [
    ['{{printf "%5.2f|%x|%X|%o|%b" 3.14159 255 255 8 5}}', ' 3.14|ff|FF|10|101'],
    ['{{printf "%q %t %v" "a\\"b" true .In}}', '"a\\"b" true {a 1}'],
    ['{{printf "%+v" .In}}', '{A:a B:1}'],
    ['{{printf "%v" .P}}', '&{p 2}'],
    ['{{printf "%-5s|%5s|%05d|%+d|%x" "ab" "cd" 42 7 "hi"}}', 'ab   |   cd|00042|+7|6869'],
    ['{{printf "%.2s|%c|%U|%%" "abc" 65 65}}', 'ab|A|U+0041|%'],
    ['{{printf "%d" "x"}}', '%!d(string=x)'],
    ['{{printf "%s %s" "a"}}', 'a %!s(MISSING)'],
    ['{{printf "%s" "a" "b" 3}}', 'a%!(EXTRA string=b, int=3)'],
    ['{{printf "%[2]s-%[1]s" "a" "b"}}', 'b-a'],
    ['{{printf "%*d|%-*d|" 4 1 3 2}}', '   1|2  |'],
    ['{{printf "%v %v %v %v %v" 1000000.0 123456.0 0.000012 3.0 1.5}}', '1e+06 123456 1.2e-05 3 1.5'],
    ['{{printf "%e %g %.3g" 1234.5678 0.0001 1234.5678}}', '1.234568e+03 0.0001 1.23e+03'],
    ['{{printf "%s" .M}}', 'map[k1:v1 k2:v2]'],
    ['{{printf "%d" .In}}', '{%!d(string=a) 1}'],
  ];
  for (const [tmpl, want] of cases) t.equal(run(tmpl), want, tmpl);
});

t.test("docker's functions", async (t) => {
  t.equal(run('{{json .In}}'), '{"A":"a","B":1}');
  t.equal(run('{{json .M}} {{json .Empty}} {{json .Nil}}'), '{"k1":"v1","k2":"v2"} null null');
  t.equal(run('{{json "<&>"}}'), '"<&>"', "docker's json does not escape HTML");
  t.equal(run('{{json .M.nokey}}'), 'null');
  t.equal(run('{{join .Items ","}}'), 'a,b');
  t.equal(run('{{split "a,b,,c" ","}} {{len (split "" ",")}}'), '[a b  c] 1');
  t.equal(run('{{join (split "a:b" ":") "-"}}'), 'a-b');
  t.equal(run('{{lower "AbC"}} {{upper "aBc"}} {{title "hello wORLD-x y_z"}}'), 'abc ABC Hello WORLD-X Y_z');
  t.equal(run('[{{pad "ab" 2 1}}][{{pad "" 2 1}}]'), '[  ab ][]');
  t.equal(run('{{truncate "abcdef" 3}} {{truncate "ab" 3}} {{truncate "abc" 3}}'), 'abc ab abc');
});

t.test('execution errors read like Go', async (t) => {
  t.equal(fails('{{.Nope}}'), 'template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type main.Outer');
  t.equal(fails('{{.Nil.A}}'), 'template: :1:2: executing "" at <.Nil.A>: nil pointer evaluating *main.Inner.A');
  t.equal(fails('{{.Nil.Zzz}}'), 'template: :1:2: executing "" at <.Nil.Zzz>: can\'t evaluate field Zzz in type *main.Inner');
  t.equal(fails('{{.Name.X}}'), 'template: :1:2: executing "" at <.Name.X>: can\'t evaluate field X in type string');
  t.equal(fails('a\n b{{.Nope}}'), 'template: :2:4: executing "" at <.Nope>: can\'t evaluate field Nope in type main.Outer');
  t.equal(fails('{{upper}}'), 'template: :1:2: executing "" at <upper>: wrong number of args for upper: want 1 got 0');
  t.equal(fails('{{upper .N}}'), 'template: :1:8: executing "" at <.N>: wrong type for value; expected string; got int');
  t.equal(fails('{{index .Items 5}}'), 'template: :1:2: executing "" at <index .Items 5>: error calling index: index out of range: 5');
  t.equal(fails('{{eq 1 "a"}}'), 'template: :1:2: executing "" at <eq 1 "a">: error calling eq: incompatible types for comparison');
  t.equal(fails('{{.In 1}}'), 'template: :1:2: executing "" at <.In>: In has arguments but cannot be invoked as function');
  t.equal(fails('{{range .N}}{{end}}'), 'template: :1:8: executing "" at <.N>: range can\'t iterate over 3');
  const e = (() => {
    try {
      run('ab{{.Name}}{{.Nope}}');
    } catch (err) {
      return err;
    }
    return undefined;
  })();
  t.ok(e instanceof TemplateExecError && e.output === 'abx', 'the partial output is kept');
  t.throws(() => run('{{.M.nokey}}', 'error'), { message: 'template: :1:2: executing "" at <.M.nokey>: map has no entry for key "nokey"' });
});

t.test('parse errors read like Go', async (t) => {
  const cases: [string, string][] = [
    ['{{.Name', 'template: :1: unclosed action'],
    ['{{end}}', 'template: :1: unexpected {{end}}'],
    ['{{if .Flag}}x', 'template: :1: unexpected EOF'],
    ['{{foo}}', 'template: :1: function "foo" not defined'],
    ['a\n{{foo}}', 'template: :2: function "foo" not defined'],
    ['{{$x}}', 'template: :1: undefined variable "$x"'],
    ['{{range .Items}}{{else}}{{else}}{{end}}', 'template: :1: expected end; found {{else}}'],
    ['{{break}}', 'template: :1: {{break}} outside {{range}}'],
    ['{{.Name | "x"}}', 'template: :1: non executable command in pipeline stage 2'],
    ['{{}}', 'template: :1: missing value for command'],
    ['{{"abc}}', 'template: :1: unterminated quoted string'],
    ['{{/* x }}', 'template: :1: unclosed comment'],
    ['{{.Name @}}', "template: :1: unexpected \"@\" in operand"],
    ['{{3x}}', 'template: :1: bad number syntax: "3x"'],
  ];
  for (const [text, want] of cases) t.equal(fails(text), want, text);
});

t.test('a parsed template is reused', async (t) => {
  const tmpl = Template.parse('{{.A}}-{{.B}}');
  t.equal(tmpl.execute(decodeJSON(Inner, { A: 'one', B: 1 })), 'one-1');
  t.equal(tmpl.execute(decodeJSON(Inner, { A: 'two', B: 2 })), 'two-2');
});
