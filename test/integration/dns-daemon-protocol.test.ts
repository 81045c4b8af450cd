/**
 * The wire protocol of the embedded DNS through the real cnmd: EDNS (OPT echoed, payload size
 * honoured, BADVERS), truncation with TC and the TCP retry for a name 40 sandboxes share, DNS
 * over TCP with several pipelined queries split across writes on one connection, and malformed
 * messages answered with FORMERR or dropped.
 */
import dgram from 'node:dgram';
import * as packet from 'dns-packet';
import t from 'tap';
import { openSocketInNetns } from '../../src/os/native';
import { DnsLab, eventually, reverse4 } from './dns-daemon-lab';
import { nodeIn } from './resolver-lab';

const HOLDERS = 40;
/** Queries sent while the daemon is stopped: several times what a default receive buffer holds. */
const BURST = 2000;
/** Header + question of `many` (1+4+1 name bytes, type, class). */
const QUESTION_BYTES = 12 + 6 + 4;
const A_RECORD_BYTES = 16;
const OPT_BYTES = 11;

t.test('protocol through the daemon', async (t) => {
  const dns = await DnsLab.start(t);
  await dns.stub(t, { records: { 'example.test': [{ type: 'A', data: '192.0.2.1' }] } });
  await dns.cli('network', 'create', '--subnet', '10.61.0.0/24', 'n1');
  await dns.run('asker', '--network', 'n1');
  // Sandboxes without a process are enough to hold names: created through the API only.
  for (let i = 0; i < HOLDERS; i++) {
    const r = await dns.lab.api('POST', `/containers/create?name=h${i}`, { HostConfig: { NetworkMode: 'n1' }, NetworkingConfig: { EndpointsConfig: { n1: { Aliases: ['many'] } } } });
    t.equal(r.status, 201, r.raw);
  }

  await t.test('EDNS: OPT only when asked, the payload size honoured, TC when records do not fit', async (t) => {
    const classic = await dns.dig('asker', '+noedns', '+ignore', 'many');
    t.ok(classic.flags.includes('tc'), 'TC without EDNS');
    t.notOk(classic.opt, 'no OPT to a query without one');
    t.equal(classic.answers.length, Math.floor((512 - QUESTION_BYTES) / A_RECORD_BYTES), 'whole records that fit 512 bytes');

    const edns = await dns.dig('asker', '+bufsize=1232', 'many');
    t.equal(edns.answers.length, HOLDERS, `all ${HOLDERS} within 1232 bytes`);
    t.notOk(edns.flags.includes('tc'));
    t.ok(edns.opt, 'OPT echoed');
    t.match(edns.raw, /udp: 1232/, 'our payload size advertised');

    const small = await dns.dig('asker', '+bufsize=600', '+ignore', 'many');
    t.ok(small.flags.includes('tc'), 'a 600-byte EDNS size is honoured');
    t.equal(small.answers.length, Math.floor((600 - QUESTION_BYTES - OPT_BYTES) / A_RECORD_BYTES));

    t.equal((await dns.dig('asker', '+noedns', '+tcp', 'many')).answers.length, HOLDERS, 'TCP carries all');
    t.equal((await dns.dig('asker', '+noedns', 'many')).answers.length, HOLDERS, 'dig retries over TCP after TC and gets all');
    const badvers = await dns.dig('asker', '+edns=1', '+noednsneg', 'h0');
    t.equal(badvers.status, 'BADVERS', 'EDNS version 1: BADVERS');
    t.match(badvers.raw, /EDNS: version: 0/, 'with the version we speak');
    const negotiated = await dns.dig('asker', '+edns=1', 'h0');
    t.match(negotiated.raw, /BADVERS, retrying with EDNS version 0/);
    t.equal(negotiated.answers.length, 1, 'dig falls back to version 0 and gets the answer');
  });

  await t.test('TCP: several queries on one connection, pipelined and split across writes', async (t) => {
    const asker = await dns.ns('asker');
    const h0 = await dns.ip('h0', 'n1');
    const got = (await nodeIn(
      asker,
      `const net = require('net'); const packet = require('dns-packet');
       const frame = (id, name, type) => packet.streamEncode({ type: 'query', id, flags: packet.RECURSION_DESIRED, questions: [{ type, name }] });
       const s = net.connect(53, '127.0.0.11');
       const replies = []; let buf = Buffer.alloc(0); let batch = 0;
       const send = (frames) => {
         const all = Buffer.concat(frames);
         // Cut in three writes that split a length prefix and a message.
         s.write(all.subarray(0, 1)); setTimeout(() => s.write(all.subarray(1, 40)), 20); setTimeout(() => s.write(all.subarray(40)), 40);
       };
       s.on('data', (d) => {
         buf = Buffer.concat([buf, d]);
         while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
           const m = packet.decode(buf.subarray(2, 2 + buf.readUInt16BE(0)));
           buf = buf.subarray(2 + buf.readUInt16BE(0));
           replies.push({ id: m.id, rcode: m.rcode, answers: m.answers.map((a) => a.data) });
           if (replies.length === 4 && batch === 0) { batch = 1; send([frame(5, 'h1', 'A')]); }
           if (replies.length === 5) { console.log(JSON.stringify(replies.sort((a, b) => a.id - b.id))); process.exit(0); }
         }
       });
       s.on('connect', () => send([frame(1, 'h0', 'A'), frame(2, ${JSON.stringify(reverse4(h0))}, 'PTR'), frame(3, 'example.test', 'A'), frame(4, 'many', 'A')]));
       setTimeout(() => { console.log(JSON.stringify(replies)); process.exit(1); }, 8000);`,
    )) as { id: number; rcode: string; answers: unknown[] }[];
    t.same(got.map((r) => [r.id, r.rcode]), [[1, 'NOERROR'], [2, 'NOERROR'], [3, 'NOERROR'], [4, 'NOERROR'], [5, 'NOERROR']], 'five answers on one connection');
    t.same(got[0]!.answers, [h0]);
    t.same(got[1]!.answers, ['h0.n1']);
    t.same(got[2]!.answers, ['192.0.2.1'], 'a forwarded name in the same stream');
    t.equal(got[3]!.answers.length, HOLDERS, 'no size limit over TCP');
    t.same(got[4]!.answers, [await dns.ip('h1', 'n1')], 'the connection stays open for more');
  });

  await t.test('malformed messages: FORMERR or silence, never a stall', async (t) => {
    const got = (await nodeIn(
      await dns.ns('asker'),
      `const dgram = require('dgram'); const packet = require('dns-packet');
       const valid = packet.encode({ type: 'query', id: 7, flags: packet.RECURSION_DESIRED, questions: [{ type: 'A', name: 'h0' }] });
       const twoQuestions = Buffer.from(valid); twoQuestions.writeUInt16BE(2, 4);
       const noQuestion = Buffer.from(valid); noQuestion.writeUInt16BE(0, 4);
       const badLabel = Buffer.from(valid); badLabel[12] = 0x41;
       const loop = Buffer.concat([valid.subarray(0, 12), Buffer.from([0xc0, 12, 0, 1, 0, 1])]);
       const response = Buffer.from(valid); response[2] |= 0x80;
       const cases = { twoQuestions, noQuestion, badLabel, loop, truncated: valid.subarray(0, 15), oversized: Buffer.concat([valid, Buffer.alloc(5000)]), response, tiny: Buffer.from([1, 2, 3]) };
       const out = {};
       const s = dgram.createSocket('udp4');
       (async () => {
         for (const [name, msg] of Object.entries(cases)) {
           out[name] = await new Promise((resolve) => {
             const timer = setTimeout(() => { s.removeAllListeners('message'); resolve('no reply'); }, 400);
             s.once('message', (m) => { clearTimeout(timer); resolve(['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'][m[3] & 15]); });
             s.send(msg, 53, '127.0.0.11');
           });
         }
         out.after = await new Promise((resolve) => { s.once('message', (m) => resolve(packet.decode(m).answers.length)); s.send(valid, 53, '127.0.0.11'); });
         console.log(JSON.stringify(out)); s.close();
       })();`,
    )) as Record<string, unknown>;
    t.same(got, {
      twoQuestions: 'FORMERR',
      noQuestion: 'FORMERR',
      badLabel: 'FORMERR',
      loop: 'FORMERR',
      truncated: 'FORMERR',
      oversized: 'FORMERR',
      response: 'no reply',
      tiny: 'no reply',
      after: 1,
    });
  });

  await t.test('a burst while the daemon is held up is answered, not dropped', async (t) => {
    // A daemon descheduled on a busy host, or busy with a large update, must not lose the
    // queries that arrive meanwhile: the kernel queues them in the listener's receive buffer,
    // and the default one (rmem_default, ~200 KB) holds only a few hundred small datagrams.
    const pid = dns.lab.daemonPid!;
    const fd = openSocketInNetns(await dns.ns('asker'), 'udp', '127.0.0.1', 0, { receiveBufferBytes: 8 << 20 });
    const client = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => client.bind({ fd }, resolve));
    const answered = new Set<number>();
    client.on('message', (m) => answered.add(m.readUInt16BE(0)));
    const query = packet.encode({ type: 'query', id: 0, flags: packet.RECURSION_DESIRED, questions: [{ type: 'A', name: 'h0' }] });
    process.kill(pid, 'SIGSTOP');
    try {
      for (let id = 0; id < BURST; id++) {
        query.writeUInt16BE(id, 0);
        await new Promise<void>((resolve, reject) => client.send(query, 53, '127.0.0.11', (err) => (err ? reject(err) : resolve())));
      }
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await eventually(async () => answered.size, (n) => n === BURST, 5000);
    client.close();
    t.equal(answered.size, BURST, `${BURST} queries sent while cnmd was stopped for 200 ms, all answered`);
  });

  t.ok(dns.lab.daemonPid !== undefined && process.kill(dns.lab.daemonPid, 0), 'cnmd still running');
});
