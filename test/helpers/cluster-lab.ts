/**
 * A multi-host lab: an underlay namespace with a bridge (and 10.99.0.1 on it, standing for "the
 * outside"), N "host" namespaces joined to it by veth (10.99.0.11, .12, ...), a three-member
 * etcd cluster with one member on each of the first three hosts, and a cnmd on every host (a
 * `Lab` started in that host's namespace) pointed at the cluster with its own advertise address.
 * close() removes everything: daemons and sandboxes, etcd processes, namespaces, files.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Rtnl } from '../../src/os/links';
import { createNetns, deleteNetns, isNetnsMount } from '../../src/os/native';
import { EtcdMembers } from './etcd-members';
import { inNs, Lab, until, type InNsOptions } from './lab';


export const OUTSIDE_ADDRESS = '10.99.0.1';

export interface ClusterHost {
  name: string;
  ns: string;
  /** underlay address: --cluster-advertise, and the etcd member's address on the first three */
  address: string;
  lab: Lab;
}

export interface ClusterLabOptions {
  /** number of hosts (default 3; the etcd cluster always has three members) */
  hosts?: number;
  /** extra cnmd flags for every host */
  daemonArgs?: string[];
}

export class ClusterLab {
  readonly id = `cnmt${crypto.randomBytes(3).toString('hex')}`;
  readonly dir: string;
  readonly underlay: string;
  readonly hosts: ClusterHost[] = [];
  etcd: EtcdMembers | undefined;
  private readonly namespaces: string[] = [];
  private readonly hostSpecs: Omit<ClusterHost, 'lab'>[] = [];

  private constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `${this.id}-cluster-`));
    this.underlay = this.newNs('underlay');
  }

  static async start(opts: ClusterLabOptions = {}): Promise<ClusterLab> {
    const lab = new ClusterLab();
    try {
      await lab.build(opts.hosts ?? 3);
      lab.etcd = await EtcdMembers.start(
        lab.dir,
        lab.hostSpecs.slice(0, 3).map((h) => ({ name: h.name, address: h.address, nsPath: h.ns })),
      );
      const url = lab.etcd.url;
      const labs = await Promise.all(
        lab.hostSpecs.map((h) => Lab.start({ hostNs: h.ns, daemonArgs: ['--cluster-store', url, '--cluster-advertise', h.address, ...(opts.daemonArgs ?? [])] })),
      );
      lab.hostSpecs.forEach((h, i) => lab.hosts.push({ ...h, lab: labs[i]! }));
    } catch (err) {
      await lab.close();
      throw err;
    }
    return lab;
  }

  /** Host i's daemon lab (0-based). */
  host(i: number): Lab {
    const h = this.hosts[i];
    if (!h) throw new Error(`no host ${i}`);
    return h.lab;
  }

  /** Runs a command in a namespace of the lab. */
  inNs(nsPath: string, cmd: string[], opts: InNsOptions = {}): Promise<string> {
    return inNs(nsPath, cmd, opts);
  }

  async close(): Promise<void> {
    for (const h of this.hosts) await h.lab.close().catch(() => undefined);
    await this.etcd?.close();
    for (const ns of this.namespaces.reverse()) if (isNetnsMount(ns)) deleteNetns(ns);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** The underlay bridge and each host's veth to it, addressed and up. */
  private async build(count: number): Promise<void> {
    this.hostSpecs.push(...(await buildUnderlay(this.underlay, count, (name) => this.newNs(name))));
  }

  private newNs(name: string): string {
    const p = path.join(this.dir, `ns-${name}`);
    createNetns(p);
    this.namespaces.push(p);
    return p;
  }
}

export { until };

/**
 * In `underlay`: a bridge with OUTSIDE_ADDRESS, and `count` host namespaces (made by newNs) joined
 * to it by veth, eth0 = 10.99.0.11, .12, ... in each.
 */
export async function buildUnderlay(underlay: string, count: number, newNs: (name: string) => string): Promise<{ name: string; ns: string; address: string }[]> {
  await Rtnl.in(underlay, async (nl) => {
    const bridge = await nl.createBridge('underlay');
    await nl.addAddress(bridge.index, `${OUTSIDE_ADDRESS}/24`);
    await nl.setUp(bridge.index);
    await nl.setUp((await nl.requireLink('lo')).index);
  });
  const hosts: { name: string; ns: string; address: string }[] = [];
  for (let i = 0; i < count; i++) {
    const name = `h${i + 1}`;
    const ns = newNs(name);
    const address = `10.99.0.${11 + i}`;
    await Rtnl.in(underlay, async (nl) => {
      await nl.createVeth(`to-${name}`, { name: 'eth0', nsPath: ns });
      const port = await nl.requireLink(`to-${name}`);
      await nl.setMaster(port.index, (await nl.requireLink('underlay')).index);
      await nl.setUp(port.index);
    });
    await Rtnl.in(ns, async (nl) => {
      const eth0 = await nl.requireLink('eth0');
      await nl.addAddress(eth0.index, `${address}/24`);
      await nl.setUp(eth0.index);
      await nl.setUp((await nl.requireLink('lo')).index);
    });
    hosts.push({ name, ns, address });
  }
  return hosts;
}

/** A sandbox's address (without prefix length) on a network, from the daemon that runs it. */
export async function sandboxIp(lab: Lab, sandbox: string, network: string): Promise<string> {
  const r = await lab.api('GET', `/containers/${sandbox}/json`);
  if (r.status !== 200) throw new Error(`no sandbox ${sandbox}: ${r.raw}`);
  const nets = (r.body as { NetworkSettings: { Networks: Record<string, { IPAddress: string }> } }).NetworkSettings.Networks;
  const ip = nets[network]?.IPAddress;
  if (!ip) throw new Error(`sandbox ${sandbox} has no address on ${network}: ${JSON.stringify(nets)}`);
  return ip;
}

/** A name looked up from inside a sandbox at the embedded DNS (127.0.0.11): the A records. */
export async function digFrom(lab: Lab, sandbox: string, name: string): Promise<string[]> {
  const ns = await lab.sandboxNs(sandbox);
  const stdout = await inNs(ns, ['dig', '+short', '+tries=1', '+time=1', '@127.0.0.11', name, 'A'], { timeoutMs: 5000 });
  return stdout.split('\n').filter((l) => /^\d+\.\d+\.\d+\.\d+$/.test(l)).sort();
}
