/**
 * Two (or more) dockerd hosts sharing cnm's cluster store: an underlay namespace with a bridge and
 * a one-member etcd on OUTSIDE_ADDRESS, host namespaces joined to it (buildUnderlay), and on each
 * host a docker RuntimeLab (its cnmd with --docker-plugin, --cluster-store and
 * --cluster-advertise, its containerd, its private mounts) with a DockerHost. close() stops the
 * dockerds, then the labs, then etcd, then removes the namespaces: also after a failure.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createNetns, deleteNetns, isNetnsMount } from '../../src/os/native';
import { buildUnderlay, OUTSIDE_ADDRESS } from './cluster-lab';
import { DockerHost } from './docker';
import { EtcdMembers } from './etcd-members';
import { RuntimeLab } from './runtimes';

export interface DockerClusterHost {
  name: string;
  /** underlay address: --cluster-advertise */
  address: string;
  rl: RuntimeLab;
  docker: DockerHost;
}

export class DockerCluster {
  readonly id = `cnmd${crypto.randomBytes(3).toString('hex')}`;
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), `${this.id}-`));
  readonly underlay: string;
  readonly hosts: DockerClusterHost[] = [];
  etcd: EtcdMembers | undefined;
  private readonly namespaces: string[] = [];
  /** the RuntimeLabs' own teardowns, run by close() in order */
  private readonly teardowns: (() => unknown)[] = [];

  private constructor() {
    this.underlay = this.newNs('underlay');
  }

  static async start(count = 2): Promise<DockerCluster> {
    const c = new DockerCluster();
    try {
      const specs = await buildUnderlay(c.underlay, count, (name) => c.newNs(name));
      c.etcd = await EtcdMembers.start(c.dir, [{ name: 'e1', address: OUTSIDE_ADDRESS, nsPath: c.underlay }]);
      for (const h of specs) {
        const rl = await RuntimeLab.start(
          { teardown: (fn) => c.teardowns.push(fn) },
          { docker: true, hostNs: h.ns, daemonArgs: ['--cluster-store', c.etcd.url, '--cluster-advertise', h.address] },
        );
        const docker = await DockerHost.start(rl);
        c.hosts.push({ name: h.name, address: h.address, rl, docker });
      }
    } catch (err) {
      await c.close();
      throw err;
    }
    return c;
  }

  host(i: number): DockerClusterHost {
    const h = this.hosts[i];
    if (!h) throw new Error(`no host ${i}`);
    return h;
  }

  async close(): Promise<void> {
    for (const h of this.hosts) await h.docker.stop().catch(() => undefined);
    for (const fn of this.teardowns) await Promise.resolve(fn()).catch(() => undefined);
    await this.etcd?.close();
    for (const ns of this.namespaces.reverse()) if (isNetnsMount(ns)) deleteNetns(ns);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private newNs(name: string): string {
    const p = path.join(this.dir, `ns-${name}`);
    createNetns(p);
    this.namespaces.push(p);
    return p;
  }
}
