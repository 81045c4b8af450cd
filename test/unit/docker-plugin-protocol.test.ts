import t from 'tap';
import { CnmError } from '../../src/errors';
import type { Handoff } from '../../src/controller/handoffs';
import {
  addressRequest,
  addressSpacesResponse,
  createEndpointRequest,
  createEndpointResponse,
  createNetworkRequest,
  errorResponse,
  externalConnectivityRequest,
  joinResponse,
  requestPoolRequest,
} from '../../src/docker-plugin/protocol';

const NET = 'a'.repeat(12) + 'b'.repeat(52);
const EP = 'c'.repeat(64);

t.test('CreateNetwork maps to a cnm network named and labelled after Docker\'s id', async (t) => {
  const req = createNetworkRequest({
    NetworkID: NET,
    Options: { 'com.docker.network.enable_ipv6': false, 'com.docker.network.generic': { 'cnm.driver': 'macvlan', parent: 'eth0.10', host_access: 'true' } },
    IPv4Data: [{ AddressSpace: 'LocalDefault', Pool: '10.5.0.0/24', Gateway: '10.5.0.1/24', AuxAddresses: { host_access: '10.5.0.254/24' } }],
    IPv6Data: [],
  });
  t.same(req, {
    name: 'docker-aaaaaaaaaaaa',
    driver: 'macvlan',
    options: { parent: 'eth0.10', host_access: 'true' },
    labels: { 'io.cnm.docker.network-id': NET },
    ipamConfig: [{ subnet: '10.5.0.0/24', gateway: '10.5.0.1', auxAddresses: { host_access: '10.5.0.254' } }],
    enableIPv6: false,
    internal: false,
  });
  const plain = createNetworkRequest({ NetworkID: NET, Options: { 'com.docker.network.internal': true, 'com.docker.network.enable_ipv6': true }, IPv4Data: [{ Pool: '10.6.0.0/24' }], IPv6Data: [{ Pool: 'fd00::/64', Gateway: 'fd00::1/64' }] });
  t.equal(plain.driver, 'bridge', 'bridge by default');
  t.equal(plain.internal, true);
  t.equal(plain.enableIPv6, true);
  t.same(plain.ipamConfig, [{ subnet: '10.6.0.0/24' }, { subnet: 'fd00::/64', gateway: 'fd00::1' }]);
});

t.test('CreateNetwork refusals say what to do', async (t) => {
  t.throws(() => createNetworkRequest({ NetworkID: NET, Options: { 'com.docker.network.generic': { 'cnm.driver': 'ipvlan' } } }), /unknown cnm driver "ipvlan": use -o cnm.driver=bridge, macvlan or overlay/);
  const overlay = (generic: Record<string, string>, space = 'cnm'): unknown => ({ NetworkID: NET, Options: { 'com.docker.network.generic': { 'cnm.driver': 'overlay', ...generic } }, IPv4Data: [{ AddressSpace: space, Pool: '10.210.0.0/24', Gateway: '10.210.0.1/24' }] });
  t.throws(() => createNetworkRequest(overlay({})), /cnm.driver=overlay needs -o cnm.network=NAME: the overlay network's name in cnm's cluster, the same on every dockerd host/);
  t.throws(() => createNetworkRequest(overlay({ 'cnm.network': '-x' })), /invalid -o cnm.network=-x/);
  t.throws(() => createNetworkRequest(overlay({ 'cnm.network': 'ov' }, 'LocalDefault')), /cnm.driver=overlay needs --ipam-driver cnm: an overlay network's addresses are given out cluster-wide/);
  t.throws(() => createNetworkRequest({ NetworkID: NET, Options: { 'com.docker.network.generic': { 'cnm.network': 'ov' } } }), /-o cnm.network names a cnm overlay network shared by dockerd hosts: use it with -o cnm.driver=overlay/);
  t.throws(() => createNetworkRequest({ Options: {} }), /NetworkID is missing/);
  t.throws(() => createNetworkRequest({ NetworkID: NET, IPv4Data: {} }), /IPv4Data must be a list/);
  t.throws(() => createNetworkRequest({ NetworkID: NET, IPv4Data: [{ Gateway: '10.0.0.1/24' }] }), /without a Pool/);
  t.throws(() => createNetworkRequest([]), /the request must be a JSON object/);
});

t.test('CreateNetwork of an overlay: the shared name from cnm.network, no Docker label (each host has its own Docker id)', async (t) => {
  const req = createNetworkRequest({
    NetworkID: NET,
    Options: { 'com.docker.network.generic': { 'cnm.driver': 'overlay', 'cnm.network': 'ov', 'com.docker.network.driver.mtu': '1400' } },
    IPv4Data: [{ AddressSpace: 'cnm', Pool: '10.210.0.0/24', Gateway: '10.210.0.1/24' }],
  });
  t.same(req, {
    name: 'ov',
    driver: 'overlay',
    options: { 'com.docker.network.driver.mtu': '1400' },
    labels: {},
    attachable: true,
    ipamConfig: [{ subnet: '10.210.0.0/24', gateway: '10.210.0.1' }],
    enableIPv6: false,
    internal: false,
  });
});

const handoff = (over: Partial<Handoff['endpoint']> = {}, gateways: Partial<Handoff> = { gatewayV4: '10.5.0.1' }): Handoff =>
  ({
    endpoint: { id: 'e1', ifName: 'cnmccccccccccc', mac: '02:42:0a:05:00:02', ipv4: '10.5.0.2/24', ipv6: '', ...over },
    network: { name: 'docker-aaaaaaaaaaaa' },
    ...gateways,
  }) as Handoff;

t.test('CreateEndpoint: Docker\'s addresses kept, the response adds only what Docker did not give', async (t) => {
  const given = createEndpointRequest({ NetworkID: NET, EndpointID: EP, Interface: { Address: '10.5.0.2/24', AddressIPv6: '', MacAddress: '' }, Options: {} });
  t.same(given, { dockerNetworkId: NET, dockerEndpointId: EP, ipv4: '10.5.0.2/24', given: { address: true, addressIPv6: false, mac: false } });
  t.same(createEndpointResponse(given, handoff()), { Interface: { MacAddress: '02:42:0a:05:00:02' } }, 'libnetwork refuses a changed Address');
  const withMac = createEndpointRequest({ NetworkID: NET, EndpointID: EP, Interface: { Address: '10.5.0.2/24', MacAddress: '02:00:00:00:00:01' } });
  t.same(createEndpointResponse(withMac, handoff({ mac: '02:00:00:00:00:01' })), { Interface: {} });
  const none = createEndpointRequest({ NetworkID: NET, EndpointID: EP });
  t.same(createEndpointResponse(none, handoff()), { Interface: { MacAddress: '02:42:0a:05:00:02', Address: '10.5.0.2/24' } });
  t.throws(() => createEndpointRequest({ NetworkID: NET, EndpointID: 'x' }), /EndpointID is missing or not a Docker id/);
});

t.test('Join hands over the temporary interface and the gateways', async (t) => {
  t.same(joinResponse(handoff()), { InterfaceName: { SrcName: 'cnmccccccccccc', DstPrefix: 'eth' }, Gateway: '10.5.0.1', StaticRoutes: [], DisableGatewayService: false });
  t.same(joinResponse(handoff({}, {})), { InterfaceName: { SrcName: 'cnmccccccccccc', DstPrefix: 'eth' }, StaticRoutes: [], DisableGatewayService: false }, 'no gateway on an internal network');
  t.same(joinResponse(handoff({}, { gatewayV4: '10.5.0.1', gatewayV6: 'fd00::1' })).GatewayIPv6, 'fd00::1');
});

t.test('errors: "Err" for the network driver, "Error" for IPAM', async (t) => {
  t.same(errorResponse('/NetworkDriver.CreateNetwork', new CnmError('forbidden', 'Pool overlaps with other one on this address space')), { Err: 'cnm: Pool overlaps with other one on this address space' });
  t.same(errorResponse('/IpamDriver.RequestPool', new CnmError('invalid', 'no')), { Error: 'cnm: no' });
  t.same(errorResponse('/NetworkDriver.Join', new Error('boom')), { Err: 'cnm failed: boom' });
});

t.test('IPAM requests', async (t) => {
  t.same(addressSpacesResponse('cnm'), { LocalDefaultAddressSpace: 'cnm', GlobalDefaultAddressSpace: 'cnm' });
  t.same(requestPoolRequest({ AddressSpace: 'cnm', Pool: '10.9.0.0/16', SubPool: '10.9.1.0/24', Options: {}, V6: false }, 'cnm'), { pool: '10.9.0.0/16', subPool: '10.9.1.0/24', v6: false });
  t.same(requestPoolRequest({ AddressSpace: 'cnm', Pool: '', V6: false }, 'cnm'), { v6: false }, 'an automatic pool');
  t.throws(() => requestPoolRequest({ AddressSpace: 'LocalDefault' }, 'cnm'), /one address space, "cnm", not "LocalDefault"/);
  t.same(addressRequest({ PoolID: 'cnm-1', Address: '10.9.0.7/16', Options: { RequestAddressType: 'com.docker.network.gateway' } }), { poolId: 'cnm-1', address: '10.9.0.7' });
  t.same(addressRequest({ PoolID: 'cnm-1', Address: '' }), { poolId: 'cnm-1' });
  t.throws(() => addressRequest({ Address: '10.0.0.1' }), /PoolID is missing/);
});

t.test('ProgramExternalConnectivity: libnetwork\'s port bindings become -p requests', async (t) => {
  const req = externalConnectivityRequest({
    NetworkID: NET,
    EndpointID: EP,
    Options: {
      'com.docker.network.endpoint.exposedports': [{ Proto: 6, Port: 80 }],
      'com.docker.network.portmap': [
        { Proto: 6, IP: '', Port: 80, HostIP: '', HostPort: 8080, HostPortEnd: 8080 },
        { Proto: 17, IP: '', Port: 53, HostIP: '127.0.0.1', HostPort: 0, HostPortEnd: 0 },
        { Proto: 6, IP: '', Port: 443, HostIP: '', HostPort: 9000, HostPortEnd: 9005 },
      ],
    },
  });
  t.same(req, {
    endpointId: EP,
    publish: [
      { proto: 'tcp', containerPort: 80, hostIp: '', hostPortStart: 8080, hostPortEnd: 8080 },
      { proto: 'udp', containerPort: 53, hostIp: '127.0.0.1', hostPortStart: 0, hostPortEnd: 0 },
      { proto: 'tcp', containerPort: 443, hostIp: '', hostPortStart: 9000, hostPortEnd: 9005 },
    ],
  });
  t.same(externalConnectivityRequest({ EndpointID: EP }).publish, [], 'no -p: nothing to publish');
  t.throws(() => externalConnectivityRequest({ EndpointID: EP, Options: { 'com.docker.network.portmap': [{ Proto: 132, Port: 80 }] } }), /tcp and udp ports only \(protocol number 132\)/);
  t.throws(() => externalConnectivityRequest({ EndpointID: EP, Options: { 'com.docker.network.portmap': [{ Proto: 6, Port: 80, HostPort: 9, HostPortEnd: 5 }] } }), /bad host port range 9-5/);
});
