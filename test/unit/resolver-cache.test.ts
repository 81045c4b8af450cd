import t from 'tap';
import * as packet from 'dns-packet';
import { AnswerCache, cacheKey, shareable, ttlLayout } from '../../src/resolver/cache';
import { parseResolvConf } from '../../src/os/resolvconf';
import { parseUpstream } from '../../src/resolver/upstream';
import { Query, parseQuery } from '../../src/resolver/wire';
import { decode, query } from './resolver-fixtures';

function response(
  name: string,
  options: { rcode?: number; answers?: number; ttl?: number; soa?: [number, number]; tc?: boolean; edns?: boolean; ednsOptions?: { code: number; data: Buffer }[] } = {},
): Buffer {
  return packet.encode({
    type: 'response',
    id: 1,
    flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | (options.tc ? packet.TRUNCATED_RESPONSE : 0) | (options.rcode ?? 0),
    questions: [{ type: 'A', name }],
    answers: Array.from({ length: options.answers ?? 0 }, (_, i) => ({ type: 'A', name, ttl: (options.ttl ?? 300) + i, data: `192.0.2.${i + 1}` })),
    authorities: options.soa
      ? [{ type: 'SOA', name: 'test', ttl: options.soa[0], data: { mname: 'ns.test', rname: 'r.test', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: options.soa[1] } }]
      : [],
    additionals: options.edns ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: options.ednsOptions ?? [] } as never] : [],
  } as never);
}

t.test('ttlLayout: positive, negative (RFC 2308) and uncacheable answers', async (t) => {
  const positive = ttlLayout(response('a.test', { answers: 3, ttl: 100, edns: true }))!;
  t.equal(positive.lifetime, 100, 'the smallest TTL');
  t.equal(positive.ttlOffsets.length, 3, 'OPT has no TTL');
  t.equal(positive.ownerOffsets.length, 3);
  t.equal(ttlLayout(response('a.test', { rcode: 3, soa: [3600, 60] }))!.lifetime, 60, 'NXDOMAIN: SOA minimum');
  t.equal(ttlLayout(response('a.test', { soa: [30, 60] }))!.lifetime, 30, 'NODATA: SOA TTL when smaller');
  t.equal(ttlLayout(response('a.test', { rcode: 3, soa: [86400, 86400] }))!.lifetime, 300, 'negative TTL capped');
  t.equal(ttlLayout(response('a.test', { rcode: 3 }))!.lifetime, 0, 'no SOA: not cached');
  t.equal(ttlLayout(response('a.test', { rcode: 2, soa: [60, 60] }))!.lifetime, 0, 'SERVFAIL: not cached');
  t.equal(ttlLayout(response('a.test', { answers: 1, ttl: 999999 }))!.lifetime, 86400, 'positive TTL capped');
  t.equal(ttlLayout(response('a.test', { answers: 2 }).subarray(0, 40)), null, 'malformed: not cached');
});

t.test('AnswerCache: serve with the asker’s id and case, TTLs decremented, limits', async (t) => {
  const cache = new AnswerCache(100);
  const q = new Query();
  const first = query('a.test', 'A', { id: 1 });
  parseQuery(first, q);
  const key = cacheKey(q);
  cache.store(key, response('a.test', { answers: 2, ttl: 100 }), 10_000);
  t.equal(cache.size, 1);

  const asker = query('A.TeSt', 'A', { id: 777 });
  parseQuery(asker, q);
  t.equal(cacheKey(q), key, 'case does not change the key');
  const served = decode(cache.serve(key, asker, q, 512, 12_500)!);
  t.equal(served.id, 777);
  t.equal(served.questions[0]!.name, 'A.TeSt');
  t.same(served.answers.map((a) => [a.name, a.ttl]), [['A.TeSt', 98], ['A.TeSt', 99]], 'TTLs minus 2 s');
  t.equal(cache.serve(key, asker, q, 40, 12_500), null, 'too large for the asker: miss');

  parseQuery(query('a.test', 'A', { edns: 1232 }), q);
  t.not(cacheKey(q), key, 'EDNS askers have their own entries');
  parseQuery(query('a.test', 'A', { edns: 1232, dnssecOk: true }), q);
  const withDo = cacheKey(q);
  parseQuery(query('a.test', 'A', { edns: 1232 }), q);
  t.not(cacheKey(q), withDo, 'so do DO askers');
  parseQuery(query('a.test', 'AAAA'), q);
  t.not(cacheKey(q), key);

  cache.store('tc', response('a.test', { answers: 1, tc: true }), 0);
  cache.store('zero', response('a.test', { answers: 1, ttl: 0 }), 0);
  t.equal(cache.size, 1, 'truncated and TTL-0 answers are not kept');
});

t.test('resolv.conf and upstream addresses', async (t) => {
  const conf = parseResolvConf('# comment\nnameserver 127.0.0.53\nnameserver fe80::1%eth0 ; x\nnameserver bogus\nsearch a.test b.test\noptions edns0 trust-ad\ndomain c.test\n');
  t.same(conf, { nameservers: ['127.0.0.53', 'fe80::1%eth0'], search: ['c.test'], options: ['edns0', 'trust-ad'] });
  t.same(parseUpstream('10.0.0.1'), { host: '10.0.0.1', port: 53, family: 4, text: '10.0.0.1:53' });
  t.same(parseUpstream('10.0.0.1:5353')?.port, 5353);
  t.same(parseUpstream('::1'), { host: '::1', port: 53, family: 6, text: '[::1]:53' });
  t.same(parseUpstream('[::1]:5300')?.port, 5300);
  for (const bad of ['example.com', '10.0.0.1:0', '10.0.0.1:x', '[::1]:99999', '']) t.equal(parseUpstream(bad), null, bad);
});

t.test('answers are shared without the first asker’s cookie, and not when tailored to its subnet', async (t) => {
  const cookie = { code: 10, data: Buffer.alloc(24, 1) };
  const padding = { code: 12, data: Buffer.alloc(4) };
  const withCookie = response('a.test', { answers: 1, edns: true, ednsOptions: [cookie, padding] });
  const shared = shareable(withCookie)!;
  const opt = decode(shared).additionals[0]!;
  t.same(opt.options?.map((o) => o.code), [12], 'COOKIE removed, other options kept');
  t.equal(shared.length, withCookie.length - 28);
  t.equal(decode(shared).answers.length, 1);
  const plain = response('a.test', { answers: 1, edns: true });
  t.equal(shareable(plain), plain, 'nothing to remove: the same buffer');
  const ecs = (scope: number) => ({ code: 8, data: Buffer.from([0, 1, 24, scope, 192, 0, 2]) });
  t.equal(shareable(response('a.test', { answers: 1, edns: true, ednsOptions: [ecs(24)] })), null, 'ECS scope 24: not shared');
  t.not(shareable(response('a.test', { answers: 1, edns: true, ednsOptions: [ecs(0)] })), null, 'ECS scope 0: shared');

  const cache = new AnswerCache(10);
  cache.store('k', withCookie, 0);
  const q = new Query();
  const asker = query('a.test', 'A', { edns: 1232 });
  parseQuery(asker, q);
  t.same(decode(cache.serve('k', asker, q, 1232, 0)!).additionals[0]!.options?.map((o) => o.code), [12], 'served without the cookie');
});
