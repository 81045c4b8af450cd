/**
 * A private lab for the resolver's integration tests: sandbox namespaces made here (never the
 * machine's), a Resolver fed with states, and real clients run inside the sandboxes (dig, glibc's
 * getent, dns2, raw sockets). Everything is removed in teardown, even when a test fails.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createNetns, deleteNetns } from '../../src/os/native';
import { Resolver, type ResolverOptions } from '../../src/resolver';

const run = promisify(execFile);

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface Lab {
  dir: string;
  resolver: Resolver;
  /** Namespace path of a sandbox, created on first use. */
  ns(sandbox: string): string;
  file(name: string, content: string): string;
}

export function makeLab(t: Teardown, options: ResolverOptions = {}): Lab {
  const dir = mkdtempSync(path.join(os.tmpdir(), `cnmt${process.pid}-`));
  const resolver = new Resolver({ resolvConfPath: path.join(dir, 'no-resolv.conf'), ...options });
  const made = new Map<string, string>();
  t.teardown(async () => {
    await resolver.close();
    for (const p of made.values()) deleteNetns(p);
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir,
    resolver,
    ns(sandbox) {
      let p = made.get(sandbox);
      if (p === undefined) {
        p = path.join(dir, `ns-${sandbox}`);
        createNetns(p);
        made.set(sandbox, p);
      }
      return p;
    },
    file(name, content) {
      const p = path.join(dir, name);
      writeFileSync(p, content);
      return p;
    },
  };
}

export interface DigResult {
  status: string;
  flags: string[];
  answers: { name: string; ttl: number; type: string; data: string }[];
  opt: boolean;
  raw: string;
}

/** dig @127.0.0.11 from inside a sandbox; one try, so a missing answer shows as a timeout. */
export async function dig(nsPath: string, ...args: string[]): Promise<DigResult> {
  const { stdout } = await run('nsenter', [`--net=${nsPath}`, 'dig', '@127.0.0.11', '+time=3', '+tries=1', ...args]).catch(
    (err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }),
  );
  const section = /;; ANSWER SECTION:\n([\s\S]*?)(?:\n\n|$)/.exec(stdout)?.[1] ?? '';
  return {
    status: /status: (\w+)/.exec(stdout)?.[1] ?? 'TIMEOUT',
    flags: (/;; flags: ([a-z ]*);/.exec(stdout)?.[1] ?? '').split(' ').filter(Boolean),
    answers: section
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((line) => {
        const [name, ttl, , type, ...data] = line.split(/\s+/);
        return { name: name!, ttl: Number(ttl), type: type!, data: data.join(' ') };
      }),
    opt: stdout.includes(';; OPT PSEUDOSECTION:'),
    raw: stdout,
  };
}

/** `getent` through glibc inside the sandbox, with a resolv.conf pointing at 127.0.0.11. */
export async function getent(lab: Lab, nsPath: string, database: string, key: string): Promise<string> {
  const conf = lab.file('resolv.conf', 'nameserver 127.0.0.11\noptions ndots:0 timeout:2 attempts:1\n');
  const script = `mount --bind ${conf} /etc/resolv.conf && exec getent ${database} ${key}`;
  const { stdout } = await run('nsenter', [`--net=${nsPath}`, 'unshare', '-m', 'sh', '-c', script]).catch(
    (err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }),
  );
  return stdout.trim();
}

/**
 * Runs a Node script inside the sandbox (for dns2 and raw TCP clients). The script sees
 * `require` for this repository's modules and prints its result as JSON.
 */
export async function nodeIn(nsPath: string, script: string): Promise<unknown> {
  const prelude = `module.paths.unshift(${JSON.stringify(path.resolve(__dirname, '..', '..', '..', 'node_modules'))});`;
  const { stdout } = await run('nsenter', [`--net=${nsPath}`, process.execPath, '-e', prelude + script], { timeout: 20_000 });
  return JSON.parse(stdout);
}
