/**
 * Runs inside the external client's namespace (nsenter --net=…): COUNT sequential TCP connects to
 * IP:PORT, printing each handshake time in microseconds as one JSON array.
 */
import net from 'node:net';

async function main(): Promise<void> {
  const [ip, portText, countText] = process.argv.slice(2);
  if (!ip || !portText || !countText) throw new Error('usage: connect-client IP PORT COUNT');
  const port = Number(portText);
  const times: number[] = [];
  for (let i = 0; i < Number(countText); i++) {
    times.push(
      await new Promise<number>((resolve, reject) => {
        const started = process.hrtime.bigint();
        const socket = net.connect({ host: ip, port, timeout: 2000 });
        socket.once('connect', () => {
          resolve(Number(process.hrtime.bigint() - started) / 1000);
          socket.destroy();
        });
        socket.once('timeout', () => reject(new Error(`connect ${ip}:${port} timed out`)));
        socket.once('error', reject);
      }),
    );
  }
  process.stdout.write(JSON.stringify(times));
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
