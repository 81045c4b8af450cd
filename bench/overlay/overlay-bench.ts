/**
 * bench/overlay: overlay networks across hosts, in the cluster lab (three host namespaces on an
 * underlay, a three-member etcd, a cnmd each). For N sandboxes (default 60), spread round-robin
 * over the hosts:
 *   attach      POST /containers/create on the overlay network (address reserved cluster-wide in
 *               etcd, VXLAN data plane, veth, endpoint published), then its start
 *   visible     from the end of the attach until the new sandbox's name first resolves at
 *               127.0.0.11 inside a sandbox on the next host (queried over UDP every ~1 ms from
 *               a socket inside that sandbox's namespace)
 *   connect     POST /networks/{ov}/connect of a running sandbox to a second overlay network
 *   disconnect  POST /networks/{ov}/disconnect
 * Prints median and p99 of each, in ms, and how the attach time of the last sandboxes compares
 * with the first ones'.
 *
 *   node dist/bench/overlay/overlay-bench.js [N]
 */
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import { openSocketInNetns } from '../../src/os/native';
import { ClusterLab, until } from '../../test/helpers/cluster-lab';
import type { Lab } from '../../test/helpers/lab';

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function summary(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  return `median ${quantile(sorted, 0.5).toFixed(1)} ms, p99 ${quantile(sorted, 0.99).toFixed(1)} ms (n=${sorted.length})`;
}

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

async function timed(fn: () => Promise<{ status: number; raw: string }>, expect: number): Promise<number> {
  const start = nowMs();
  const r = await fn();
  const ms = nowMs() - start;
  if (r.status !== expect) throw new Error(`unexpected ${r.status}: ${r.raw}`);
  return ms;
}

/** Asks 127.0.0.11 inside a sandbox's namespace for `name` until an A answer comes; resolves with the time it came. */
class Prober {
  private readonly socket: dgram.Socket;
  private waiting: { name: string; resolve: (at: number) => void } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private id = 1;

  constructor(nsPath: string) {
    const fd = openSocketInNetns(nsPath, 'udp', '127.0.0.1', 0);
    this.socket = dgram.createSocket('udp4');
    this.socket.bind({ fd });
    this.socket.on('message', (msg) => {
      const answer = dnsPacket.decode(msg);
      const w = this.waiting;
      if (!w || !answer.answers?.some((a) => a.type === 'A' && a.name === w.name)) return;
      this.waiting = undefined;
      clearInterval(this.timer);
      w.resolve(nowMs());
    });
  }

  waitFor(name: string, timeoutMs = 10000): Promise<number> {
    return new Promise((resolve, reject) => {
      const deadline = nowMs() + timeoutMs;
      this.waiting = { name, resolve };
      const ask = (): void => {
        if (nowMs() > deadline) {
          clearInterval(this.timer);
          this.waiting = undefined;
          reject(new Error(`${name} did not resolve within ${timeoutMs} ms`));
          return;
        }
        const query = dnsPacket.encode({ type: 'query', id: this.id++ & 0xffff, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] });
        this.socket.send(query, 53, '127.0.0.11');
      };
      ask();
      this.timer = setInterval(ask, 1);
    });
  }

  close(): void {
    clearInterval(this.timer);
    this.socket.close();
  }
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 60);
  const lab = await ClusterLab.start();
  try {
    const hosts: Lab[] = [lab.host(0), lab.host(1), lab.host(2)];
    for (const [net, subnet] of [['ov', '10.150.0.0/20'], ['ov2', '10.151.0.0/20']] as const) {
      const r = await hosts[0]!.api('POST', '/networks/create', { Name: net, Driver: 'overlay', Attachable: true, IPAM: { Config: [{ Subnet: subnet }] } });
      if (r.status !== 201) throw new Error(r.raw);
    }
    for (const h of hosts) await until(async () => (await h.api('GET', '/networks/ov2')).status === 200, 5000, 'networks everywhere');
    // One probe sandbox per host, to ask its embedded DNS.
    const probes: Prober[] = [];
    for (const [i, h] of hosts.entries()) {
      const r = await h.api('POST', `/containers/create?name=probe${i}`, { Cmd: ['sleep', 'infinity'], HostConfig: { NetworkMode: 'ov' } });
      if (r.status !== 201) throw new Error(r.raw);
      await h.api('POST', `/containers/probe${i}/start`);
      probes.push(new Prober(await h.sandboxNs(`probe${i}`)));
    }
    const times: Record<'attach' | 'visible' | 'connect' | 'disconnect', number[]> = { attach: [], visible: [], connect: [], disconnect: [] };
    for (let i = 0; i < n; i++) {
      const h = hosts[i % 3]!;
      const name = `s${i}`;
      const probe = probes[(i + 1) % 3]!;
      const start = nowMs();
      const create = await h.api('POST', `/containers/create?name=${name}`, { Cmd: ['sleep', 'infinity'], HostConfig: { NetworkMode: 'ov' } });
      if (create.status !== 201) throw new Error(create.raw);
      const attached = nowMs();
      times.attach.push(attached - start);
      times.visible.push((await probe.waitFor(name)) - attached);
      const started = await h.api('POST', `/containers/${name}/start`);
      if (started.status !== 204) throw new Error(started.raw);
      times.connect.push(await timed(() => h.api('POST', '/networks/ov2/connect', { Container: name }), 200));
    }
    for (let i = 0; i < n; i++) times.disconnect.push(await timed(() => hosts[i % 3]!.api('POST', '/networks/ov2/disconnect', { Container: `s${i}` }), 200));
    for (const p of probes) p.close();
    console.log(`overlay across 3 hosts, ${n} sandboxes`);
    console.log(`attach (create on the overlay):        ${summary(times.attach)}`);
    console.log(`name visible on another host after:    ${summary(times.visible)}`);
    console.log(`connect to a second overlay network:   ${summary(times.connect)}`);
    console.log(`disconnect from it:                    ${summary(times.disconnect)}`);
    const median = (v: number[]): number => quantile([...v].sort((a, b) => a - b), 0.5);
    const k = Math.min(20, Math.floor(n / 2));
    console.log(`attach, last ${k} vs first ${k} (median): ${(median(times.attach.slice(-k)) / median(times.attach.slice(0, k))).toFixed(2)}x`);
  } finally {
    await lab.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
