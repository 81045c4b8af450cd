/**
 * Bad input, through the CLI and the API: each gets a clear 4xx error naming the problem (CLI:
 * exit 1 with "Error response from daemon: ..."), and nothing changes: no network, sandbox,
 * link or namespace appears or vanishes.
 */
import t from 'tap';
import { Lab } from '../helpers/lab';

interface ApiCase {
  name: string;
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  status: number;
  message: RegExp;
}

t.test('bad input changes nothing', async (t) => {
  const lab = await Lab.start();
  t.teardown(() => lab.close());
  t.equal((await lab.cli('network', 'create', '--subnet', '10.40.0.0/24', '--gateway', '10.40.0.1', 'good')).code, 0);
  t.equal((await lab.cli('run', '-d', '--name', 'box', '--network', 'good', 'sleep', 'infinity')).code, 0);

  const snapshot = async (): Promise<string> => {
    const nets = await lab.api('GET', '/networks');
    const boxes = await lab.api('GET', '/containers/json?all=1');
    // Names and addresses only: flags such as IPv6's "tentative" change on their own.
    const links = (await lab.inHost(['ip', '-o', 'link'])).split('\n').map((l) => l.split(':')[1]?.trim() ?? '');
    const addrs = (await lab.inHost(['ip', '-o', 'addr'])).split('\n').map((l) => l.split(/\s+/).slice(1, 4).join(' '));
    return JSON.stringify([nets.body, (boxes.body as { Id: string }[]).map((b) => b.Id), links, addrs]);
  };
  const before = await snapshot();

  const cliCases: [string[], RegExp][] = [
    [['network', 'create', '--subnet', '10.20.0.300/24', 'n1'], /Invalid subnet 10\.20\.0\.300\/24 : invalid CIDR address: 10\.20\.0\.300\/24/],
    [['network', 'create', '--subnet', '10.30.0.0/24', '--gateway', '10.31.0.1', 'n1'], /no matching subnet for gateway 10\.31\.0\.1/],
    [['network', 'create', '--subnet', '10.30.0.0/24', '--ip-range', '10.21.0.0/25', 'n1'], /no matching subnet for range 10\.21\.0\.0\/25/],
    [['network', 'create', '--gateway', '10.30.0.1', 'n1'], /every ip-range or gateway must have a corresponding subnet/],
    [['network', 'create', '-d', 'nosuchdriver', 'n1'], /plugin "nosuchdriver" not found/],
    [['network', 'create', '-d', 'host', 'n1'], /only one instance of "host" network is allowed/],
    [['network', 'create', '-d', 'null', 'n1'], /only one instance of "null" network is allowed/],
    [['network', 'create', '-d', 'overlay', 'n1'], /overlay networks need a cluster store/],
    [['network', 'create', '-o', 'com.docker.network.bridge.bogus=1', 'n1'], /unknown option "com\.docker\.network\.bridge\.bogus" for driver bridge/],
    [['network', 'create', '-o', 'com.docker.network.driver.mtu=9', 'n1'], /invalid MTU "9"/],
    [['network', 'create', '-o', 'com.docker.network.bridge.enable_icc=maybe', 'n1'], /invalid value "maybe" for option com\.docker\.network\.bridge\.enable_icc/],
    [['network', 'create', 'bad name'], /invalid network name "bad name"/],
    [['network', 'create', '-bad'], /unknown shorthand flag/],
    [['network', 'create', 'good'], /network with name good already exists/],
    [['network', 'create', 'bridge'], /operation is not permitted on predefined bridge network/],
    [['network', 'create', '--subnet', '10.40.0.0/16', 'n1'], /Pool overlaps with other one on this address space/],
    [['network', 'create', '--ipv6', 'n1'], /could not find an available, non-overlapping IPv6 address pool/],
    [['network', 'create', '--ipam-driver', 'nosuch', 'n1'], /plugin "nosuch" not found/],
    [['network', 'rm', 'bridge'], /bridge is a pre-defined network and cannot be removed/],
    [['network', 'rm', 'nosuchnet'], /No such network: nosuchnet/],
    [['network', 'rm', 'good'], /has active endpoints/],
    [['network', 'connect', 'nosuchnet', 'box'], /network nosuchnet not found/],
    [['network', 'connect', 'good', 'nosuchbox'], /No such container: nosuchbox/],
    [['network', 'connect', 'good', 'box'], /endpoint with name box already exists in network good/],
    [['network', 'connect', '--ip', '10.40.0.1', 'bridge', 'box'], /user specified IP address is supported on user defined networks only/],
    [['network', 'connect', '--alias', 'x', 'bridge', 'box'], /network-scoped aliases are only supported for user-defined networks/],
    [['network', 'disconnect', 'good', 'nosuchbox'], /No such container: nosuchbox/],
    [['network', 'disconnect', '-f', 'good', 'nosuchbox'], /endpoint nosuchbox not found/],
    [['network', 'disconnect', 'bridge', 'box'], /container [0-9a-f]{64} is not connected to network bridge/],
    [['network', 'inspect', 'nosuchnet'], /No such network: nosuchnet/],
  ];
  const runCases: [string[], RegExp][] = [
    [['run', '-d', '--network', 'good', '--ip', '10.40.0.1', 'true'], /Address already in use/],
    [['run', '-d', '--network', 'good', '--ip', 'notanip', 'true'], /Invalid IPv4 address: notanip/],
    [['run', '-d', '--network', 'good', '--ip', '10.99.0.5', 'true'], /Invalid address 10\.99\.0\.5: It does not belong to any of this network's subnets/],
    [['run', '-d', '--network', 'nosuchnet', 'true'], /network nosuchnet not found/],
    [['run', '-d', '--name', 'box', 'true'], /The container name "\/box" is already in use/],
    [['run', '-d', '--name', 'bad/name', 'true'], /Invalid container name \(bad\/name\)/],
    [['run', '-d', '--network', 'container:nosuch', 'true'], /No such container: nosuch/],
    [['run', '-d', '-p', '99999:80', 'true'], /Invalid hostPort: 99999/],
    [['run', '-d', '--alias', 'x', 'true'], /network-scoped aliases are only supported for user-defined networks/],
    [['run', '-d', '--network', 'none', '--network', 'good', 'true'], /container cannot be connected to multiple networks with one of the networks in private \(none\) mode/],
  ];

  await t.test('CLI', async (t) => {
    for (const [argv, message] of cliCases) {
      const r = await lab.cli(...argv);
      t.not(r.code, 0, argv.join(' '));
      t.match(r.err, message, argv.join(' '));
    }
    for (const [argv, message] of runCases) {
      const r = await lab.cli(...argv);
      t.equal(r.code, 125, argv.join(' '));
      t.match(r.err, message, argv.join(' '));
    }
  });

  const apiCases: ApiCase[] = [
    { name: 'bad JSON', method: 'POST', path: '/networks/create', body: '{bad', status: 400, message: /invalid JSON body/ },
    { name: 'body not an object', method: 'POST', path: '/networks/create', body: '[1,2]', status: 400, message: /request body must be a JSON object/ },
    { name: 'wrong field type', method: 'POST', path: '/networks/create', body: { Name: 5 }, status: 400, message: /body\.Name must be a string, not a number/ },
    { name: 'wrong nested type', method: 'POST', path: '/networks/create', body: { Name: 'x', IPAM: { Config: [{ Subnet: true }] } }, status: 400, message: /IPAM\.Config\[0\]\.Subnet must be a string/ },
    { name: 'options not strings', method: 'POST', path: '/networks/create', body: { Name: 'x', Options: { a: 1 } }, status: 400, message: /body\.Options\.a must be a string/ },
    { name: 'empty name', method: 'POST', path: '/networks/create', body: { Name: '' }, status: 400, message: /invalid name/ },
    { name: 'bad CIDR', method: 'POST', path: '/networks/create', body: { Name: 'x', IPAM: { Config: [{ Subnet: '300.1.1.0/24' }] } }, status: 400, message: /Invalid subnet 300\.1\.1\.0\/24/ },
    { name: 'gateway outside', method: 'POST', path: '/networks/create', body: { Name: 'x', IPAM: { Config: [{ Subnet: '10.97.0.0/24', Gateway: '10.98.0.1' }] } }, status: 400, message: /10\.98\.0\.1/ },
    { name: 'duplicate name', method: 'POST', path: '/networks/create', body: { Name: 'good' }, status: 409, message: /network with name good already exists/ },
    { name: 'unknown driver', method: 'POST', path: '/networks/create', body: { Name: 'x', Driver: 'nope' }, status: 404, message: /plugin "nope" not found/ },
    { name: 'wrong content type', method: 'POST', path: '/networks/create', body: '{"Name":"x"}', headers: { 'Content-Type': 'text/plain' }, status: 400, message: /Content-Type specified \(text\/plain\) must be 'application\/json'/ },
    { name: 'oversized body', method: 'POST', path: '/networks/create', body: JSON.stringify({ Name: 'x', Labels: { big: 'x'.repeat(2 << 20) } }), status: 400, message: /request body is too large/ },
    { name: 'unknown path', method: 'GET', path: '/v1.41/nothing/here', status: 404, message: /page not found/ },
    { name: 'wrong method', method: 'PUT', path: '/networks/good', status: 404, message: /page not found/ },
    { name: 'unknown filter', method: 'GET', path: `/networks?filters=${encodeURIComponent('{"bogus":["x"]}')}`, status: 400, message: /Invalid filter 'bogus'/ },
    { name: 'filters not JSON', method: 'GET', path: '/networks?filters=nope', status: 400, message: /invalid filters/ },
    { name: 'connect without container', method: 'POST', path: '/networks/good/connect', body: {}, status: 400, message: /body\.Container is required/ },
    { name: 'connect bad aliases', method: 'POST', path: '/networks/good/connect', body: { Container: 'box', EndpointConfig: { Aliases: 'x' } }, status: 400, message: /EndpointConfig\.Aliases must be an array of strings/ },
    { name: 'connect address in use', method: 'POST', path: '/networks/good/connect', body: { Container: 'box', EndpointConfig: { IPAMConfig: { IPv4Address: '10.40.0.1' } } }, status: 403, message: /endpoint with name box already exists|Address already in use/ },
    { name: 'disconnect Force not bool', method: 'POST', path: '/networks/good/disconnect', body: { Container: 'box', Force: 'yes' }, status: 400, message: /body\.Force must be a boolean/ },
    { name: 'remove unknown network', method: 'DELETE', path: '/networks/nosuchnet', status: 404, message: /network nosuchnet not found/ },
    { name: 'remove predefined', method: 'DELETE', path: '/networks/host', status: 403, message: /host is a pre-defined network and cannot be removed/ },
    { name: 'inspect unknown container', method: 'GET', path: '/containers/nosuch/json', status: 404, message: /No such container: nosuch/ },
    { name: 'create sandbox bad PortBindings', method: 'POST', path: '/containers/create', body: { Cmd: ['true'], HostConfig: { PortBindings: { 'abc/tcp': [] } } }, status: 400, message: /invalid port specification/ },
    { name: 'create sandbox bad HostIp', method: 'POST', path: '/containers/create', body: { Cmd: ['true'], HostConfig: { PortBindings: { '80/tcp': [{ HostIp: 'not-an-ip', HostPort: '8080' }] } } }, status: 400, message: /Invalid ip address: not-an-ip/ },
    { name: 'stop with a bad timeout', method: 'POST', path: '/containers/box/stop?t=soon', status: 400, message: /invalid value for t: "soon"/ },
    { name: 'create sandbox bad Cmd', method: 'POST', path: '/containers/create', body: { Cmd: 'true' }, status: 400, message: /body\.Cmd must be an array of strings/ },
    // Subnets no sandbox could use: 400, never a 500 from the kernel refusing the address.
    ...(
      [
        ['127.0.0.0/8', /loopback range/],
        ['224.0.0.0/4', /multicast range/],
        ['169.254.0.0/16', /link-local range/],
        ['0.0.0.0/0', /covers every address/],
        ['10.1.0.7/32', /no address is left for a container after the gateway/],
      ] as const
    ).map(([subnet, message]): ApiCase => ({ name: `subnet ${subnet}`, method: 'POST', path: '/networks/create', body: { Name: 'x', IPAM: { Config: [{ Subnet: subnet }] } }, status: 400, message })),
    ...(
      [
        ['::/0', /covers every address/],
        ['ff00::/8', /multicast range ff00::\/8/],
        ['fe80::/64', /link-local range/],
        ['fd00:9::5/128', /no address is left for a container after the gateway/],
      ] as const
    ).map(([subnet, message]): ApiCase => ({ name: `subnet ${subnet}`, method: 'POST', path: '/networks/create', body: { Name: 'x', EnableIPv6: true, IPAM: { Config: [{ Subnet: subnet }] } }, status: 400, message })),
    { name: 'too old API version', method: 'GET', path: '/v1.5/networks', status: 400, message: /client version 1\.5 is too old/ },
  ];

  await t.test('API', async (t) => {
    for (const c of apiCases) {
      const r = await lab.api(c.method, c.path, c.body, c.headers);
      t.equal(r.status, c.status, `${c.name}: ${r.raw.slice(0, 200)}`);
      t.match((r.body as { message?: string } | undefined)?.message ?? '', c.message, c.name);
      t.equal(r.headers['api-version'], '1.41', `${c.name}: Api-Version header`);
    }
  });

  t.equal(await snapshot(), before, 'state, links and addresses are exactly as before');
  t.ok(cliCases.length + runCases.length + apiCases.length >= 30);
});
