/**
 * dockerode, the Node.js Docker client, drives cnmd as it would drive Docker: ping and version,
 * networks list/create/inspect/connect/disconnect/remove/prune, containers list and inspect, and
 * the status codes and messages of its failures.
 */
import Docker from 'dockerode';
import t from 'tap';
import { Lab } from '../helpers/lab';

interface DockerodeError {
  statusCode: number;
  json: { message: string };
}

async function failure(p: Promise<unknown>): Promise<DockerodeError> {
  try {
    await p;
  } catch (err) {
    return err as DockerodeError;
  }
  throw new Error('the call succeeded');
}

t.test('dockerode', async (t) => {
  const lab = await Lab.start();
  t.teardown(() => lab.close());
  const client = new Docker({ socketPath: lab.socket });
  const pinned = new Docker({ socketPath: lab.socket, version: 'v1.41' });
  for (const name of ['web', 'db']) t.equal((await lab.cli('run', '-d', '--name', name, 'sleep', 'infinity')).code, 0);

  await t.test('ping and version', async (t) => {
    t.equal(String(await client.ping()), 'OK');
    const v = await pinned.version();
    t.equal(v.ApiVersion, '1.41');
    t.equal(v.MinAPIVersion, '1.12');
    t.equal(v.Os, 'linux');
  });

  await t.test('list, create, inspect', async (t) => {
    const builtins = await client.listNetworks();
    t.same(builtins.map((n) => n.Name).sort(), ['bridge', 'host', 'none']);
    const created = await client.createNetwork({
      Name: 'dnet',
      CheckDuplicate: true,
      IPAM: { Driver: 'default', Config: [{ Subnet: '10.77.0.0/24', Gateway: '10.77.0.1', IPRange: '10.77.0.128/25' }] },
      Labels: { owner: 'dockerode' },
    });
    t.match(created.id, /^[0-9a-f]{64}$/);
    const info = (await client.getNetwork('dnet').inspect()) as Docker.NetworkInspectInfo;
    t.equal(info.Id, created.id);
    t.same(info.IPAM?.Config, [{ Subnet: '10.77.0.0/24', IPRange: '10.77.0.128/25', Gateway: '10.77.0.1' }]);
    t.equal(info.IPAM?.Options, null, 'an API create without IPAM options: null, as in Docker');
    t.same(info.Labels, { owner: 'dockerode' });
    t.same((await client.listNetworks({ filters: { label: ['owner=dockerode'] } })).map((n) => n.Name), ['dnet']);
    t.same((await client.listNetworks({ filters: JSON.stringify({ driver: ['null'] }) })).map((n) => n.Name), ['none']);
    t.same(await client.listNetworks({ filters: { name: ['nomatch'] } }), []);
  });

  await t.test('connect, disconnect', async (t) => {
    const net = client.getNetwork('dnet');
    await net.connect({ Container: 'web', EndpointConfig: { IPAMConfig: { IPv4Address: '10.77.0.10' }, Aliases: ['www'] } });
    await net.connect({ Container: 'db' });
    const info = (await net.inspect()) as Docker.NetworkInspectInfo;
    const byName = Object.fromEntries(Object.values(info.Containers ?? {}).map((c) => [c.Name, c.IPv4Address]));
    t.same(byName, { web: '10.77.0.10/24', db: '10.77.0.128/24' });

    const web = await client.getContainer('web').inspect();
    t.equal(web.Name, '/web');
    t.same(web.NetworkSettings.Networks.dnet?.Aliases, ['www', web.Id.slice(0, 12)]);
    t.equal(web.NetworkSettings.Networks.dnet?.IPAddress, '10.77.0.10');
    const listed = await client.listContainers({ filters: { network: ['dnet'] } });
    t.same(listed.map((c) => c.Names[0]).sort(), ['/db', '/web']);
    t.same(Object.keys(listed.find((c) => c.Names[0] === '/web')!.NetworkSettings.Networks).sort(), ['bridge', 'dnet']);

    await net.disconnect({ Container: 'db' });
    await net.disconnect({ Container: web.Id, Force: true });
    t.same(((await net.inspect()) as Docker.NetworkInspectInfo).Containers, {});
  });

  await t.test("failures carry Docker's status codes and messages", async (t) => {
    const dup = await failure(client.createNetwork({ Name: 'dnet', CheckDuplicate: true }));
    t.equal(dup.statusCode, 409);
    t.equal(dup.json.message, 'network with name dnet already exists');
    const dupUnchecked = await failure(client.createNetwork({ Name: 'dnet' }));
    t.equal(dupUnchecked.statusCode, 409, 'a duplicate name is refused even without CheckDuplicate');
    const missing = await failure(client.getNetwork('nosuch').inspect());
    t.equal(missing.statusCode, 404);
    t.equal(missing.json.message, 'network nosuch not found');
    const noBox = await failure(client.getNetwork('dnet').connect({ Container: 'nosuch' }));
    t.equal(noBox.statusCode, 404);
    t.equal(noBox.json.message, 'No such container: nosuch');
    const notConnected = await failure(client.getNetwork('dnet').disconnect({ Container: 'web' }));
    t.equal(notConnected.statusCode, 403);
    const predefined = await failure(client.getNetwork('bridge').remove());
    t.equal(predefined.statusCode, 403);
    t.equal(predefined.json.message, 'bridge is a pre-defined network and cannot be removed');
    const noContainer = await failure(client.getContainer('nosuch').inspect());
    t.equal(noContainer.statusCode, 404);
    t.equal(noContainer.json.message, 'No such container: nosuch');
  });

  await t.test('remove and prune', async (t) => {
    await client.getNetwork('dnet').remove();
    t.equal((await failure(client.getNetwork('dnet').remove())).statusCode, 404);
    await client.createNetwork({ Name: 'spare1' });
    await client.createNetwork({ Name: 'spare2', Labels: { keep: 'yes' } });
    t.same(await client.pruneNetworks({ filters: { 'label!': ['keep=yes'] } }), { NetworksDeleted: ['spare1'] });
    t.same(await client.pruneNetworks(), { NetworksDeleted: ['spare2'] });
    t.same(await client.pruneNetworks(), { NetworksDeleted: null });
    t.same((await client.listNetworks()).map((n) => n.Name).sort(), ['bridge', 'host', 'none']);
  });
});
