import t from 'tap';
import { formatInspect } from '../../src/cli/format';
import { CONTAINER_JSON, decodeJSON, NETWORK_RESOURCE, rawJSONValue } from '../../src/cli/format/docker-types';
import { printActionValue } from '../../src/cli/format/gofmt';
import { CnmError } from '../../src/errors';
import { apinet, builtins, container, hex64, network } from './format-fixtures';

process.env.TZ = 'UTC';
const net = (format: string, n: unknown = apinet): string => formatInspect([n], 'network', format);
const ctr = (format: string): string => formatInspect([container], 'container', format);

t.test('{{.Containers}} prints Go maps of EndpointResource (§1.3)', async (t) => {
  const b1 = { Name: 'b1', EndpointID: hex64('e1'), MacAddress: '02:42:ac:11:00:02', IPv4Address: '172.17.0.2/16', IPv6Address: '' };
  const b2 = { Name: 'b2', EndpointID: hex64('e2'), MacAddress: '02:42:ac:11:00:03', IPv4Address: '172.17.0.3/16', IPv6Address: '' };
  const cid1 = hex64('1a');
  const cid2 = hex64('2b');
  const bridge = network({ Name: 'bridge', Id: hex64('711b'), Containers: { [cid2]: b1, [cid1]: b2 } });
  t.equal(
    net('{{.Containers}}', bridge),
    `map[${cid1}:{b2 ${hex64('e2')} 02:42:ac:11:00:03 172.17.0.3/16 } ${cid2}:{b1 ${hex64('e1')} 02:42:ac:11:00:02 172.17.0.2/16 }]\n`,
  );
  t.equal(net('{{.Containers}}', builtins[0]), 'map[]\n', 'empty');
  t.equal(
    net('{{json .Containers}}', bridge),
    `{"${cid1}":{"Name":"b2","EndpointID":"${hex64('e2')}","MacAddress":"02:42:ac:11:00:03","IPv4Address":"172.17.0.3/16","IPv6Address":""},` +
      `"${cid2}":{"Name":"b1","EndpointID":"${hex64('e1')}","MacAddress":"02:42:ac:11:00:02","IPv4Address":"172.17.0.2/16","IPv6Address":""}}\n`,
    'compact JSON, keys sorted',
  );
});

t.test('IPAM config in Go field order (Subnet IPRange Gateway AuxAddress)', async (t) => {
  const withConfig = (Config: unknown): unknown => network({ Name: 'n', Id: hex64('1'), IPAM: { Driver: 'default', Options: null, Config: Config as never } });
  t.equal(net('{{.IPAM.Config}}'), '[{10.95.0.0/24 10.95.0.128/25 10.95.0.1 map[]}]\n');
  t.equal(net('{{.IPAM.Config}}', withConfig([{ Subnet: '10.0.0.0/24', Gateway: '10.0.0.1' }])), '[{10.0.0.0/24  10.0.0.1 map[]}]\n');
  t.equal(
    net('{{.IPAM.Config}}', withConfig([{ Subnet: '10.98.0.0/24', AuxiliaryAddresses: { reserved: '10.98.0.5' } }])),
    '[{10.98.0.0/24   map[reserved:10.98.0.5]}]\n',
  );
  const v6 = [{ Subnet: '172.25.0.0/16', Gateway: '172.25.0.1' }, { Subnet: 'fd00:dead:beef::/64' }];
  t.equal(net('{{json .IPAM.Config}}', withConfig(v6)), `${JSON.stringify(v6)}\n`, 'json omits empty IPRange/Gateway/AuxiliaryAddresses');
  t.equal(net('{{.IPAM.Options}} {{json .IPAM.Options}}'), 'map[] null\n', 'null Options: a nil map');
  t.equal(net('{{range .IPAM.Config}}{{.Subnet}} via {{.Gateway}}{{end}}'), '10.95.0.0/24 via 10.95.0.1\n');
});

t.test('network fields by Go name and, through the raw fallback, by JSON key', async (t) => {
  t.equal(net('{{.ID}}'), `${apinet.Id}\n`);
  t.equal(net('{{.Id}}'), `${apinet.Id}\n`);
  t.equal(net('{{.Name}} {{.Driver}} {{.Scope}} {{.Internal}} {{.EnableIPv6}}'), 'apinet bridge local false false\n');
  t.equal(net('{{.Created}}'), '2026-11-27 17:59:37.064260546 +0000 UTC\n', 'time.Time prints with String()');
  t.equal(net('{{json .Created}}'), '"2026-11-27T17:59:37.064260546Z"\n');
  t.equal(net('{{.Labels}} {{index .Labels "purpose"}} {{.Labels.purpose}}'), 'map[purpose:demo] demo demo\n');
  t.equal(net('{{.ConfigFrom}} {{.Options}} {{.Peers}} {{.Services}}'), '{} map[] [] map[]\n');
  t.equal(
    net('{{range $id, $c := .Containers}}{{$c.Name}}={{$c.IPv4Address}} {{end}}'),
    'a1=10.95.0.50/24 a2=10.95.0.128/24 \n',
  );
  const json = JSON.parse(net('{{json .}}'));
  t.same(Object.keys(json), ['Name', 'Id', 'Created', 'Scope', 'Driver', 'EnableIPv6', 'IPAM', 'Internal', 'Attachable', 'Ingress', 'ConfigFrom', 'ConfigOnly', 'Containers', 'Options', 'Labels']);
  t.same(json, apinet, '{{json .}} round-trips the API object');
});

t.test('typed model of types.NetworkResource', async (t) => {
  const v = decodeJSON(NETWORK_RESOURCE, builtins[1]);
  t.equal(
    printActionValue(v),
    `{bridge ${builtins[1]!.Id} 2026-11-27 17:59:37.064260546 +0000 UTC local bridge false {default map[] [{172.17.0.0/16   map[]}]} false false false {} false map[] map[] map[] [] map[]}`,
  );
});

t.test('containers (types.ContainerJSON)', async (t) => {
  t.equal(ctr('{{.Name}} {{.Id}}'), `/c1 ${container.Id}\n`);
  t.equal(ctr('{{.ID}}'), `${container.Id}\n`, 'promoted from the embedded ContainerJSONBase');
  t.equal(ctr('{{.State.Status}} {{.State.Pid}} {{.State.Running}}'), 'running 1234 true\n');
  t.equal(ctr('{{.State}}'), '{running true false false false false 1234 0  2026-11-27T18:00:01Z 0001-01-01T00:00:00Z <nil>}\n');
  t.equal(ctr('{{.HostConfig.NetworkMode}}'), 'dnet\n');
  t.equal(ctr('{{.HostConfig.DNS}}'), '[10.0.0.53]\n');
  t.equal(ctr('{{.HostConfig.Dns}}'), '[10.0.0.53]\n', 'JSON key through the raw fallback');
  t.equal(ctr('{{.Config.Cmd}} {{join .Config.Cmd " "}} {{.Config.Labels.team}}'), '[sleep infinity] sleep infinity a\n');
  t.equal(ctr('{{.Mounts}} {{.Config.Env}} {{.Config.Volumes}}'), '[] [] map[]\n');
  t.equal(ctr('{{.NetworkSettings.SandboxKey}} {{.NetworkSettings.IPAddress}}|'), '/run/cnm/netns/5a4db0 |\n', 'fields of the embedded settings');
  t.match(ctr('{{.NetworkSettings.Networks}}'), /^map\[dnet:0xc[0-9a-f]+\]\n$/, 'a map of pointers prints addresses, as in Docker');
  t.equal(
    ctr('{{range $name, $ep := .NetworkSettings.Networks}}{{$name}} {{$ep.IPAddress}}/{{$ep.IPPrefixLen}} {{$ep.MacAddress}} {{$ep.Aliases}}{{end}}'),
    'dnet 10.10.0.10/24 02:42:0a:0a:00:0a [web c0ffee000001]\n',
  );
  t.equal(ctr('{{.NetworkSettings.Networks.dnet.IPAMConfig}}'), '<nil>\n');
  t.equal(ctr('{{.NetworkSettings.Ports}}'), 'map[80/tcp:[{0.0.0.0 8080} {:: 8080}]]\n');
  t.equal(ctr('{{json .NetworkSettings.Ports}}'), '{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"},{"HostIp":"::","HostPort":"8080"}]}\n');
  t.equal(
    ctr('{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}'),
    '8080\n',
    "Docker's documented idiom works (nat.Port keys reject a string, the raw fallback accepts it)",
  );
  t.equal(
    ctr('{{range $p, $conf := .NetworkSettings.Ports}}{{$p}} -> {{(index $conf 0).HostPort}}{{end}}'),
    '80/tcp -> 8080\n',
  );
  const typed = printActionValue(decodeJSON(CONTAINER_JSON, container));
  t.match(typed, /^\{0xc[0-9a-f]+ \[\] 0xc[0-9a-f]+ 0xc[0-9a-f]+\}$/, 'ContainerJSON: embedded *ContainerJSONBase, Mounts, *Config, *NetworkSettings');
});

t.test('the raw fallback is interface{} JSON with json.Number', async (t) => {
  t.equal(printActionValue(rawJSONValue({ b: [1, 'x', null], a: { n: 1.5 } })), 'map[a:map[n:1.5] b:[1 x <nil>]]');
  t.equal(ctr('{{.State.Pid}} {{.HostConfig.Dns}}'), '1234 [10.0.0.53]\n', 'numbers print as the daemon wrote them');
});

t.test('errors are reported as Template parsing error', async (t) => {
  const failure = (f: () => unknown): CnmError => {
    try {
      f();
    } catch (e) {
      if (e instanceof CnmError) return e;
      throw e;
    }
    throw new Error('no error');
  };
  const missing = failure(() => net('{{.Foo}}'));
  t.equal(missing.kind, 'invalid');
  t.equal(missing.message, 'Template parsing error: template: :1:2: executing "" at <.Foo>: map has no entry for key "Foo"');
  t.equal(failure(() => net('{{.Name')).message, 'Template parsing error: template: :1: unclosed action');
  t.equal(
    failure(() => net('{{.Id}} {{.ID}}')).message,
    'Template parsing error: template: :1:10: executing "" at <.ID>: map has no entry for key "ID"',
    'Go and JSON names cannot be mixed in one template (Docker behaves the same)',
  );
});

t.test('without a format: the JSON array, 4-space indent', async (t) => {
  t.equal(formatInspect([], 'network'), '[]\n');
  const out = formatInspect([apinet], 'network');
  t.equal(out, `${JSON.stringify([apinet], null, 4)}\n`, 'same layout as json.Indent for this ASCII object');
  t.ok(out.startsWith('[\n    {\n        "Name": "apinet",\n        "Id": "'));
  t.match(out, /\n {8}"IPAM": \{\n {12}"Driver": "default",\n {12}"Options": null,\n {12}"Config": \[\n {16}\{\n {20}"Subnet": "10\.95\.0\.0\/24",/);
  t.match(out, /\n {8}"Options": \{\},\n {8}"Labels": \{\n {12}"purpose": "demo"\n {8}\}\n {4}\}\n\]\n$/);
  t.equal(formatInspect([{ Name: 'a<b' }], 'network'), '[\n    {\n        "Name": "a\\u003cb"\n    }\n]\n', 'HTML escaped as the daemon sends it');
  t.equal(formatInspect([builtins[0], builtins[2]], 'network', 'json'), `${JSON.stringify([builtins[0], builtins[2]])}\n`);
  t.equal(formatInspect(builtins, 'network', '{{.Name}}'), 'none\nbridge\nhost\n', 'one line per object');
});
