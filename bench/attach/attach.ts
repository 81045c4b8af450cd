/**
 * bench/attach: how long sandboxes take to attach and detach on one bridge network, and whether
 * that grows with their number. Inside a private lab namespace with a real cnmd:
 *   create+connect (POST /containers/create on the network), connect to a second network,
 *   disconnect from it, disconnect+remove (DELETE /containers/{id}), for N sandboxes (default 200).
 * Prints median and p99 per operation, the time of sandbox N against sandbox 10, and the daemon's
 * RSS with N sandboxes.
 *
 *   node dist/bench/attach/attach.js [N]
 */
import fs from 'node:fs';
import { Lab } from '../../test/helpers/lab';

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function rssKb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

/** The node process under nsenter. */
function daemonNodePid(lab: Lab): number {
  const nsenterPid = lab.daemonPid!;
  const children = fs.readFileSync(`/proc/${nsenterPid}/task/${nsenterPid}/children`, 'utf8').trim();
  return children ? Number(children.split(' ')[0]) : nsenterPid;
}

async function timed(fn: () => Promise<{ status: number; raw: string }>, expect: number): Promise<number> {
  const start = process.hrtime.bigint();
  const r = await fn();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== expect) throw new Error(`unexpected ${r.status}: ${r.raw}`);
  return ms;
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 200);
  const lab = await Lab.start();
  try {
    await lab.api('POST', '/networks/create', { Name: 'bench', IPAM: { Config: [{ Subnet: '10.60.0.0/20' }] } });
    await lab.api('POST', '/networks/create', { Name: 'second', IPAM: { Config: [{ Subnet: '10.61.0.0/20' }] } });
    const times: Record<string, number[]> = { 'create+connect': [], connect: [], disconnect: [], 'disconnect+remove': [] };
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      let id = '';
      times['create+connect']!.push(
        await timed(async () => {
          const r = await lab.api('POST', `/containers/create?name=b${i}`, { Cmd: ['true'], HostConfig: { NetworkMode: 'bench' } });
          id = (r.body as { Id: string }).Id;
          return r;
        }, 201),
      );
      ids.push(id);
      times.connect!.push(await timed(() => lab.api('POST', '/networks/second/connect', { Container: id }), 200));
    }
    const rss = rssKb(daemonNodePid(lab));
    for (const id of ids) times.disconnect!.push(await timed(() => lab.api('POST', '/networks/second/disconnect', { Container: id }), 200));
    for (const id of ids) times['disconnect+remove']!.push(await timed(() => lab.api('DELETE', `/containers/${id}`), 204));

    console.log(`bench/attach: ${n} sandboxes on one bridge network (ms)`);
    console.log(['operation'.padEnd(20), 'median'.padStart(8), 'p99'.padStart(8), '#10'.padStart(8), `#${n}`.padStart(8)].join(''));
    for (const [op, list] of Object.entries(times)) {
      const sorted = [...list].sort((a, b) => a - b);
      const row = [op.padEnd(20), quantile(sorted, 0.5).toFixed(1).padStart(8), quantile(sorted, 0.99).toFixed(1).padStart(8), list[9]!.toFixed(1).padStart(8), list[n - 1]!.toFixed(1).padStart(8)];
      console.log(row.join(''));
    }
    // Growth: the median of the last 20 against the median of the first 20.
    const c = times['create+connect']!;
    const med = (xs: number[]): number => quantile([...xs].sort((a, b) => a - b), 0.5);
    console.log(`create+connect, last 20 vs first 20 (median): ${(med(c.slice(-20)) / med(c.slice(0, 20))).toFixed(2)}x`);
    console.log(`daemon RSS with ${n} sandboxes: ${(rss / 1024).toFixed(1)} MiB`);
  } finally {
    await lab.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
