/** DNS over TCP with a raw client inside the sandbox: pipelining, partial reads, idle timeout. */
// Upstream stubs and the resolver's own upstream sockets live in this file's private namespace.
import '../helpers/private-netns';
import t from 'tap';
import { DNS_CLIENT_PRELUDE } from '../../bench/soak/abusers';
import { sampleState } from '../unit/resolver-fixtures';
import { makeLab, nodeIn } from './resolver-lab';

/** Client-side helpers shared by the scripts below (run inside the sandbox). */
const CLIENT = `${DNS_CLIENT_PRELUDE}
function collect(socket, count) {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0); const out = [];
    const done = () => resolve(out);
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const m = packet.decode(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        out.push({ id: m.id, rcode: m.rcode, answers: m.answers.map((a) => a.data) });
        buf = buf.subarray(2 + buf.readUInt16BE(0));
        if (out.length === count) { socket.end(); done(); }
      }
    });
    socket.on('close', done);
  });
}
`;

t.test('pipelined queries in one write and one query split across writes', async (t) => {
  const lab = makeLab(t);
  const state = sampleState();
  await lab.resolver.update({ ...state, sandboxes: state.sandboxes.map((s) => ({ ...s, nsPath: lab.ns(s.id) })) });
  const result = (await nodeIn(
    lab.ns('s1'),
    CLIENT +
      `(async () => {
        const s = await connect();
        const replies = collect(s, 5);
        s.write(Buffer.concat([frame(1, 'd1'), frame(2, 'd2'), frame(3, '2.0.50.10.in-addr.arpa', 'PTR')]));
        const split = frame(4, 'aaaaaaaaaaaa');
        for (let i = 0; i < split.length; i++) { s.write(split.subarray(i, i + 1)); await sleep(2); }
        s.write(frame(5, 'd1', 'AAAA'));
        const out = await replies;
        console.log(JSON.stringify(out.sort((a, b) => a.id - b.id)));
      })();`,
  )) as unknown[];
  t.same(result, [
    { id: 1, rcode: 'NOERROR', answers: ['10.50.0.2'] },
    { id: 2, rcode: 'NOERROR', answers: ['10.50.0.3'] },
    { id: 3, rcode: 'NOERROR', answers: ['d1.dnet'] },
    { id: 4, rcode: 'NOERROR', answers: ['10.50.0.2'] },
    { id: 5, rcode: 'NOERROR', answers: [] },
  ]);
});

t.test('idle connections are closed; bad frames close the connection', async (t) => {
  const lab = makeLab(t, { tcpIdleTimeoutMs: 300 });
  const state = sampleState();
  await lab.resolver.update({ ...state, sandboxes: state.sandboxes.map((s) => ({ ...s, nsPath: lab.ns(s.id) })) });
  const result = (await nodeIn(
    lab.ns('s1'),
    CLIENT +
      `(async () => {
        const closedAfter = async (write) => {
          const s = await connect(); const t0 = Date.now();
          const closed = new Promise((r) => s.on('close', () => r(Date.now() - t0)));
          if (write) s.write(write);
          return closed;
        };
        const idle = await closedAfter(null);
        const zero = await closedAfter(Buffer.from([0, 0]));
        const huge = await closedAfter(Buffer.from([0xff, 0xff, 1, 2, 3]));
        const response = Buffer.from(frame(9, 'd1')); response[4] |= 0x80;
        const qr = await closedAfter(response);
        console.log(JSON.stringify({ idle, zero, huge, qr }));
      })();`,
  )) as Record<string, number>;
  t.ok(result.idle! >= 250 && result.idle! < 2000, `idle close after ${result.idle} ms`);
  for (const key of ['zero', 'huge', 'qr']) t.ok(result[key]! < 250, `${key}: closed at once (${result[key]} ms)`);
});
