/**
 * CPU per query of the resolver's own code, without sockets (no root needed):
 *   node dist/bench/dns/hotpath.js [--queries 2000000]
 * Measures QueryEngine.handle for the query kinds of the benchmark mixes against a snapshot of
 * 1,000 sandboxes, and prints µs/query per kind. Run it before and after every hot-path change.
 */
import { QueryEngine, type ForwardPath, type ReplySink } from '../../src/resolver/engine';
import { AnswerCache, cacheKey } from '../../src/resolver/cache';
import { Metrics } from '../../src/resolver/metrics';
import { buildSnapshot, emptySnapshot } from '../../src/resolver/records';
import { Query, parseQuery } from '../../src/resolver/wire';
import { benchState, encodeQuery } from './lab-state';
import { stubAnswer } from './upstream-stub';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

function main(): void {
  const queries = option('queries', 2_000_000);
  const state = benchState(1000, (i) => `/nonexistent/${i}`);
  const cache = new AnswerCache(10_000);
  const forwarding: ForwardPath = {
    // What the forwarder does on a cache hit, minus its bookkeeping.
    forward(msg, q, sink, peer) {
      const hit = cache.serve(cacheKey(q), msg, q, 512, 0);
      if (hit !== null) sink.reply(hit, peer);
    },
  };
  const engine = new QueryEngine(forwarding, new Metrics());
  const built = Date.now();
  engine.snapshot = buildSnapshot(emptySnapshot(), state, 600).snapshot;
  console.log(`snapshot of 1000 sandboxes built in ${Date.now() - built} ms`);

  let replies = 0;
  const sink: ReplySink = { sandboxId: state.sandboxes[0]!.id, tcp: false, reply: () => void replies++ };
  const kinds: Record<string, Buffer[]> = {
    'local A': Array.from({ length: 1000 }, (_, i) => encodeQuery(`c${i}`, 'A')),
    'local AAAA': Array.from({ length: 1000 }, (_, i) => encodeQuery(`c${i}`, 'AAAA')),
    PTR: Array.from({ length: 1000 }, (_, i) => encodeQuery(state.networks[0]!.endpoints[i]!.ipv4!.split('.').reverse().join('.') + '.in-addr.arpa', 'PTR')),
    'forwarded (cache hit)': Array.from({ length: 100 }, (_, i) => encodeQuery(`f${i}.fwd.example`, 'A')),
  };
  const q = new Query();
  for (const msg of kinds['forwarded (cache hit)']!) {
    parseQuery(msg, q);
    cache.store(cacheKey(q), stubAnswer(msg)!, 0);
  }

  for (const [kind, msgs] of Object.entries(kinds)) {
    for (let i = 0; i < 100_000; i++) engine.handle(msgs[i % msgs.length]!, sink, null); // warm-up
    replies = 0;
    const before = process.cpuUsage();
    for (let i = 0; i < queries; i++) engine.handle(msgs[i % msgs.length]!, sink, null);
    const used = process.cpuUsage(before);
    const us = (used.user + used.system) / queries;
    console.log(`${kind.padEnd(24)} ${us.toFixed(3)} µs/query (${replies} replies)`);
  }
}

main();
