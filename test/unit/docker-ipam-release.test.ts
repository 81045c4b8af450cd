/**
 * Docker's ReleaseAddress of an overlay address (docker-ipam.ts), on a context with only what it
 * reads: the meta table, the networks, and a cluster store that records its releases.
 */
import t from 'tap';
import type { ControllerContext } from '../../src/controller/context';
import { releaseDockerAddress } from '../../src/controller/docker-ipam';
import type { NetworkRecord } from '../../src/controller/model';

const OVERLAY = { id: 'ov-id', name: 'ov', driver: 'overlay', scope: 'global', pools: [{ family: 4, subnet: '10.210.0.0/24', gateway: '10.210.0.1' }] } as unknown as NetworkRecord;

function context(grants: string[]) {
  const meta = new Map<string, string>([
    ['dockerOverlays', JSON.stringify({ 'docker-net': OVERLAY.id })],
    ['dockerIpamPools', JSON.stringify({ p1: { pools: OVERLAY.pools, used: [], cluster: grants } })],
  ]);
  const released: string[] = [];
  const ctx = {
    store: { getMeta: (k: string) => meta.get(k), transaction: (fn: (tx: { setMeta(k: string, v: string): void }) => void) => fn({ setMeta: (k, v) => void meta.set(k, v) }) },
    state: { networks: new Map([[OVERLAY.id, OVERLAY]]), endpointsOfNetwork: () => [] },
    cluster: { releaseAddress: async (_network: string, address: string) => void released.push(address) },
  } as unknown as ControllerContext;
  const grantsNow = (): string[] => (JSON.parse(meta.get('dockerIpamPools')!) as { p1: { cluster: string[] } }).p1.cluster;
  return { ctx, released, grantsNow };
}

t.test('an address Docker was given again before the first grant was released keeps its reservation', async (t) => {
  // DeleteEndpoint freed 10.210.0.2, Docker asked for it again (a new container), then released the first grant.
  const { ctx, released, grantsNow } = context(['10.210.0.2', '10.210.0.2']);
  await releaseDockerAddress(ctx, 'p1', '10.210.0.2/24');
  t.same(grantsNow(), ['10.210.0.2'], 'one grant goes, the other stays');
  t.same(released, [], 'the cluster reservation of the second grant stays');
  await releaseDockerAddress(ctx, 'p1', '10.210.0.2/24');
  t.same(grantsNow(), []);
  t.same(released, ['10.210.0.2'], 'the last grant released frees it in the cluster');
});
