/** NativeTableCompiler with a recording addon: which sub-tables it builds, derives and keeps. */
import t from 'tap';
import { NativeTableCompiler } from '../../src/resolver/native-table';
import { buildSnapshot, emptySnapshot } from '../../src/resolver/records';
import type { DnsNetworkHandle } from '../../src/os/native';
import { sampleState } from './resolver-fixtures';

function recordingAddon() {
  const calls: string[] = [];
  let next = 0;
  const handle = (): DnsNetworkHandle => ({ id: next++ }) as unknown as DnsNetworkHandle;
  return {
    calls,
    addon: {
      dnsNetworkBuild: () => (calls.push('build'), handle()),
      dnsNetworkDerive: () => (calls.push('derive'), handle()),
      dnsNetworkRelease: () => void calls.push('release'),
    },
  };
}

t.test('a change that touches no key (internal toggled) keeps the sub-table: nothing derived, nothing to swap', async (t) => {
  const { calls, addon } = recordingAddon();
  const compiler = new NativeTableCompiler(addon as unknown as ConstructorParameters<typeof NativeTableCompiler>[0]);
  const state = sampleState();
  const first = buildSnapshot(emptySnapshot(), state, 600).snapshot;
  t.not(compiler.compile(first, new Map(), 0), null, 'the first table');
  const built = calls.length;
  const toggled = { ...state, networks: state.networks.map((n, i) => (i === 0 ? { ...n, internal: !n.internal } : n)) };
  const second = buildSnapshot(first, toggled, 600).snapshot;
  t.not(second.tables.get('n1'), first.tables.get('n1'), 'the records table changed (internal)');
  t.equal(compiler.compile(second, new Map(), 0), null, 'the same C table: nothing to swap');
  t.same(calls.slice(built), [], 'no sub-table derived or released');
});
