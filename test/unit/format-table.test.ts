import t from 'tap';
import { formatContainerList, formatNetworkList } from '../../src/cli/format';
import { displayablePorts, ellipsis } from '../../src/cli/format/list-contexts';
import { humanDuration } from '../../src/human-duration';
import { naturalCompare } from '../../src/cli/format/natural-sort';
import { tabwrite } from '../../src/cli/format/table';
import { CnmError } from '../../src/errors';
import { builtins, hex64, network, summary } from './format-fixtures';

process.env.TZ = 'UTC';
const ls = (format?: string, extra: { quiet?: boolean; noTrunc?: boolean } = {}): string =>
  formatNetworkList(builtins, { format, quiet: extra.quiet ?? false, noTrunc: extra.noTrunc ?? false });

t.test("Go's tabwriter as the docker CLI sets it up (minwidth 10, padding 3)", async (t) => {
  t.equal(tabwrite('a\tb\tc\naaaaaaaaaaaa\tbb\tc\n'), 'a              b         c\naaaaaaaaaaaa   bb        c\n');
  t.equal(tabwrite('x\t\n'), 'x         \n', 'a tab-terminated cell is padded, the trailing text is not');
  t.equal(tabwrite('a\tb\nc\ndddddddddddddd\te\n'), 'a         b\nc\ndddddddddddddd   e\n', 'a line without a tab ends the column block');
  t.equal(tabwrite('a\tb\tc\nd\te\n'), 'a         b         c\nd         e\n');
  t.equal(tabwrite('héllo\tx\n'), 'héllo     x\n', 'widths count characters, not bytes');
  t.equal(tabwrite('no tabs'), 'no tabs');
});

t.test('network ls default table (§1.1), byte for byte', async (t) => {
  t.equal(
    ls(),
    'NETWORK ID     NAME      DRIVER    SCOPE\n' +
      '711b65d57f23   bridge    bridge    local\n' +
      'a6d519d87fb1   host      host      local\n' +
      '35f2cd0e54d9   none      null      local\n',
  );
  t.equal(ls(undefined, { quiet: true }), '711b65d57f23\na6d519d87fb1\n35f2cd0e54d9\n', '-q: IDs in the same order');
  const full = ls(undefined, { noTrunc: true });
  t.equal(full.split('\n')[1], `${builtins[1]!.Id}   bridge    bridge    local`, '--no-trunc: 64-hex IDs');
  t.equal(full.split('\n')[0], `NETWORK ID${' '.repeat(57)}NAME      DRIVER    SCOPE`);
  t.equal(formatNetworkList([], { quiet: false, noTrunc: false }), 'NETWORK ID   NAME      DRIVER    SCOPE\n', 'only the header');
  t.equal(formatNetworkList([], { quiet: true, noTrunc: false }), '');
});

t.test('network ls rows sorted by name, naturally', async (t) => {
  const nets = ['net10', 'net2', 'bridge', 'Net1', 'net02'].map((Name, i) => network({ Name, Id: hex64(String(i + 1)) }));
  t.equal(formatNetworkList(nets, { format: '{{.Name}}', quiet: false, noTrunc: false }), 'Net1\nbridge\nnet2\nnet02\nnet10\n');
  t.ok(naturalCompare('a2', 'a10') < 0 && naturalCompare('a10', 'a2') > 0 && naturalCompare('x', 'x') === 0);
  t.ok(naturalCompare('1a', 'a') < 0, 'digits before letters');
});

t.test('network ls --format', async (t) => {
  const inet = network({ Name: 'inet', Id: hex64('1e'), Internal: true });
  t.equal(
    formatNetworkList([inet], { format: '{{.Name}}\\t{{.Driver}}\\t{{.Scope}}\\t{{.Internal}}\\t{{.IPv6}}', quiet: false, noTrunc: false }),
    'inet\tbridge\tlocal\ttrue\tfalse\n',
    '§1.1: a literal \\t becomes a tab; no table, no alignment',
  );
  t.equal(ls('{{.Name}}', { quiet: true }), 'bridge\nhost\nnone\n', '-q does not override a custom format for networks');
  const labelled = network({ Name: 'lab', Id: hex64('1ab'), Labels: { 'com.example.team': 'a', env: 'prod' } });
  t.equal(
    formatNetworkList([labelled], { format: 'table {{.Name}}\t{{.Labels}}\t{{.Label "com.example.team"}}', quiet: false, noTrunc: false }),
    'NAME      LABELS                        team\nlab       com.example.team=a,env=prod   a\n',
    'header of .Label is the last dotted part',
  );
  t.equal(
    ls('table {{upper .Name}}\t{{.IPv6}}\t{{.Internal}}'),
    'NAME      IPV6      INTERNAL\nBRIDGE    false     false\nHOST      false     false\nNONE      false     false\n',
    'header functions leave column names alone',
  );
  t.equal(
    ls('table {{.ID}}\t{{.CreatedAt}}').split('\n')[1],
    '711b65d57f23   2026-11-27 17:59:37.064260546 +0000 UTC',
  );
  t.equal(
    ls('json').split('\n')[0],
    '{"CreatedAt":"2026-11-27 17:59:37.064260546 +0000 UTC","Driver":"bridge","ID":"711b65d57f23","IPv6":"false","Internal":"false","Labels":"","Name":"bridge","Scope":"local"}',
  );
  t.equal(ls('{{json .}}'), ls('json'));
  t.equal(ls('raw').split('\n\n')[0], `network_id: 711b65d57f23\nname: bridge\ndriver: bridge\nscope: local`);
  t.equal(ls('table'), ls(), '"table" alone is the default table');
});

t.test('list template errors', async (t) => {
  const err = (f: () => unknown): CnmError => {
    try {
      f();
    } catch (e) {
      if (e instanceof CnmError) return e;
      throw e;
    }
    throw new Error('no error');
  };
  t.equal(
    err(() => ls('table {{.Name}} {{.Foo}}')).message,
    'Template parsing error: template: :1:12: executing "" at <.Foo>: can\'t evaluate field Foo in type *network.networkContext',
  );
  t.equal(err(() => ls('{{.Name')).message, 'Template parsing error: template: :1: unclosed action');
  t.equal(err(() => ls('{{.Name')).kind, 'invalid');
  t.equal(
    err(() => ls('{{.Label}}')).message,
    'Template parsing error: template: :1:2: executing "" at <.Label>: wrong number of args for Label: want 1 got 0',
  );
});

t.test('ps', async (t) => {
  const now = new Date(Date.UTC(2026, 10, 27, 18, 4, 37));
  const web = summary({
    Id: hex64('f00d0000cafe'),
    Names: ['/web'],
    Command: "nginx -g 'daemon off;'",
    Ports: [
      { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
      { IP: '::', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
      { PrivatePort: 53, Type: 'udp' },
    ],
    Labels: { b: '2', a: '1' },
    NetworkSettings: { Networks: { front: {} as never, back: {} as never } },
  });
  const db = summary({ Id: hex64('d0d0'), Names: ['/db', '/web/db'], Image: '', Status: 'Exited (0) 2 minutes ago', State: 'exited' });
  const rows = [web, db];
  t.equal(
    formatContainerList(rows, { quiet: false, noTrunc: false, now }),
    'CONTAINER ID   IMAGE        COMMAND                  CREATED         STATUS                     PORTS                                           NAMES\n' +
      'f00d0000cafe   alpine       "nginx -g \'daemon of…"   5 minutes ago   Up 5 minutes               53/udp, 0.0.0.0:8080->80/tcp, :::8080->80/tcp   web\n' +
      'd0d000000000   <no image>   "sleep infinity"         5 minutes ago   Exited (0) 2 minutes ago                                                   db\n',
  );
  t.equal(formatContainerList(rows, { quiet: true, noTrunc: false }), 'f00d0000cafe\nd0d000000000\n');
  t.equal(formatContainerList(rows, { format: '{{.Names}}', quiet: true, noTrunc: false }), 'f00d0000cafe\nd0d000000000\n', '-q wins over --format');
  t.equal(
    formatContainerList(rows, { format: '{{.Names}}|{{.Command}}', quiet: false, noTrunc: true }),
    'web|"nginx -g \'daemon off;\'"\ndb,web/db|"sleep infinity"\n',
    '--no-trunc: every name, the whole command',
  );
  t.equal(
    formatContainerList([web], { format: 'table {{.Names}}\t{{.Networks}}\t{{.Labels}}\t{{.Label "a"}}\t{{.CreatedAt}}\t{{.State}}', quiet: false, noTrunc: false, now }),
    'NAMES     NETWORKS     LABELS    a         CREATED AT                      STATE\n' +
      'web       back,front   a=1,b=2   1         2026-11-27 17:59:37 +0000 UTC   running\n',
  );
  const json = JSON.parse(formatContainerList([web], { format: 'json', quiet: false, noTrunc: false, now }));
  t.same(Object.keys(json), ['Command', 'CreatedAt', 'ID', 'Image', 'Labels', 'LocalVolumes', 'Mounts', 'Names', 'Networks', 'Ports', 'RunningFor', 'Size', 'State', 'Status']);
  t.equal(json.RunningFor, '5 minutes ago');
});

t.test('ps helpers', async (t) => {
  t.equal(ellipsis('sleep infinity', 20), 'sleep infinity');
  t.equal(ellipsis('abcdefghijklmnopqrstuvwxyz', 20), 'abcdefghijklmnopqrs…');
  t.equal(ellipsis('日本語のコマンドです', 6), '日本…', 'wide characters count twice');
  t.equal(
    displayablePorts([
      { IP: '0.0.0.0', PrivatePort: 7001, PublicPort: 7001, Type: 'tcp' },
      { IP: '0.0.0.0', PrivatePort: 7000, PublicPort: 7000, Type: 'tcp' },
      { PrivatePort: 9000, Type: 'tcp' },
      { PrivatePort: 9002, Type: 'tcp' },
    ]),
    '9000/tcp, 0.0.0.0:7000-7001->7000-7001/tcp, 9002/tcp',
    'consecutive ports grouped; a group closed by a gap is listed before the still-open ones, as Docker does',
  );
  const s = 1000;
  const cases: [number, string][] = [
    [500, 'Less than a second'],
    [1 * s, '1 second'],
    [59 * s, '59 seconds'],
    [60 * s, 'About a minute'],
    [119 * s, 'About a minute'],
    [120 * s, '2 minutes'],
    [59 * 60 * s, '59 minutes'],
    [60 * 60 * s, 'About an hour'],
    [89 * 60 * s, 'About an hour'],
    [90 * 60 * s, '2 hours'],
    [47 * 3600 * s, '47 hours'],
    [48 * 3600 * s, '2 days'],
    [14 * 86400 * s, '2 weeks'],
    [60 * 86400 * s, '2 months'],
    [730 * 86400 * s, '2 years'],
  ];
  for (const [ms, want] of cases) t.equal(humanDuration(ms), want, `${ms} ms`);
});
