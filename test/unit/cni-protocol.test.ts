import t from 'tap';
import { CniError, errorBody, parseCniArgs, parseRequest, shapeResult, type PluginRequest } from '../../src/cni/protocol';

const request = (over: Partial<PluginRequest> = {}, config: Record<string, unknown> = {}): PluginRequest => ({
  command: 'ADD',
  containerId: 'c1',
  netns: '/run/netns/x',
  ifName: 'eth0',
  args: '',
  path: '/opt/cni/bin',
  config: { cniVersion: '1.0.0', name: 'net1', type: 'cnm', ...config },
  ...over,
});

const codeOf = (fn: () => unknown): number | undefined => {
  try {
    fn();
  } catch (err) {
    return err instanceof CniError ? err.code : -1;
  }
  return undefined;
};

t.test('CNI_ARGS', async (t) => {
  t.same([...parseCniArgs('IgnoreUnknown=1;K8S_POD_NAME=web;IP=10.0.0.5')], [
    ['IgnoreUnknown', '1'],
    ['K8S_POD_NAME', 'web'],
    ['IP', '10.0.0.5'],
  ]);
  t.same([...parseCniArgs('')], []);
  t.same([...parseCniArgs('A=b=c;')], [['A', 'b=c']], 'a value may hold =; a trailing ; is fine');
  t.equal(codeOf(() => parseCniArgs('novalue')), 4);
  t.equal(codeOf(() => parseCniArgs('=x')), 4);
});

t.test('a podman ADD', async (t) => {
  const r = parseRequest(
    request(
      { containerId: 'f'.repeat(64), args: 'IgnoreUnknown=1;K8S_POD_NAME=web;IP=10.0.0.5;MAC=02:AA:00:00:00:01' },
      { cniVersion: '0.4.0', runtimeConfig: { aliases: { net1: ['www', 'fff'], other: ['x'] }, portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '' }] } },
    ),
  );
  t.same(r, {
    command: 'ADD',
    version: '0.4.0',
    network: 'net1',
    containerId: 'f'.repeat(64),
    ifName: 'eth0',
    netns: '/run/netns/x',
    name: 'web',
    aliases: ['www', 'fff'],
    ipv4: '10.0.0.5',
    mac: '02:aa:00:00:00:01',
    publish: [{ proto: 'tcp', containerPort: 80, hostIp: '', hostPortStart: 8080, hostPortEnd: 8080 }],
  });
});

t.test('a ctr ADD: no name, so the container id; ips and mac capabilities', async (t) => {
  const r = parseRequest(request({ containerId: 'default-t1' }, { runtimeConfig: { ips: ['10.0.0.7/24', 'fd00::7/64'], mac: '02:00:00:00:00:07' } }));
  t.equal(r.name, 'default-t1');
  t.equal(r.ipv4, '10.0.0.7');
  t.equal(r.ipv6, 'fd00::7');
  t.equal(r.mac, '02:00:00:00:00:07');
  t.same(r.aliases, []);
  t.same(r.publish, []);
});

t.test('DEL without a namespace; GC and STATUS need 1.1.0', async (t) => {
  t.equal(parseRequest(request({ command: 'DEL', netns: '' })).command, 'DEL');
  const gc = parseRequest(request({ command: 'GC', containerId: '', ifName: '', netns: '' }, { cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'a', ifname: 'eth0' }] }));
  t.same(gc.validAttachments, [{ containerId: 'a', ifName: 'eth0' }]);
  t.equal(codeOf(() => parseRequest(request({ command: 'GC' }))), 1);
  t.equal(codeOf(() => parseRequest(request({ command: 'STATUS' }, { cniVersion: '1.1.0' }))), undefined);
});

t.test('refusals and their codes', async (t) => {
  const cases: [string, PluginRequest, number][] = [
    ['unknown command', request({ command: 'FOO' }), 4],
    ['config not an object', request({ config: [1] }), 6],
    ['no cniVersion', request({ config: { name: 'n', type: 'cnm' } }), 7],
    ['old version', request({}, { cniVersion: '0.2.0' }), 1],
    ['future version', request({}, { cniVersion: '9.0.0' }), 1],
    ['no name', request({ config: { cniVersion: '1.0.0', type: 'cnm' } }), 7],
    ['another type', request({}, { type: 'bridge' }), 7],
    ['runtimeConfig not an object', request({}, { runtimeConfig: 'x' }), 7],
    ['no container id', request({ containerId: '' }), 4],
    ['bad container id', request({ containerId: 'a/b' }), 4],
    ['no ifname', request({ ifName: '' }), 4],
    ['ifname too long', request({ ifName: 'a'.repeat(16) }), 4],
    ['ADD without netns', request({ netns: '' }), 4],
    ['CHECK without netns', request({ command: 'CHECK', netns: '' }), 4],
    ['bad IP', request({ args: 'IP=300.1.1.1' }), 4],
    ['bad MAC', request({ args: 'MAC=zz' }), 4],
    ['bad ips capability', request({}, { runtimeConfig: { ips: 'x' } }), 7],
    ['bad aliases', request({}, { runtimeConfig: { aliases: { net1: 'x' } } }), 7],
    ['port 0', request({}, { runtimeConfig: { portMappings: [{ hostPort: 0, containerPort: 80 }] } }), 7],
    ['sctp', request({}, { runtimeConfig: { portMappings: [{ hostPort: 1, containerPort: 80, protocol: 'sctp' }] } }), 7],
    ['bad valid-attachments', request({ command: 'GC' }, { cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ id: 1 }] }), 7],
  ];
  for (const [what, req, code] of cases) t.equal(codeOf(() => parseRequest(req)), code, what);
});

t.test('results per version', async (t) => {
  const view = { ifName: 'eth0', mac: '02:42:0a:00:00:02', netns: '/proc/1/ns/net', ipv4: '10.0.0.2/24', gatewayV4: '10.0.0.1', ipv6: 'fd00::2/64', gatewayV6: 'fd00::1', nameservers: ['127.0.0.11'] };
  t.same(shapeResult('1.0.0', view), {
    cniVersion: '1.0.0',
    interfaces: [{ name: 'eth0', mac: '02:42:0a:00:00:02', sandbox: '/proc/1/ns/net' }],
    ips: [
      { address: '10.0.0.2/24', gateway: '10.0.0.1', interface: 0 },
      { address: 'fd00::2/64', gateway: 'fd00::1', interface: 0 },
    ],
    routes: [
      { dst: '0.0.0.0/0', gw: '10.0.0.1' },
      { dst: '::/0', gw: 'fd00::1' },
    ],
    dns: { nameservers: ['127.0.0.11'] },
  });
  for (const v of ['0.3.0', '0.3.1', '0.4.0'] as const) {
    const r = shapeResult(v, view) as { cniVersion: string; ips: { version: string }[] };
    t.equal(r.cniVersion, v);
    t.same(r.ips.map((ip) => ip.version), ['4', '6'], `${v} tags addresses with their family`);
  }
  const internal = shapeResult('1.0.0', { ifName: 'eth0', mac: 'm', netns: 'n', ipv4: '10.0.0.2/24', nameservers: ['127.0.0.11'] });
  t.notOk('routes' in internal, 'no gateway, no route');
  t.same(errorBody('0.4.0', new CniError(7, 'bad', 'why')), { cniVersion: '0.4.0', code: 7, msg: 'bad', details: 'why' });
  t.same(errorBody('1.0.0', new CniError(11, 'later')), { cniVersion: '1.0.0', code: 11, msg: 'later' });
});
