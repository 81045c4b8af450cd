/**
 * The real docker clients the API tests drive cnmd with: the newer client on the machine's PATH
 * and Debian's docker.io 20.10 client, which scripts/docker-clients.sh extracts from the package
 * (no daemon is installed or started). Each runs against a lab's socket with a private config
 * directory, so nothing of the machine's docker setup is read or written.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { CliResult, Lab } from '../helpers/lab';

const REPO = path.resolve(__dirname, '..', '..', '..');

export interface DockerClient {
  /** "docker 20.10.24+dfsg1" */
  label: string;
  bin: string;
  /** 20 for 20.10, 28 for 28.2... */
  major: number;
}

function describe(bin: string): DockerClient {
  const version = /^Docker version ([^,\s]+)/.exec(execFileSync(bin, ['--version'], { encoding: 'utf8' }))?.[1];
  if (!version) throw new Error(`${bin} --version does not say which docker it is`);
  return { label: `docker ${version}`, bin, major: Number(version.split('.')[0]) };
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir || '.', name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Debian's 20.10 client (fetched on first use) and the machine's newer one, if it has one. */
export function dockerClients(): { clients: DockerClient[]; missing: string[] } {
  const clients: DockerClient[] = [];
  const missing: string[] = [];
  const debian = execFileSync(path.join(REPO, 'scripts', 'docker-clients.sh'), { encoding: 'utf8' }).trim();
  clients.push(describe(debian));
  const newer = onPath('docker');
  if (newer) clients.push(describe(newer));
  else missing.push('no newer docker client on PATH (the machine image provides /usr/local/bin/docker)');
  return { clients, missing };
}

/** Runs the client against the lab's daemon, with its own config directory. */
export function docker(client: DockerClient, lab: Lab, args: string[], opts: { host?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const config = path.join(lab.dir, 'docker-config');
  fs.mkdirSync(config, { recursive: true });
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('DOCKER_')) env[k] = v;
  env.DOCKER_HOST = opts.host ?? `unix://${lab.socket}`;
  env.DOCKER_CONFIG = config;
  return new Promise((resolve) => {
    execFile(client.bin, args, { env, timeout: opts.timeoutMs ?? 30000, encoding: 'utf8' }, (err, out, errText) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, out, err: errText });
    });
  });
}

/** Ids aside: 64- and 12-hex ids become <id> and <short>, so output compares by form. */
export function withoutIds(text: string): string {
  return text.replace(/\b[0-9a-f]{64}\b/g, '<id>').replace(/\b[0-9a-f]{12}\b/g, '<short>');
}

/**
 * What a refused request must leave as it was: networks, sandboxes and their endpoints, and the
 * host namespace's links and IPv4 addresses (link names and flags, without the operational state,
 * which moves on its own while a new bridge comes up).
 */
export async function stateSnapshot(lab: Lab): Promise<string> {
  const networks = (await lab.api('GET', '/networks')).body;
  const sandboxes = ((await lab.api('GET', '/containers/json?all=1')).body as { Id: string; NetworkSettings: unknown }[]).map((c) => [c.Id, c.NetworkSettings]);
  const links = (await lab.inHost(['ip', '-o', 'link'])).replace(/ state \S+/g, '');
  const addresses = await lab.inHost(['ip', '-o', '-4', 'addr']);
  return JSON.stringify({ networks, sandboxes, links, addresses });
}
