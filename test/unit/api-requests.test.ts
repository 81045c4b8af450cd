/**
 * Request bodies and parameters → what the controller gets, or the 400 naming the field:
 * network create/connect/disconnect, alias changes, filters, and the access flags.
 */
import t from 'tap';
import { parseAliasChange } from '../../src/api/aliases';
import { labelMatch, parseFilters, regexMatch } from '../../src/api/filters';
import { parseConnect, parseDisconnect, parseEndpointConfig, parseNetworkCreate } from '../../src/api/network-requests';
import { isLoopback } from '../../src/api/server';
import { parseDaemonArgs, parseTcp } from '../../src/daemon/options';

const refused = (message: string | RegExp): { kind: string; message: string | RegExp } => ({ kind: 'invalid', message });

t.test('parseNetworkCreate', async (t) => {
  t.same(parseNetworkCreate({ Name: 'n' }), {
    name: 'n', driver: 'bridge', options: {}, labels: {}, ipamDriver: 'default', ipamOptions: null, ipamConfig: [],
    enableIPv6: false, internal: false, attachable: false, ingress: false, configOnly: false,
  }, "Docker's defaults; IPAM options null when not given");
  // What `docker network create --subnet --ip-range --gateway --aux-address --label -o --internal` sends.
  t.same(
    parseNetworkCreate({
      Name: 'apinet', CheckDuplicate: true, Driver: 'bridge', Scope: 'local', EnableIPv6: false, Internal: true, Attachable: true, Ingress: false, ConfigOnly: false,
      ConfigFrom: null, Options: { 'com.docker.network.driver.mtu': '1400' }, Labels: { team: 'a' },
      IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: '10.95.0.0/24', IPRange: '10.95.0.128/25', Gateway: '10.95.0.1', AuxiliaryAddresses: { r: '10.95.0.5' } }] },
    }),
    {
      name: 'apinet', driver: 'bridge', options: { 'com.docker.network.driver.mtu': '1400' }, labels: { team: 'a' }, ipamDriver: 'default', ipamOptions: {},
      ipamConfig: [{ subnet: '10.95.0.0/24', ipRange: '10.95.0.128/25', gateway: '10.95.0.1', auxAddresses: { r: '10.95.0.5' } }],
      enableIPv6: false, internal: true, attachable: true, ingress: false, configOnly: false,
    },
  );
  t.same(parseNetworkCreate({ Name: 'n', Driver: '', IPAM: { Driver: '', Config: [{ Subnet: '', AuxiliaryAddresses: {} }] } }).ipamConfig, [{}], 'empty strings are unset');
  t.equal(parseNetworkCreate({ Name: 'n', Driver: '' }).driver, 'bridge');
  t.equal(parseNetworkCreate({ Name: 'n', ConfigFrom: { Network: 'base' } }).configFrom, 'base');
  const bad: [unknown, string | RegExp][] = [
    [undefined, 'request body must be a JSON object'],
    [[], 'request body must be a JSON object'],
    [{ Name: 1 }, 'body.Name must be a string, not a number'],
    [{ Name: 'n', CheckDuplicate: 'yes' }, 'body.CheckDuplicate must be a boolean, not a string'],
    [{ Name: 'n', Scope: 1 }, 'body.Scope must be a string, not a number'],
    [{ Name: 'n', Internal: null, Attachable: 'no' }, 'body.Attachable must be a boolean, not a string'],
    [{ Name: 'n', Options: [] }, 'body.Options must be a JSON object'],
    [{ Name: 'n', Labels: { a: true } }, 'body.Labels.a must be a string, not a boolean'],
    [{ Name: 'n', IPAM: [] }, 'IPAM must be a JSON object'],
    [{ Name: 'n', IPAM: { Options: { a: 1 } } }, 'IPAM.Options.a must be a string, not a number'],
    [{ Name: 'n', IPAM: { Config: [null] } }, 'IPAM.Config[0] must be a JSON object'],
    [{ Name: 'n', IPAM: { Config: [{ Gateway: ['x'] }] } }, 'IPAM.Config[0].Gateway must be a string, not an array'],
    [{ Name: 'n', ConfigFrom: 'base' }, 'ConfigFrom must be a JSON object'],
  ];
  for (const [body, message] of bad) t.throws(() => parseNetworkCreate(body), refused(message), JSON.stringify(body));
});

t.test('parseConnect, parseDisconnect, parseEndpointConfig', async (t) => {
  t.same(parseConnect({ Container: 'a1', EndpointConfig: { Aliases: ['api', 'second'], IPAMConfig: { IPv4Address: '10.95.0.50' } } }), {
    container: 'a1',
    endpoint: { ipv4: '10.95.0.50', aliases: ['api', 'second'], driverOptions: {} },
  });
  t.same(parseConnect({ Container: 'a1' }), { container: 'a1', endpoint: { aliases: [], driverOptions: {} } });
  t.same(parseConnect({ Container: 'a1', EndpointConfig: { IPAMConfig: { IPv4Address: '', IPv6Address: 'fd00::5' }, DriverOpts: { k: 'v' }, Links: null, MacAddress: '' } }).endpoint, {
    ipv6: 'fd00::5', aliases: [], driverOptions: { k: 'v' },
  }, 'fields cnm does not use are ignored, as Go ignores them');
  t.same(parseDisconnect({ Container: 'a2', Force: true }), { container: 'a2', force: true });
  t.same(parseDisconnect({ Container: 'a2' }), { container: 'a2', force: false });
  t.throws(() => parseConnect({}), refused(/body\.Container is required/));
  t.throws(() => parseConnect({ Container: '' }), refused(/body\.Container is required/));
  t.throws(() => parseConnect({ Container: 'a', EndpointConfig: { Aliases: [1] } }), refused('EndpointConfig.Aliases must be an array of strings'));
  t.throws(() => parseDisconnect({ Container: 'a', Force: 1 }), refused('body.Force must be a boolean, not a number'));
  t.throws(() => parseEndpointConfig({ IPAMConfig: 'x' }, 'EndpointsConfig["n"]'), refused('EndpointsConfig["n"].IPAMConfig must be a JSON object'));
});

t.test('parseAliasChange', async (t) => {
  t.same(parseAliasChange({ Container: 'web', Add: ['a'], Remove: ['b'] }), { container: 'web', add: ['a'], remove: ['b'] });
  t.same(parseAliasChange({ Container: 'web', Remove: ['b'] }), { container: 'web', add: [], remove: ['b'] });
  t.throws(() => parseAliasChange({ Container: 'web' }), refused(/^nothing to change/));
  t.throws(() => parseAliasChange({ Container: 'web', Add: ['x', 'y'], Remove: ['y'] }), refused('alias y is both added and removed'));
  t.throws(() => parseAliasChange({ Add: ['x'] }), refused(/body\.Container is required/));
  t.throws(() => parseAliasChange({ Container: 'web', Add: [null] }), refused('body.Add must be an array of strings'));
  t.throws(() => parseAliasChange('x'), refused('request body must be a JSON object'));
});

t.test('filters', async (t) => {
  t.same([...parseFilters('{"name":["a","b"],"driver":{"bridge":true}}', ['name', 'driver'])], [['name', ['a', 'b']], ['driver', ['bridge']]], 'both of Docker\'s encodings');
  t.same([...parseFilters(null, [])], []);
  t.same([...parseFilters('', [])], []);
  t.throws(() => parseFilters('{"bogus":["x"]}', ['name']), refused("Invalid filter 'bogus'"));
  t.throws(() => parseFilters('{', ['name']), refused(/^invalid filters: \{ is not JSON/));
  t.throws(() => parseFilters('["name"]', ['name']), refused(/expected a JSON object/));
  t.throws(() => parseFilters('{"name":[1]}', ['name']), refused("invalid filters: the value of 'name' must be an array of strings"));
  t.ok(regexMatch('net', 'apinet'), 'substring');
  t.ok(regexMatch('^inet$', 'inet'));
  t.notOk(regexMatch('^inet$', 'apinet'));
  t.ok(regexMatch('a(b', 'xa(by'), 'an invalid expression matches as text');
  t.ok(labelMatch('team', { team: 'a' }));
  t.ok(labelMatch('team=a', { team: 'a' }));
  t.notOk(labelMatch('team=b', { team: 'a' }));
  t.ok(labelMatch('k=v=w', { k: 'v=w' }), 'only the first = splits');
});

t.test('access: loopback only, groups', async (t) => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', '0:0:0:0:0:0:0:1', 'localhost']) t.ok(isLoopback(host), host);
  for (const host of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', '::2', 'example.com', '']) t.notOk(isLoopback(host), host);
  t.same(parseTcp('127.0.0.1:2375'), { host: '127.0.0.1', port: 2375 });
  t.same(parseTcp('[::1]:0'), { host: '::1', port: 0 });
  t.same(parseTcp('localhost:65535'), { host: 'localhost', port: 65535 });
  for (const v of ['0.0.0.0:2375', '10.1.1.1:2375', '[::]:2375', '127.0.0.1', '127.0.0.1:65536', '127.0.0.256:1', 'tcp://127.0.0.1:2375', ':2375']) {
    t.throws(() => parseTcp(v), refused(/only a loopback address and a port are allowed until TLS exists/), v);
  }
  const opts = parseDaemonArgs(['--group', '0', '--tcp', '127.0.0.1:2376']);
  t.ok(opts !== 'help' && opts.socketGid === 0 && opts.tcp?.port === 2376);
  const named = parseDaemonArgs(['--group', 'root']);
  t.ok(named !== 'help' && named.socketGid === 0, 'a group name is looked up');
  t.throws(() => parseDaemonArgs(['--group', 'no-such-group-here']), refused('--group no-such-group-here: no such group in /etc/group'));
  const plain = parseDaemonArgs([]);
  t.ok(plain !== 'help' && plain.socketGid === undefined && plain.tcp === undefined, 'no group and no TCP unless asked');
});
