/**
 * The resolver's fuzz test for as long as one likes (root):
 *   node --expose-gc dist/bench/dns/fuzz.js [--minutes 10] [--seed N]
 * Rounds of 100,000 hostile UDP messages and 200 hostile TCP connections from inside a sandbox,
 * each followed by real queries that must still be answered; prints one line per round and the
 * seed of a failing round (replay it with --seed).
 */
// The stub and the resolver's upstream sockets live in a private namespace, not on the machine's loopback.
import '../../test/helpers/private-netns';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createNetns, deleteNetns } from '../../src/os/native';
import { Resolver } from '../../src/resolver';
import { fuzzClientScript } from './fuzz-packets';
import { startUpstreamStub } from './upstream-stub';

const run = promisify(execFile);

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

async function digShort(nsPath: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('nsenter', [`--net=${nsPath}`, 'dig', '@127.0.0.11', '+time=2', '+tries=1', '+short', ...args]);
  return stdout.trim();
}

async function main(): Promise<void> {
  const minutes = option('minutes', 10);
  let seed = option('seed', Date.now() % 1e9);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cnm-fuzz-'));
  const ns = path.join(dir, 'sandbox');
  createNetns(ns);
  const stub = await startUpstreamStub('127.0.0.1', 0);
  const resolver = new Resolver({ upstreams: [`127.0.0.1:${stub.port}`], tryTimeoutMs: 300, resolvConfPath: path.join(dir, 'resolv.conf') });
  let failed = false;
  try {
    await resolver.update({
      networks: [
        {
          id: 'n',
          name: 'fuzznet',
          internal: false,
          endpoints: [
            { sandboxId: 's', names: ['d1', 'web'], ipv4: '10.50.0.2', ipv6: 'fd00::2' },
            ...Array.from({ length: 40 }, (_, i) => ({ sandboxId: `m${i}`, names: [`m${i}`, 'many'], ipv4: `10.50.1.${i}` })),
          ],
        },
      ],
      sandboxes: [{ id: 's', nsPath: ns, networkIds: ['n'] }],
    });
    const deadline = Date.now() + minutes * 60_000;
    for (let round = 1; Date.now() < deadline; round++, seed++) {
      const { stdout } = await run('nsenter', [`--net=${ns}`, process.execPath, '-e', fuzzClientScript(seed, 100_000, 200)], { maxBuffer: 1 << 20 });
      const local = await digShort(ns, 'd1');
      const tcp = await digShort(ns, '+tcp', 'd1');
      const forwarded = await digShort(ns, 'x.fwd.example');
      const ok = local === '10.50.0.2' && tcp === '10.50.0.2' && forwarded === '192.0.2.1';
      (globalThis as { gc?: () => void }).gc?.();
      const memory = process.memoryUsage();
      const mb = (bytes: number): string => (bytes / 1048576).toFixed(1);
      console.log(`round ${round} seed ${seed} ${stdout.trim()} rss ${mb(memory.rss)} MB heap ${mb(memory.heapUsed)} MB external ${mb(memory.external)} MB ${ok ? 'ok' : 'FAILED'}`);
      if (!ok) {
        failed = true;
        console.log(`replay: node dist/bench/dns/fuzz.js --seed ${seed} --minutes 0.1`);
        break;
      }
    }
  } finally {
    await resolver.close();
    await stub.close();
    deleteNetns(ns);
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(failed ? 1 : 0);
}

void main();
