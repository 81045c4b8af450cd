/** Engine-API objects shaped like docs/docker-behaviour.md's captures, for the format tests. */
import type { ContainerJSON, ContainerSummary, EndpointSettings, NetworkResource } from '../../src/api/engine-types';

export const hex64 = (prefix: string): string => prefix + '0'.repeat(64 - prefix.length);

export function network(over: Partial<NetworkResource> & { Name: string; Id: string }): NetworkResource {
  const { Name, Id, ...rest } = over;
  return {
    Name, // the daemon's key order: Name, Id, Created, ...
    Id,
    Created: '2026-11-27T17:59:37.064260546Z',
    Scope: 'local',
    Driver: 'bridge',
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: [] },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: {},
    Options: {},
    Labels: {},
    ...rest,
  };
}

/** §1.1: the three built-in networks. */
export const builtins: NetworkResource[] = [
  network({ Name: 'none', Id: hex64('35f2cd0e54d9'), Driver: 'null' }),
  network({ Name: 'bridge', Id: hex64('711b65d57f23'), IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: '172.17.0.0/16' }] } }),
  network({ Name: 'host', Id: hex64('a6d519d87fb1'), Driver: 'host' }),
];

/** §1.2: a user network with a static-IP container and one from the IPRange. */
export const apinet = network({
  Name: 'apinet',
  Id: hex64('40726c03bed2d2be4468c443'),
  IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: '10.95.0.0/24', IPRange: '10.95.0.128/25', Gateway: '10.95.0.1' }] },
  Containers: {
    [hex64('a4bc2edf777f')]: { Name: 'a1', EndpointID: hex64('62661da9d5d3'), MacAddress: '02:42:0a:5f:00:32', IPv4Address: '10.95.0.50/24', IPv6Address: '' },
    [hex64('b09ab2c5a4be')]: { Name: 'a2', EndpointID: hex64('d1aadd8b27c5'), MacAddress: '02:42:0a:5f:00:80', IPv4Address: '10.95.0.128/24', IPv6Address: '' },
  },
  Labels: { purpose: 'demo' },
});

export function endpoint(over: Partial<EndpointSettings>): EndpointSettings {
  return {
    IPAMConfig: null,
    Links: null,
    Aliases: null,
    NetworkID: '',
    EndpointID: '',
    Gateway: '',
    IPAddress: '',
    IPPrefixLen: 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    MacAddress: '',
    DriverOpts: null,
    ...over,
  };
}

export const container: ContainerJSON = {
  Id: hex64('c0ffee000001'),
  Created: '2026-11-27T18:00:00.5Z',
  Path: 'sleep',
  Args: ['infinity'],
  State: {
    Status: 'running',
    Running: true,
    Paused: false,
    Restarting: false,
    OOMKilled: false,
    Dead: false,
    Pid: 1234,
    ExitCode: 0,
    Error: '',
    StartedAt: '2026-11-27T18:00:01Z',
    FinishedAt: '0001-01-01T00:00:00Z',
  },
  Image: 'sha256:abc',
  ResolvConfPath: '/run/cnm/c1/resolv.conf',
  HostnamePath: '/run/cnm/c1/hostname',
  HostsPath: '/run/cnm/c1/hosts',
  Name: '/c1',
  RestartCount: 0,
  Driver: 'cnm',
  Platform: 'linux',
  HostConfig: {
    NetworkMode: 'dnet',
    PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] },
    Dns: ['10.0.0.53'],
    DnsSearch: [],
    DnsOptions: [],
    ExtraHosts: null,
    AutoRemove: false,
  },
  Config: { Hostname: 'c0ffee000001', Domainname: '', Cmd: ['sleep', 'infinity'], Tty: false, OpenStdin: false, Labels: { team: 'a' } },
  NetworkSettings: {
    Bridge: '',
    SandboxID: hex64('5a4db0'),
    SandboxKey: '/run/cnm/netns/5a4db0',
    Ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }, { HostIp: '::', HostPort: '8080' }] },
    Gateway: '',
    IPAddress: '',
    IPPrefixLen: 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    MacAddress: '',
    Networks: {
      dnet: endpoint({
        Aliases: ['web', 'c0ffee000001'],
        NetworkID: hex64('de7'),
        EndpointID: hex64('e9'),
        Gateway: '10.10.0.1',
        IPAddress: '10.10.0.10',
        IPPrefixLen: 24,
        MacAddress: '02:42:0a:0a:00:0a',
      }),
    },
  },
};

export function summary(over: Partial<ContainerSummary> & { Id: string; Names: string[] }): ContainerSummary {
  return {
    Image: 'alpine',
    ImageID: 'sha256:' + hex64('ab12'),
    Command: 'sleep infinity',
    Created: Date.UTC(2026, 10, 27, 17, 59, 37) / 1000,
    Ports: [],
    Labels: {},
    State: 'running',
    Status: 'Up 5 minutes',
    HostConfig: { NetworkMode: 'bridge' },
    NetworkSettings: { Networks: {} },
    ...over,
  };
}
