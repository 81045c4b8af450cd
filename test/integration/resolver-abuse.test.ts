/**
 * Abusive DNS-over-TCP clients inside a sandbox cannot grow the daemon's memory or keep the
 * sandbox's other clients from being answered: one that pipelines and never reads, and one that
 * holds every connection slot by trickling a byte at a time.
 */
import '../helpers/private-netns';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import t, { type Test } from 'tap';
import { DNS_CLIENT_PRELUDE, nonReaderScript, slowClientsScript } from '../../bench/soak/abusers';
import { MAX_CONNECTION_QUEUE, MAX_SANDBOX_QUEUE } from '../../src/resolver/tcp';
import { sampleState } from '../unit/resolver-fixtures';
import { makeLab, nodeIn, type Lab } from './resolver-lab';

const CLIENT = `${DNS_CLIENT_PRELUDE}
/** One query on a new connection: the first address, or the error. */
async function ask(name) {
  try {
    const s = await connect();
    return await new Promise((resolve) => {
      let buf = Buffer.alloc(0);
      const timer = setTimeout(() => { s.destroy(); resolve('timeout'); }, 2000);
      s.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          clearTimeout(timer); s.destroy();
          resolve(packet.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))).answers.map((a) => a.data).join(',') || 'empty');
        }
      });
      s.on('error', () => {});
      s.on('close', () => { clearTimeout(timer); resolve('closed'); });
      s.write(frame(7, name));
    });
  } catch (err) { return 'connect: ' + err.code; }
}
`;

async function labWithState(t: Test, smallSocketBuffers = false): Promise<Lab> {
  const lab = makeLab(t);
  const state = sampleState();
  if (smallSocketBuffers) {
    // Kernel socket buffers of a few KB in this sandbox (its own namespace: the machine's stay as
    // they are), so what a client does not read piles up in the daemon within seconds.
    const ns = lab.ns('s1');
    execFileSync('nsenter', [`--net=${ns}`, 'sysctl', '-q', '-w', 'net.ipv4.tcp_rmem=4096 4096 4096', 'net.ipv4.tcp_wmem=4096 4096 4096']);
  }
  await lab.resolver.update({ ...state, sandboxes: state.sandboxes.map((s) => ({ ...s, nsPath: lab.ns(s.id) })) });
  return lab;
}

function gauge(text: string, name: string): number {
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}

t.test('a client that pipelines queries and never reads: bounded memory, the sandbox still answered', async (t) => {
  const lab = await labWithState(t, true);
  const rssBefore = process.memoryUsage().rss;
  // The resolver runs in this process: every reply it writes goes through Socket.write.
  let peakSocketQueue = 0;
  const write = net.Socket.prototype.write;
  net.Socket.prototype.write = function (this: net.Socket, ...args: unknown[]) {
    const result = (write as (...a: unknown[]) => boolean).apply(this, args);
    if (this.writableLength > peakSocketQueue) peakSocketQueue = this.writableLength;
    return result;
  } as typeof write;
  t.teardown(() => {
    net.Socket.prototype.write = write;
  });
  let peakQueued = 0;
  let peakRss = rssBefore;
  const sampler = setInterval(() => {
    const m = lab.resolver.metrics();
    peakQueued = Math.max(peakQueued, gauge(m, 'cnm_dns_tcp_queued_bytes') || 0);
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 100);
  const abuser = nodeIn(lab.ns('s1'), nonReaderScript(5, 'd1')) as Promise<{ sent: number }>;
  // Meanwhile another client of the same sandbox asks over TCP.
  await new Promise((r) => setTimeout(r, 1500));
  const good = (await nodeIn(lab.ns('s1'), CLIENT + `(async () => { const out = []; for (let i = 0; i < 5; i++) { out.push(await ask('d2')); await sleep(200); } console.log(JSON.stringify(out)); })();`)) as string[];
  const { sent } = await abuser;
  clearInterval(sampler);
  // Once the daemon stops reading, the abuser's writes stay in its kernel buffers: few get through.
  t.ok(sent >= 2000, `the abuser pipelined ${sent} queries`);
  t.same(good, Array(5).fill('10.50.0.3'), 'a well-behaved client of the same sandbox is answered');
  // Reading stops at 16 KiB queued; without back-pressure this grew by ~117 MB/s against cnmd.
  t.ok(peakSocketQueue <= 32 * 1024, `replies queued for one connection stayed bounded (peak ${peakSocketQueue} bytes)`);
  t.ok(peakSocketQueue <= MAX_CONNECTION_QUEUE);
  t.ok(peakQueued <= MAX_SANDBOX_QUEUE, `replies queued for the sandbox stayed bounded (peak ${peakQueued} bytes)`);
  const grewMb = (peakRss - rssBefore) / 2 ** 20;
  t.ok(grewMb < 100, `resolver process RSS grew ${grewMb.toFixed(1)} MB (unbounded buffering grew ~117 MB/s)`);
});

t.test('slow clients on every slot: a byte at a time does not keep them, a new client is still answered', async (t) => {
  const lab = await labWithState(t);
  const abuser = nodeIn(lab.ns('s1'), slowClientsScript(7)) as Promise<{ opened: number; lifetimes: number[] }>;
  await new Promise((r) => setTimeout(r, 1000));
  const good = (await nodeIn(lab.ns('s1'), CLIENT + `(async () => { const out = []; for (let i = 0; i < 15; i++) { out.push(await ask('d2')); await sleep(300); } console.log(JSON.stringify(out)); })();`)) as string[];
  const { opened, lifetimes } = await abuser;
  t.ok(opened >= 64, `${opened} slow connections opened`);
  t.same(good, Array(15).fill('10.50.0.3'), 'every query of the well-behaved client was answered');
  t.ok(lifetimes.length > 0 && Math.max(...lifetimes) < 3000 + 1500, `slow connections closed within the message deadline (longest ${Math.max(...lifetimes)} ms)`);
  const closed = lab.resolver.metrics();
  t.match(closed, /cnm_dns_tcp_closed_total\{reason="message_timeout"\} [1-9]/, 'closures counted');
});
