import t from 'tap';
import * as packet from 'dns-packet';
import { addressRecord, localAnswer, A_RECORD_BYTES } from '../../src/resolver/answers';
import { keyToName, nameKey, reverseName, wireName } from '../../src/resolver/names';
import { Query, RCODE, Verdict, emptyResponse, headerOnlyResponse, parseQuery, responseLimit, EDE } from '../../src/resolver/wire';
import { decode, query } from './resolver-fixtures';

t.test('parseQuery reads the header, the question and the OPT record', async (t) => {
  const q = new Query();
  t.equal(parseQuery(query('Web.DNet.', 'AAAA', { id: 77, edns: 1232, dnssecOk: true }), q), Verdict.Answer);
  t.equal(q.id, 77);
  t.equal(q.qtype, 28);
  t.equal(q.qclass, 1);
  t.equal(q.key, nameKey('web.dnet'), 'key is lower-cased wire form');
  t.equal(keyToName(q.key), 'web.dnet.');
  t.equal(q.labels, 2);
  t.ok(q.edns);
  t.equal(q.udpPayload, 1232);
  t.ok(q.dnssecOk);

  t.equal(parseQuery(query('d1'), q), Verdict.Answer);
  t.notOk(q.edns, 'OPT state does not leak from the previous query');
  t.equal(q.udpPayload, 512);
  t.equal(parseQuery(query('d1', 'A', { edns: 100 }), q), Verdict.Answer);
  t.equal(q.udpPayload, 512, 'an EDNS payload below 512 counts as 512');
});

t.test('parseQuery rejects what it must', async (t) => {
  const q = new Query();
  const good = query('d1.dnet');
  t.equal(parseQuery(good.subarray(0, 11), q), Verdict.Drop, 'shorter than a header');
  const response = Buffer.from(good);
  response[2]! |= 0x80;
  t.equal(parseQuery(response, q), Verdict.Drop, 'QR set: a response, never answered');
  const notify = Buffer.from(good);
  notify[2] = (4 << 3) | 1;
  t.equal(parseQuery(notify, q), Verdict.NotImp, 'opcode NOTIFY');
  const two = Buffer.from(good);
  two.writeUInt16BE(2, 4);
  t.equal(parseQuery(two, q), Verdict.FormErr, 'qdcount 2');
  const none = Buffer.from(good);
  none.writeUInt16BE(0, 4);
  t.equal(parseQuery(none, q), Verdict.FormErr, 'qdcount 0');
  t.equal(parseQuery(good.subarray(0, good.length - 2), q), Verdict.FormErr, 'question cut short');
  const badLabel = Buffer.from(good);
  badLabel[12] = 64;
  t.equal(parseQuery(badLabel, q), Verdict.FormErr, 'label length 64');
  const pointer = Buffer.from(good);
  pointer[12] = 0xc0;
  pointer[13] = 12;
  t.equal(parseQuery(pointer, q), Verdict.FormErr, 'compression pointer in the question');
  const long = Buffer.concat([good.subarray(0, 12), Buffer.alloc(4096, 1)]);
  t.equal(parseQuery(long, q), Verdict.FormErr, 'oversized');
  const tooLongName = Buffer.concat([good.subarray(0, 12), Buffer.from(Array.from({ length: 5 }, () => [63, ...Buffer.alloc(63, 97)]).flat()), Buffer.from([0, 0, 1, 0, 1])]);
  t.equal(parseQuery(tooLongName, q), Verdict.FormErr, 'name over 255 bytes');

  const edns = query('d1', 'A', { edns: 1232 });
  t.equal(parseQuery(edns.subarray(0, edns.length - 3), q), Verdict.FormErr, 'OPT record cut short');
  const v1 = Buffer.from(edns);
  v1[edns.length - 5] = 1; // version byte of the OPT TTL
  t.equal(parseQuery(v1, q), Verdict.BadVers, 'EDNS version 1');
  const twoOpt = Buffer.concat([edns, edns.subarray(edns.length - 11)]);
  twoOpt.writeUInt16BE(2, 10);
  t.equal(parseQuery(twoOpt, q), Verdict.FormErr, 'two OPT records');
  const loop = Buffer.concat([good, Buffer.from([0xc0, good.length, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0])]);
  loop.writeUInt16BE(1, 10);
  t.equal(parseQuery(loop, q), Verdict.FormErr, 'a pointer to itself (a loop) in a record');
  const backward = Buffer.concat([good, Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0])]);
  backward.writeUInt16BE(1, 10);
  t.equal(parseQuery(backward, q), Verdict.Answer, 'a backward pointer in a record is skipped, never followed');
  const forward = Buffer.concat([good, Buffer.from([0xc0, 0x40, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0])]);
  forward.writeUInt16BE(1, 10);
  t.equal(parseQuery(forward, q), Verdict.FormErr, 'a forward pointer');
  const badOption = Buffer.from(edns);
  badOption.writeUInt16BE(4, badOption.length - 2);
  t.equal(parseQuery(Buffer.concat([badOption, Buffer.from([0, 10, 0, 9])]), q), Verdict.FormErr, 'an EDNS option longer than the OPT data');
  const goodOption = Buffer.from(edns);
  goodOption.writeUInt16BE(6, goodOption.length - 2);
  t.equal(parseQuery(Buffer.concat([goodOption, Buffer.from([0, 10, 0, 2, 1, 2])]), q), Verdict.Answer, 'a well-formed option');
});

t.test('error responses keep id, opcode and rd', async (t) => {
  const msg = query('x', 'A', { id: 9, rd: false });
  const formerr = decode(headerOnlyResponse(msg, RCODE.FORMERR));
  t.equal(formerr.id, 9);
  t.equal(formerr.rcode, 'FORMERR');
  t.notOk(formerr.flag_rd);
  t.equal((formerr.questions ?? []).length, 0);

  const q = new Query();
  const edns = query('x', 'A', { id: 10, edns: 4096, dnssecOk: true });
  parseQuery(edns, q);
  const refused = decode(emptyResponse(edns, q, RCODE.REFUSED, { code: EDE.prohibited, text: 'internal network' }));
  t.equal(refused.rcode, 'REFUSED');
  t.same(refused.questions, [{ name: 'x', type: 'A', class: 'IN' }]);
  const opt = refused.additionals[0]!;
  t.equal(opt.type, 'OPT');
  t.equal(opt.flags! & packet.DNSSEC_OK, packet.DNSSEC_OK, 'DO mirrored');
  t.equal(opt.options?.[0]?.code, 15, 'Extended DNS Error option');
  t.equal(opt.options?.[0]?.data?.subarray(2).toString(), 'internal network');

  const v1 = Buffer.from(edns);
  v1[edns.length - 5] = 1;
  t.equal(parseQuery(v1, q), Verdict.BadVers);
  const badvers = emptyResponse(v1, q, RCODE.BADVERS);
  t.equal(badvers[3]! & 0xf, 0, 'low rcode bits 0');
  t.equal(badvers[badvers.length - 6], 1, 'extended rcode 1 = BADVERS (16)');
});

t.test('local answers: flags, case, EDNS, truncation with whole records, shuffle', async (t) => {
  const rrs = Buffer.concat(Array.from({ length: 40 }, (_, i) => addressRecord(Uint8Array.from([10, 0, 1, i + 1]), 600)));
  const q = new Query();
  const msg = query('ShArEd', 'A', { id: 1234 });
  parseQuery(msg, q);
  const small = localAnswer(msg, q, responseLimit(q, false), rrs, A_RECORD_BYTES);
  t.ok(small.length <= 512);
  const d = decode(small);
  t.equal(d.id, 1234);
  t.ok(d.flag_qr && d.flag_rd && d.flag_ra && d.flag_tc);
  t.notOk(d.flag_aa);
  t.equal(d.questions?.[0]?.name, 'ShArEd', 'asker case echoed');
  t.equal(d.answers?.length, Math.floor((512 - 12 - 12) / 16), 'as many whole records as fit');
  t.equal(d.answers?.[0]?.ttl, 600);
  t.equal(d.answers?.[0]?.name, 'ShArEd', 'answers point at the question');
  t.equal((d.additionals ?? []).length, 0, 'no OPT without EDNS');

  const tcp = decode(localAnswer(msg, q, responseLimit(q, true), rrs, A_RECORD_BYTES));
  t.equal(tcp.answers?.length, 40);
  t.notOk(tcp.flag_tc);

  const ednsMsg = query('shared', 'A', { edns: 1232, rd: false });
  parseQuery(ednsMsg, q);
  const edns = decode(localAnswer(ednsMsg, q, responseLimit(q, false), rrs, A_RECORD_BYTES));
  t.equal(edns.answers?.length, 40, '40 records fit in 1232 bytes');
  t.notOk(edns.flag_rd, 'rd mirrored');
  t.notOk(edns.flag_tc);
  t.equal(edns.additionals?.[0]?.type, 'OPT');

  const orders = new Set<string>();
  for (let i = 0; i < 20; i++) orders.add(JSON.stringify(decode(localAnswer(ednsMsg, q, 1232, rrs, A_RECORD_BYTES)).answers?.map((a) => a.data)));
  t.ok(orders.size > 15, 'order changes per response');
  const all = new Set(edns.answers?.map((a) => a.data));
  t.equal(all.size, 40, 'every record exactly once');
});

t.test('names and reverse names', async (t) => {
  t.same(wireName('a.bc.'), Buffer.from([1, 97, 2, 98, 99, 0]));
  t.equal(wireName('a..b'), null);
  t.equal(wireName('x'.repeat(64)), null);
  t.equal(wireName(''), null);
  t.equal(nameKey('D1.DNET'), nameKey('d1.dnet.'));
  t.equal(reverseName(Uint8Array.from([10, 50, 0, 2])), '2.0.50.10.in-addr.arpa');
  const v6 = new Uint8Array(16);
  v6[0] = 0xfd;
  v6[15] = 0x03;
  t.equal(reverseName(v6), '3.0.' + '0.'.repeat(28) + 'd.f.ip6.arpa');
});
