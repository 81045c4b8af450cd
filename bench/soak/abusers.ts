/**
 * Abusive DNS clients to run inside a sandbox (`node -e` under nsenter), as scripts: one that
 * pipelines queries over TCP and never reads, slow clients that trickle a byte per second on
 * every TCP slot, and a UDP flood of names that are forwarded. Each runs for `seconds` and prints
 * a JSON line with what it did. Used by bench/soak and by test/integration/resolver-abuse.test.ts,
 * which asserts around them.
 */
/** What every client script starts with: DNS over TCP framing to 127.0.0.11 (tests use it too). */
export const DNS_CLIENT_PRELUDE = `
const net = require('net'); const dgram = require('dgram');
const packet = require('dns-packet');
const frame = (id, name, type = 'A') => {
  const q = packet.encode({ type: 'query', id, flags: packet.RECURSION_DESIRED, questions: [{ type, name }] });
  const f = Buffer.alloc(2 + q.length); f.writeUInt16BE(q.length, 0); q.copy(f, 2); return f;
};
const connect = () => new Promise((resolve, reject) => { const s = net.connect(53, '127.0.0.11', () => resolve(s)); s.on('error', reject); });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
`;

export function nonReaderScript(seconds: number, name: string): string {
  return `${DNS_CLIENT_PRELUDE}
  (async () => {
    const batch = Buffer.concat(Array.from({ length: 500 }, (_, i) => frame(i, ${JSON.stringify(name)})));
    const sockets = await Promise.all([connect(), connect(), connect(), connect()]);
    const end = Date.now() + ${seconds * 1000}; let sent = 0;
    await Promise.all(sockets.map(async (s) => {
      s.pause(); s.on('error', () => {});
      while (Date.now() < end && !s.destroyed) { if (s.writableLength === 0) { s.write(batch); sent += 500; } else await sleep(5); }
      s.destroy();
    }));
    console.log(JSON.stringify({ sent })); process.exit(0);
  })();`;
}

export function slowClientsScript(seconds: number, connections = 64): string {
  return `${DNS_CLIENT_PRELUDE}
  (async () => {
    const end = Date.now() + ${seconds * 1000}; let opened = 0; const lifetimes = [];
    const loris = async () => {
      while (Date.now() < end) {
        let s; try { s = await connect(); } catch { await sleep(50); continue; }
        opened++; const t0 = Date.now(); s.on('error', () => {});
        const q = frame(1, 'slow'); let i = 0;
        const closed = new Promise((r) => s.on('close', r));
        while (!s.destroyed && Date.now() < end && i < q.length - 1) { s.write(q.subarray(i, i + 1)); i++; await Promise.race([closed, sleep(1000)]); }
        if (s.destroyed) lifetimes.push(Date.now() - t0); else s.destroy();
      }
    };
    await Promise.all(Array.from({ length: ${connections} }, loris));
    console.log(JSON.stringify({ opened, lifetimes })); process.exit(0);
  })();`;
}

export function udpForwardFloodScript(seconds: number, perTick = 50): string {
  return `${DNS_CLIENT_PRELUDE}
  const s = dgram.createSocket('udp4'); let sent = 0, servfail = 0;
  s.on('message', (m) => { if ((m[3] & 15) === 2) servfail++; });
  const end = Date.now() + ${seconds * 1000};
  const tick = setInterval(() => {
    if (Date.now() > end) { clearInterval(tick); setTimeout(() => { console.log(JSON.stringify({ sent, servfail })); process.exit(0); }, 300); return; }
    for (let i = 0; i < ${perTick}; i++) s.send(packet.encode({ type: 'query', id: sent & 0xffff, flags: packet.RECURSION_DESIRED, questions: [{ type: 'A', name: 'flood' + (sent++ % 100000) + '.soak.test' }] }), 53, '127.0.0.11');
  }, 20);`;
}
