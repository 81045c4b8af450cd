/**
 * The NAT daemon tests' lab: a Lab (a real cnmd in a private host namespace) plus an external
 * client namespace that reaches the host over a veth link, servers in sandboxes started with
 * `cnm run -d`, and TCP/UDP probes run from any namespace.
 *
 *   client  eth0 198.51.100.2 2001:db8:51::2 ── <lab>h 198.51.100.1 (+ .3) 2001:db8:51::1  lab host (cnmd)
 *           default routes via the host                                                    └ bridges ── sandboxes
 *
 * The client also serves TCP :80 and UDP :5000 (answering `client:PORT PEER`), so a sandbox's
 * way out, and the source address the outside sees, can be probed.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import path from 'node:path';
import { openSocketInNetns } from '../../src/os/native';
import { Lab, sleep, type CliResult } from '../helpers/lab';

export const HOST_IP = '198.51.100.1';
/** A second address of the host on the client link (for bindings to one address). */
export const HOST_IP_2 = '198.51.100.3';
export const CLIENT_IP = '198.51.100.2';
export const HOST_IP6 = '2001:db8:51::1';
export const CLIENT_IP6 = '2001:db8:51::2';

const SERVER = path.join(__dirname, 'nat-daemon-server.js');

export interface Teardown {
  teardown(fn: () => unknown): void;
}

export class NatDaemonLab {
  private constructor(
    readonly lab: Lab,
    /** the external client's namespace */
    readonly client: string,
  ) {}

  static async start(t: Teardown): Promise<NatDaemonLab> {
    const lab = await Lab.start();
    const closers: { close(): void }[] = [];
    t.teardown(async () => {
      for (const c of closers) c.close();
      await lab.close();
    });
    const client = lab.newNamespace('client');
    const hostEnd = `${lab.id}h`;
    // nodad: a tentative address would lose the first IPv6 packets.
    await lab.inHost(['ip', 'link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', client]);
    for (const cmd of [
      ['addr', 'add', `${HOST_IP}/24`, 'dev', hostEnd],
      ['addr', 'add', `${HOST_IP_2}/24`, 'dev', hostEnd],
      ['addr', 'add', `${HOST_IP6}/64`, 'dev', hostEnd, 'nodad'],
      ['link', 'set', hostEnd, 'up'],
    ]) {
      await lab.inHost(['ip', ...cmd]);
    }
    for (const cmd of [
      ['addr', 'add', `${CLIENT_IP}/24`, 'dev', 'eth0'],
      ['addr', 'add', `${CLIENT_IP6}/64`, 'dev', 'eth0', 'nodad'],
      ['link', 'set', 'eth0', 'up'],
      ['link', 'set', 'lo', 'up'],
      ['route', 'add', 'default', 'via', HOST_IP],
      ['-6', 'route', 'add', 'default', 'via', HOST_IP6],
    ]) {
      await lab.inNs(client, ['ip', ...cmd]);
    }
    const tcp = net.createServer((c) => {
      c.on('error', () => undefined);
      c.end(`client:80 ${plain(c.remoteAddress)}\n`);
    });
    tcp.listen({ fd: openSocketInNetns(client, 'tcp', '::', 80) });
    const udp = dgram.createSocket('udp6');
    udp.on('message', (_m, peer) => udp.send(`client:5000 ${plain(peer.address)}\n`, peer.port, peer.address));
    udp.bind({ fd: openSocketInNetns(client, 'udp', '::', 5000) });
    closers.push(tcp, udp);
    return new NatDaemonLab(lab, client);
  }

  get host(): string {
    return this.lab.hostNs;
  }

  cli(...argv: string[]): Promise<CliResult> {
    return this.lab.cli(...argv);
  }

  /**
   * `cnm run -d --name NAME FLAGS... node nat-daemon-server.js NAME SPECS...`; on success waits
   * until every port answers inside the sandbox.
   */
  async runServer(name: string, flags: string[], specs: string[] = ['tcp:80', 'udp:5000']): Promise<CliResult> {
    const r = await this.lab.cli('run', '-d', '--name', name, ...flags, process.execPath, SERVER, name, ...specs);
    if (r.code !== 0) return r;
    const ns = await this.lab.sandboxNs(name);
    await Promise.all(
      specs.map(async (spec) => {
        const [proto, port] = spec.split(':');
        const expected = `${name}:${port} 127.0.0.1`;
        const probe = (): Promise<string> => (proto === 'tcp' ? this.tcp(ns, '127.0.0.1', Number(port), 1) : this.udp(ns, '127.0.0.1', Number(port), 1));
        await this.until(probe, (answer) => answer === expected, 5000, `${name} serving ${spec}`);
      }),
    );
    return r;
  }

  /** TCP connect from a namespace: the server's line, or timeout / refused / error. */
  tcp(fromNs: string, ip: string, port: number, timeoutS = 2): Promise<string> {
    return this.probe(fromNs, `exec 3<>/dev/tcp/${ip}/${port} && head -n 1 <&3`, timeoutS);
  }

  /** One UDP datagram from a namespace: the answer, or timeout / refused / error. */
  udp(fromNs: string, ip: string, port: number, timeoutS = 2): Promise<string> {
    // One read(2) of the whole datagram: bash's `read` takes a byte and loses the rest.
    return this.probe(fromNs, `exec 3<>/dev/udp/${ip}/${port} && printf 'x\\n' >&3 && dd bs=512 count=1 <&3 2>/dev/null`, timeoutS);
  }

  /** `nft list ruleset` in the lab host namespace. */
  ruleset(): Promise<string> {
    return this.lab.inHost(['nft', 'list', 'ruleset']);
  }

  /** Polls fn until ok(result) or the deadline; returns the last result and how long it took. */
  async until(fn: () => Promise<string>, ok: (r: string) => boolean, timeoutMs: number, what: string): Promise<{ result: string; ms: number }> {
    const start = Date.now();
    for (;;) {
      const result = await fn();
      if (ok(result)) return { result, ms: Date.now() - start };
      if (Date.now() - start > timeoutMs) throw new Error(`${what}: still ${JSON.stringify(result)} after ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  private async probe(fromNs: string, script: string, timeoutS: number): Promise<string> {
    const out = await this.lab.inNs(fromNs, ['timeout', String(timeoutS), 'bash', '-c', script], { allowFail: true });
    const text = out.trim();
    if (/refused/.test(text)) return 'refused';
    if (/unreachable/i.test(text)) return 'unreachable';
    return text === '' ? 'timeout' : text.split('\n')[0]!;
  }
}

function plain(address: string | undefined): string {
  return (address ?? '?').replace(/^::ffff:/, '');
}
