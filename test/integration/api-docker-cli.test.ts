/**
 * The real docker CLI drives cnmd (DOCKER_HOST=unix://<lab socket>): Debian's 20.10 client and
 * the machine's newer one. What each prints must have the form it has against Docker 20.10
 * (docs/docker-behaviour.md §1 and §3 are the captures), ids and times aside, and every error
 * the same text. Where the two clients print the same daemon answer differently (the newer one
 * reports 404s verbatim, sorts ports naturally where 20.10 prints them in map order, adds
 * "exit status 1"), the expectation follows the client: the daemon's status and message are what
 * both read.
 */
import t, { type Test } from 'tap';
import { Lab } from '../helpers/lab';
import { docker, dockerClients, stateSnapshot, withoutIds, type DockerClient } from './api-clients';

const NETWORK_KEYS = ['Name', 'Id', 'Created', 'Scope', 'Driver', 'EnableIPv6', 'IPAM', 'Internal', 'Attachable', 'Ingress', 'ConfigFrom', 'ConfigOnly', 'Containers', 'Options', 'Labels'];
const RFC3339_NANO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?Z$/; // Go trims trailing zeros

/**
 * §1.4's capture for `-p 127.0.0.1:8081:80/udp -p 8082:80 -p 9000-9001:7000-7001`. Docker also
 * printed ":::P" lines (docker-proxy held [::]:P for an IPv4-only container); cnm publishes on
 * IPv6 only for sandboxes with an IPv6 address (src/api/README.md).
 */
const PORT_LINES = ['7000/tcp -> 0.0.0.0:9000', '7001/tcp -> 0.0.0.0:9001', '80/tcp -> 0.0.0.0:8082', '80/udp -> 127.0.0.1:8081'];

/**
 * `docker port` in the client's order: the newer client sorts naturally; 20.10 prints in Go's map
 * iteration order, which changes from run to run (the capture's order was one of them).
 */
function portOutput(client: DockerClient, out: string): string[] {
  const lines = out.split('\n').filter(Boolean);
  return client.major < 23 ? lines.sort() : lines;
}

/** What the client prints for a failed `network rm` / `network inspect` of an unknown network. */
function unknownNetwork(client: DockerClient, name: string, command: 'rm' | 'inspect'): string {
  if (client.major < 23) return `Error: No such network: ${name}\n`;
  return `Error response from daemon: network ${name} not found\n${command === 'rm' ? 'exit status 1\n' : ''}`;
}

const { clients, missing } = dockerClients();
for (const why of missing) t.fail(why);

for (const client of clients) {
  t.test(client.label, async (t) => {
    const lab = await Lab.start();
    t.teardown(() => lab.close());
    const d = (...args: string[]): ReturnType<typeof docker> => docker(client, lab, args);
    const ok = async (t: Test, args: string[]): Promise<string> => {
      const r = await d(...args);
      t.equal(r.code, 0, `docker ${args.join(' ')}: ${r.err}`);
      t.equal(r.err, '', `docker ${args.join(' ')} prints no error`);
      return r.out;
    };

    await t.test('version negotiation', async (t) => {
      t.equal(await ok(t, ['version', '--format', '{{.Client.APIVersion}} {{.Server.APIVersion}} {{.Server.MinAPIVersion}} {{.Server.Os}}']), '1.41 1.41 1.12 linux\n');
      t.equal(await ok(t, ['info', '--format', '{{.Swarm.LocalNodeState}} {{.OSType}}']), 'inactive linux\n');
    });

    await t.test('network ls of the built-ins', async (t) => {
      const out = await ok(t, ['network', 'ls']);
      t.equal(withoutIds(out), ['NETWORK ID     NAME      DRIVER    SCOPE', '<short>   bridge    bridge    local', '<short>   host      host      local', '<short>   none      null      local', ''].join('\n'));
    });

    await t.test('network create (--subnet, --gateway, --ip-range, --label, --internal, automatic pool)', async (t) => {
      const out = await ok(t, ['network', 'create', '--subnet', '10.95.0.0/24', '--ip-range', '10.95.0.128/25', '--gateway', '10.95.0.1', '--label', 'purpose=demo', 'apinet']);
      t.match(out, /^[0-9a-f]{64}\n$/);
      t.match(await ok(t, ['network', 'create', '--internal', 'inet']), /^[0-9a-f]{64}\n$/);
      t.match(await ok(t, ['network', 'create', 'auto']), /^[0-9a-f]{64}\n$/);
    });

    await t.test('network ls with -f, --format, -q and --no-trunc', async (t) => {
      const table = await ok(t, ['network', 'ls']);
      t.equal(withoutIds(table).split('\n').slice(1).map((l) => l.split(/\s+/)[1]).join(' '), 'apinet auto bridge host inet none ', 'rows sorted by name');
      const names = async (...filters: string[]): Promise<string> => (await ok(t, ['network', 'ls', ...filters.flatMap((f) => ['-f', f]), '--format', '{{.Name}}'])).trim().split('\n').join(' ');
      t.equal(await names('driver=bridge'), 'apinet auto bridge inet');
      t.equal(await names('name=net'), 'apinet inet', 'name is a substring match');
      t.equal(await names('name=^inet$'), 'inet', 'name is a regular expression');
      t.equal(await names('label=purpose=demo'), 'apinet');
      t.equal(await names('type=custom'), 'apinet auto inet');
      t.equal(await names('type=builtin'), 'bridge host none');
      t.equal(await names('driver=null'), 'none');
      t.equal(await ok(t, ['network', 'ls', '-f', 'name=^inet$', '--format', '{{.Name}}\t{{.Driver}}\t{{.Scope}}\t{{.Internal}}\t{{.IPv6}}']), 'inet\tbridge\tlocal\ttrue\tfalse\n');
      const quiet = await ok(t, ['network', 'ls', '-q']);
      t.equal(quiet, table.split('\n').slice(1, -1).map((l) => `${l.slice(0, 12)}\n`).join(''), '-q: the ids, same order');
      const full = await ok(t, ['network', 'ls', '-q', '--no-trunc']);
      t.match(full, /^([0-9a-f]{64}\n){6}$/);
      const wide = await ok(t, ['network', 'ls', '--no-trunc', '-f', 'name=apinet']);
      t.equal(withoutIds(wide), 'NETWORK ID                                                         NAME      DRIVER    SCOPE\n<id>   apinet    bridge    local\n');
      t.equal(await ok(t, ['network', 'ls', '-f', 'name=nomatch']), 'NETWORK ID   NAME      DRIVER    SCOPE\n', 'no match: the header alone');
    });

    await t.test('network inspect: the JSON and -f', async (t) => {
      const out = await ok(t, ['network', 'inspect', 'apinet']);
      const parsed = JSON.parse(out) as Record<string, unknown>[];
      t.equal(out, `${JSON.stringify(parsed, null, 4)}\n`, 'an array indented by 4 spaces');
      t.same(Object.keys(parsed[0]!), NETWORK_KEYS, "Docker's field order");
      const n = parsed[0]!;
      t.match(n.Id, /^[0-9a-f]{64}$/);
      t.match(n.Created, RFC3339_NANO);
      t.same({ ...n, Id: '', Created: '' }, {
        Name: 'apinet', Id: '', Created: '', Scope: 'local', Driver: 'bridge', EnableIPv6: false,
        IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: '10.95.0.0/24', IPRange: '10.95.0.128/25', Gateway: '10.95.0.1' }] },
        Internal: false, Attachable: false, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false,
        Containers: {}, Options: {}, Labels: { purpose: 'demo' },
      });
      const bridge = (JSON.parse(await ok(t, ['network', 'inspect', 'bridge'])) as Record<string, unknown>[])[0]!;
      t.same(bridge.IPAM, { Driver: 'default', Options: null, Config: [{ Subnet: '172.17.0.0/16' }] }, 'the default bridge: no Gateway key, Options null');
      t.same(bridge.Options, {
        'com.docker.network.bridge.default_bridge': 'true',
        'com.docker.network.bridge.enable_icc': 'true',
        'com.docker.network.bridge.enable_ip_masquerade': 'true',
        'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
        'com.docker.network.bridge.name': 'cnm0', // Docker's docker0: cnm's own name, so both can share a host
        'com.docker.network.driver.mtu': '1500',
      });
      const auto = (JSON.parse(await ok(t, ['network', 'inspect', 'auto'])) as { IPAM: { Config: unknown[] } }[])[0]!;
      t.match(auto.IPAM.Config, [{ Subnet: /^172\.\d+\.0\.0\/16$/, Gateway: /^172\.\d+\.0\.1$/ }], 'an automatic pool shows its gateway');
      t.equal(await ok(t, ['network', 'inspect', '-f', '{{.Name}} {{.Driver}} {{.Internal}}', 'apinet', 'inet']), 'apinet bridge false\ninet bridge true\n', '-f: one line per network');
      t.equal(await ok(t, ['network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Subnet}} {{.IPRange}} {{.Gateway}}{{end}}', 'apinet']), '10.95.0.0/24 10.95.0.128/25 10.95.0.1\n');
      t.equal(await ok(t, ['network', 'inspect', '-f', '{{.Containers}}', 'apinet']), 'map[]\n');
      t.equal(await ok(t, ['network', 'inspect', '-f', '{{json .Labels}}', 'apinet']), '{"purpose":"demo"}\n');
    });

    await t.test('IPv6 and auxiliary addresses, dangling filter, rm of several', async (t) => {
      t.match(await ok(t, ['network', 'create', '--ipv6', '--subnet', 'fd00:dead:beef::/64', 'v6net']), /^[0-9a-f]{64}\n$/);
      t.match(await ok(t, ['network', 'inspect', '-f', '{{json .IPAM.Config}} {{.EnableIPv6}}', 'v6net']), /^\[\{"Subnet":"172\.\d+\.0\.0\/16","Gateway":"172\.\d+\.0\.1"\},\{"Subnet":"fd00:dead:beef::\/64"\}\] true\n$/);
      t.match(await ok(t, ['network', 'create', '--subnet', '10.98.0.0/24', '--aux-address', 'reserved=10.98.0.5', 'auxnet']), /^[0-9a-f]{64}\n$/);
      t.equal(await ok(t, ['network', 'inspect', '-f', '{{json .IPAM.Config}}', 'auxnet']), '[{"Subnet":"10.98.0.0/24","AuxiliaryAddresses":{"reserved":"10.98.0.5"}}]\n');
      t.equal(await ok(t, ['network', 'ls', '-f', 'dangling=true', '--format', '{{.Name}}']), 'apinet\nauto\nauxnet\ninet\nv6net\n', 'unused user networks');
      t.equal(await ok(t, ['network', 'rm', 'v6net', 'auxnet']), 'v6net\nauxnet\n');
    });

    await t.test('-d macvlan: create, inspect, connect --ip, refusals, rm', async (t) => {
      // The parent: one end of a veth pair in the lab's host namespace (this kernel has no dummy links).
      await lab.inHost(['ip', 'link', 'add', 'cnmp0', 'type', 'veth', 'peer', 'name', 'cnmp1']);
      await lab.inHost(['ip', 'link', 'set', 'cnmp0', 'up']);
      t.match(await ok(t, ['network', 'create', '-d', 'macvlan', '--subnet', '10.97.0.0/24', '--gateway', '10.97.0.1', '--ip-range', '10.97.0.128/25', '-o', 'parent=cnmp0', 'mvnet']), /^[0-9a-f]{64}\n$/);
      t.equal(await ok(t, ['network', 'inspect', '-f', '{{.Driver}} {{json .Options}} {{json .IPAM.Config}}', 'mvnet']), 'macvlan {"parent":"cnmp0"} [{"Subnet":"10.97.0.0/24","IPRange":"10.97.0.128/25","Gateway":"10.97.0.1"}]\n');
      t.equal(await ok(t, ['network', 'ls', '-f', 'driver=macvlan', '--format', '{{.Name}}\t{{.Driver}}\t{{.Scope}}']), 'mvnet\tmacvlan\tlocal\n');
      t.equal((await lab.cli('run', '-d', '--name', 'mv1', 'sleep', 'infinity')).code, 0);
      t.equal(await ok(t, ['network', 'connect', '--ip', '10.97.0.50', 'mvnet', 'mv1']), '');
      t.equal(await ok(t, ['inspect', '-f', '{{with .NetworkSettings.Networks.mvnet}}{{.IPAddress}} {{.MacAddress}} {{.Gateway}}{{end}}', 'mv1']), '10.97.0.50 02:42:0a:61:00:32 10.97.0.1\n');
      const refusals: [string[], string][] = [
        // Docker named the holder "dm-<12 hex>"; cnm names the network (docker-behaviour §7.8).
        [['network', 'create', '-d', 'macvlan', '--subnet', '10.96.0.0/24', '-o', 'parent=cnmp0', 'mv2'], 'network mvnet is already using parent interface cnmp0'],
        [['network', 'create', '-d', 'macvlan', '--subnet', '10.96.0.0/24', '-o', 'parent=cnmp1', '-o', 'macvlan_mode=bogus', 'mv2'], "requested macvlan mode 'bogus' is not valid, 'bridge' mode is the macvlan driver default"],
        [['network', 'connect', '--ip', '10.97.0.50', 'mvnet', 'mv1'], 'endpoint with name mv1 already exists in network mvnet'],
      ];
      for (const [args, message] of refusals) {
        const r = await d(...args);
        t.same([r.code, r.out, r.err], [1, '', `Error response from daemon: ${message}\n`], args.join(' '));
      }
      t.equal(await ok(t, ['network', 'disconnect', 'mvnet', 'mv1']), '');
      t.equal((await lab.cli('rm', '-f', 'mv1')).code, 0);
      t.equal(await ok(t, ['network', 'rm', 'mvnet']), 'mvnet\n');
      await lab.inHost(['ip', 'link', 'del', 'cnmp0']);
    });

    // Sandboxes come from cnm's own CLI (docker run needs images); docker then sees them as containers.
    for (const argv of [
      ['run', '-d', '--name', 'web', '-p', '127.0.0.1:8081:80/udp', '-p', '8082:80', '-p', '9000-9001:7000-7001', 'sleep', 'infinity'],
      ['run', '-d', '--name', 'a1', '--network', 'apinet', 'sleep', 'infinity'],
      ['run', '-d', '--name', 'other', 'sleep', 'infinity'],
      ['run', '-d', '--name', 'iso', '--network', 'none', 'sleep', 'infinity'],
      ['run', '-d', '--name', 'hosty', '--network', 'host', 'sleep', 'infinity'],
    ]) {
      const r = await lab.cli(...argv);
      t.equal(r.code, 0, `cnm ${argv.join(' ')}: ${r.err}`);
    }
    const id = async (name: string): Promise<string> => (await d('inspect', '-f', '{{.Id}}', name)).out.trim();

    await t.test('network connect --ip --alias, then inspect and port of the sandbox', async (t) => {
      t.equal(await ok(t, ['network', 'connect', '--ip', '10.95.0.50', '--alias', 'api-alias', '--alias', 'second', 'apinet', 'web']), '', 'connect prints nothing');
      const [webId, a1Id] = [await id('web'), await id('a1')];
      t.match(webId, /^[0-9a-f]{64}$/);
      const containers = JSON.parse(await ok(t, ['network', 'inspect', '-f', '{{json .Containers}}', 'apinet'])) as Record<string, { EndpointID: string }>;
      const entry = (cid: string, name: string, mac: string, ip: string): [string, string] => [cid, `${cid}:{${name} ${containers[cid]!.EndpointID} ${mac} ${ip} }`];
      const expected = [entry(webId, 'web', '02:42:0a:5f:00:32', '10.95.0.50/24'), entry(a1Id, 'a1', '02:42:0a:5f:00:80', '10.95.0.128/24')].sort(([x], [y]) => (x < y ? -1 : 1));
      t.equal(await ok(t, ['network', 'inspect', '-f', '{{.Containers}}', 'apinet']), `map[${expected.map(([, text]) => text).join(' ')}]\n`, "Go's map form, keys sorted, a space for the empty IPv6");

      t.equal(await ok(t, ['inspect', '-f', '{{json .NetworkSettings.Networks.apinet.Aliases}}', 'web']), `["api-alias","second","${webId.slice(0, 12)}"]\n`);
      t.equal(await ok(t, ['inspect', '-f', '{{json .NetworkSettings.Networks.apinet.IPAMConfig}}', 'web']), '{"IPv4Address":"10.95.0.50"}\n');
      t.equal(await ok(t, ['inspect', '-f', '{{with .NetworkSettings.Networks.apinet}}{{.IPAddress}}/{{.IPPrefixLen}} {{.MacAddress}} {{.Gateway}}{{end}}', 'web']), '10.95.0.50/24 02:42:0a:5f:00:32 10.95.0.1\n');
      t.equal(await ok(t, ['inspect', '--type', 'container', '-f', '{{.Name}} {{.State.Running}} {{len .NetworkSettings.Networks}}', 'web']), '/web true 2\n');
      const full = await ok(t, ['inspect', 'web']);
      const c = (JSON.parse(full) as { Id: string; Name: string; NetworkSettings: { Networks: Record<string, unknown>; Ports: Record<string, unknown> } }[])[0]!;
      t.equal(full, `${JSON.stringify([c], null, 4)}\n`);
      t.equal(c.Id, webId);
      t.same(Object.keys(c.NetworkSettings.Networks), ['apinet', 'bridge']);
      t.same(c.NetworkSettings.Ports['80/udp'], [{ HostIp: '127.0.0.1', HostPort: '8081' }]);

      const ports = await ok(t, ['port', 'web']);
      t.match(ports, /\n$/);
      t.same(portOutput(client, ports), client.major < 23 ? PORT_LINES : ['80/tcp -> 0.0.0.0:8082', '80/udp -> 127.0.0.1:8081', '7000/tcp -> 0.0.0.0:9000', '7001/tcp -> 0.0.0.0:9001']);
      t.equal(await ok(t, ['port', 'web', '80']), '0.0.0.0:8082\n');
      t.equal(await ok(t, ['port', 'web', '80/udp']), '127.0.0.1:8081\n');
      const unpublished = await d('port', 'web', '81');
      t.equal(unpublished.code, 1);
      t.equal(unpublished.err, client.major < 23 ? "Error: No public port '81/tcp' published for web\n" : "Error: No public port '81' published for web\n");
      t.equal(await ok(t, ['port', 'a1']), '', 'nothing published: nothing printed');

      // The connection is real: a1 reaches web's new address, and the aliases resolve.
      const ping = await lab.cliProcess(['exec', 'a1', 'ping', '-c', '1', '-W', '2', '10.95.0.50']);
      t.match(ping.out, /1 received/, ping.err);
      const a1Ns = await lab.sandboxNs('a1');
      for (const name of ['api-alias', 'second', 'web']) {
        t.equal(await lab.inNs(a1Ns, ['dig', '+short', '+tries=1', '+time=2', '@127.0.0.11', name]), '10.95.0.50\n', `${name} resolves`);
      }
    });

    await t.test("errors: Docker's text, exit 1, nothing changed", async (t) => {
      const snapshot = (): Promise<string> => stateSnapshot(lab);
      const before = await snapshot();
      const otherId = await id('other');
      const apinetId = (await d('network', 'inspect', '-f', '{{.Id}}', 'apinet')).out.trim();
      const daemon = (message: string): string => `Error response from daemon: ${message}\n`;
      const rmError = (message: string): string => daemon(message) + (client.major < 23 ? '' : 'exit status 1\n');
      const cases: [string[], string, string?][] = [
        [['network', 'create', 'apinet'], daemon('network with name apinet already exists')],
        [['network', 'create', '--subnet', '10.95.0.0/16', 'x'], daemon('Pool overlaps with other one on this address space')],
        [['network', 'create', '--subnet', '10.20.0.300/24', 'x'], daemon('Invalid subnet 10.20.0.300/24 : invalid CIDR address: 10.20.0.300/24')],
        [['network', 'create', '-d', 'nosuchdriver', 'x'], daemon('plugin "nosuchdriver" not found')],
        [['network', 'create', '-d', 'host', 'x'], daemon('only one instance of "host" network is allowed')],
        [['network', 'create', '-d', 'null', 'x'], daemon('only one instance of "null" network is allowed')],
        [['network', 'create', '--ipv6', 'x'], daemon('could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network')],
        [['network', 'rm', 'apinet'], rmError(`error while removing network: network apinet id ${apinetId} has active endpoints`)],
        [['network', 'rm', 'bridge'], rmError('bridge is a pre-defined network and cannot be removed')],
        [['network', 'rm', 'nosuchnet'], unknownNetwork(client, 'nosuchnet', 'rm')],
        [['network', 'inspect', 'nosuchnet'], unknownNetwork(client, 'nosuchnet', 'inspect'), '[]\n'],
        [['network', 'connect', 'apinet', 'web'], daemon('endpoint with name web already exists in network apinet')],
        [['network', 'connect', '--alias', 'new', 'apinet', 'web'], daemon('endpoint with name web already exists in network apinet')],
        [['network', 'connect', 'nosuchnet', 'other'], daemon('network nosuchnet not found')],
        [['network', 'connect', 'apinet', 'nosuchctr'], daemon('No such container: nosuchctr')],
        [['network', 'connect', '--ip', '172.30.0.9', 'auto', 'other'], daemon('user specified IP address is supported only when connecting to networks with user configured subnets')],
        [['network', 'connect', '--ip', '10.95.0.50', 'apinet', 'other'], daemon('Address already in use')],
        [['network', 'connect', 'apinet', 'iso'], daemon('container cannot be connected to multiple networks with one of the networks in private (none) mode')],
        [['network', 'connect', 'host', 'other'], daemon('container cannot be disconnected from host network or connected to host network')],
        [['network', 'disconnect', 'host', 'hosty'], daemon('container cannot be disconnected from host network or connected to host network')],
        [['network', 'connect', 'apinet', 'hosty'], daemon('container sharing network namespace with another container or host cannot be connected to any other network')],
        [['network', 'disconnect', 'apinet', 'other'], daemon(`container ${otherId} is not connected to network apinet`)],
        [['network', 'disconnect', '-f', 'apinet', 'other'], daemon(`container ${otherId} is not connected to network apinet`)],
        [['network', 'disconnect', 'apinet', 'nosuchctr'], daemon('No such container: nosuchctr')],
        [['network', 'disconnect', '-f', 'apinet', 'nosuchctr'], daemon('endpoint nosuchctr not found')],
        [['inspect', 'nosuch'], 'Error: No such object: nosuch\n', '[]\n'],
      ];
      for (const [args, err, out] of cases) {
        const r = await d(...args);
        t.equal(r.err, err, `docker ${args.join(' ')}`);
        t.equal(r.out, out ?? '', `docker ${args.join(' ')}: stdout`);
        t.equal(r.code, 1, `docker ${args.join(' ')}: exit code`);
      }
      t.equal(await snapshot(), before, 'no network, sandbox, link or address changed');
    });

    await t.test('network disconnect -f, rm and prune -f', async (t) => {
      t.equal(await ok(t, ['network', 'disconnect', '-f', 'apinet', 'web']), '');
      t.equal(await ok(t, ['inspect', '-f', '{{len .NetworkSettings.Networks}} {{json .NetworkSettings.Networks.apinet}}', 'web']), '1 null\n');
      t.equal(await ok(t, ['network', 'disconnect', 'apinet', 'a1']), '');
      t.equal(await ok(t, ['network', 'inspect', '-f', '{{.Containers}}', 'apinet']), 'map[]\n');
      t.equal(await ok(t, ['network', 'rm', 'apinet', 'auto']), 'apinet\nauto\n', 'rm prints each name');
      t.match(await ok(t, ['network', 'create', 'p1']), /^[0-9a-f]{64}\n$/);
      t.match(await ok(t, ['network', 'create', 'p2']), /^[0-9a-f]{64}\n$/);
      t.match(await ok(t, ['network', 'create', '--label', 'keep=yes', 'p3']), /^[0-9a-f]{64}\n$/);
      const pruned = await ok(t, ['network', 'prune', '-f', '--filter', 'label!=keep=yes']);
      const lines = pruned.split('\n');
      t.equal(lines[0], 'Deleted Networks:');
      t.same(lines.slice(1, -2).sort(), ['inet', 'p1', 'p2'], 'all unused networks but the filtered-out one');
      t.same(lines.slice(-2), ['', ''], 'ends with a blank line');
      t.equal(await ok(t, ['network', 'prune', '-f', '--filter', 'until=1h']), '', 'until: only networks older than an hour');
      t.equal(await ok(t, ['network', 'prune', '-f', '--filter', 'label=keep=yes']), 'Deleted Networks:\np3\n\n');
      t.equal(await ok(t, ['network', 'prune', '-f']), '', 'nothing left to prune: nothing printed');
      t.equal(await ok(t, ['network', 'ls', '--format', '{{.Name}}']), 'bridge\nhost\nnone\n');
    });
  });
}
