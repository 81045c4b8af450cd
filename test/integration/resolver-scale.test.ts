/** 1,000 sandboxes: memory per sandbox and the cost of later updates, with real listeners. */
// Upstream stubs and the resolver's own upstream sockets live in this file's private namespace.
import '../helpers/private-netns';
import t from 'tap';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { benchState } from '../../bench/dns/lab-state';
import type { DnsState } from '../../src/resolver';
import { dig, makeLab } from './resolver-lab';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const SANDBOXES = 1000;

function retained(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external + m.arrayBuffers;
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

t.test(`${SANDBOXES} sandboxes: under 10 KB each, small updates stay small`, async (t) => {
  const lab = makeLab(t, { upstreams: ['127.0.0.1:9'] });
  const nsPaths = Array.from({ length: SANDBOXES + 1 }, (_, i) => lab.ns(`n${i}`));
  const state = benchState(SANDBOXES, (i) => nsPaths[i]!);
  await lab.resolver.update(benchState(2, (i) => nsPaths[i]!));
  await lab.resolver.update({ networks: [], sandboxes: [] });

  const before = retained();
  const initial = await timed(() => lab.resolver.update(state));
  const perSandbox = (retained() - before) / SANDBOXES;
  t.ok(perSandbox < 10 * 1024, `${perSandbox.toFixed(0)} bytes retained per sandbox (listeners, view, records); first update ${initial.toFixed(0)} ms`);
  for (const i of [0, 499, 999]) {
    t.same((await dig(nsPaths[i]!, `c${(i * 7) % SANDBOXES}`)).answers.length, 1, `sandbox ${i} served`);
  }

  const network = state.networks[0]!;
  const withAlias: DnsState = { ...state, networks: [{ ...network, endpoints: network.endpoints.map((e, i) => (i === 500 ? { ...e, names: [...e.names, 'late-alias'] } : e)) }] };
  const connected = benchState(SANDBOXES + 1, (i) => nsPaths[i]!);
  const costs: Record<string, number[]> = { unchanged: [], alias: [], connect: [], disconnect: [] };
  for (let round = 0; round < 5; round++) {
    costs.unchanged!.push(await timed(() => lab.resolver.update(state)));
    costs.alias!.push(await timed(() => lab.resolver.update(withAlias)));
    costs.connect!.push(await timed(() => lab.resolver.update(connected)));
    costs.disconnect!.push(await timed(() => lab.resolver.update(state)));
  }
  for (const [what, times] of Object.entries(costs)) {
    const median = times.sort((a, b) => a - b)[2]!;
    // Reported, not asserted: a timed bound fails on a loaded machine and proves nothing on a
    // quiet one; bench/dns measures updates.
    t.comment(`${what} at ${SANDBOXES} sandboxes: ${median.toFixed(2)} ms`);
  }
  await lab.resolver.update(connected);
  t.same((await dig(nsPaths[SANDBOXES]!, `c${SANDBOXES}`)).answers.length, 1, 'the connected sandbox resolves at once');
});

t.test('sandboxes added one update at a time, as the daemon adds them: no earlier snapshot is kept alive', async (t) => {
  const lab = makeLab(t, { upstreams: ['127.0.0.1:9'] });
  const count = 300;
  const nsPaths = Array.from({ length: count }, (_, i) => lab.ns(`g${i}`));
  await lab.resolver.update(benchState(2, (i) => nsPaths[i]!));
  await lab.resolver.update({ networks: [], sandboxes: [] });
  const before = retained();
  for (let n = 1; n <= count; n++) await lab.resolver.update(benchState(n, (i) => nsPaths[i]!));
  const perSandbox = (retained() - before) / count;
  // Each listener used to hold the snapshot of the update that opened it: quadratic growth.
  t.ok(perSandbox < 10 * 1024, `${perSandbox.toFixed(0)} bytes retained per sandbox after ${count} updates`);
  t.same((await dig(nsPaths[0]!, `c${count - 1}`)).answers.length, 1, 'the first sandbox sees the last one');
});
