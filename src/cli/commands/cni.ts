/** cnm cni install: lets CNI runtimes (podman's CNI backend, ctr run --cni) join a cnm network. */
import fs from 'node:fs';
import path from 'node:path';
import type { NetworkResource } from '../../api/engine-types';
import { BUILT_PLUGIN, conflist, conflistFileName, DEFAULT_BIN_DIR, DEFAULT_CONF_DIR, PLUGIN_NAME } from '../../cni/conflist';
import { str, UsageError, type FlagSpec } from '../args';
import { needArgs, withHelp, type Command } from '../command';

const INSTALL_FLAGS: FlagSpec[] = [
  { name: 'conf-dir', kind: 'string', help: `Where runtimes read CNI network configurations (default "${DEFAULT_CONF_DIR}")` },
  { name: 'bin-dir', kind: 'string', help: `Where runtimes find CNI plugins (default "${DEFAULT_BIN_DIR}")` },
];

/** Writes through a temporary file and a rename, so a runtime never reads half a file. */
function writeAtomically(file: string, write: (tmp: string) => void, mode: number): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    write(tmp);
    fs.chmodSync(tmp, mode);
    fs.renameSync(tmp, file);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

const install: Command = async (argv, ctx) => {
  const usage = 'cnm cni install [OPTIONS] NETWORK';
  const p = withHelp(argv, ctx, usage, "Write a CNI configuration for a cnm network and install the cnm plugin, so podman (CNI backend) and ctr run --cni can use the network", INSTALL_FLAGS);
  if (!p) return 0;
  needArgs(ctx, p.args, 1, 1, usage);
  const socket = ctx.client.socketPath;
  if (!socket) throw new UsageError('the CNI plugin reaches cnmd on its Unix socket: use -H unix://PATH (or none for /run/cnm/cnm.sock)');
  const network = await ctx.client.request<NetworkResource>('GET', `/networks/${encodeURIComponent(p.args[0]!)}`);
  if (network.Driver !== 'bridge' || ['bridge', 'host', 'none'].includes(network.Name)) {
    throw new UsageError(`network ${network.Name} cannot be used by CNI runtimes: the cnm plugin attaches containers to user-defined bridge networks (cnm network create NAME)`);
  }
  if (!fs.existsSync(BUILT_PLUGIN)) throw new UsageError(`the plugin is not built (${BUILT_PLUGIN}): run npm run build`);
  const confDir = str(p, 'conf-dir') ?? DEFAULT_CONF_DIR;
  const binDir = str(p, 'bin-dir') ?? DEFAULT_BIN_DIR;
  fs.mkdirSync(confDir, { recursive: true });
  fs.mkdirSync(binDir, { recursive: true });
  const plugin = path.join(binDir, PLUGIN_NAME);
  writeAtomically(plugin, (tmp) => fs.copyFileSync(BUILT_PLUGIN, tmp), 0o755);
  const conf = path.join(confDir, conflistFileName(network.Name));
  writeAtomically(conf, (tmp) => fs.writeFileSync(tmp, `${JSON.stringify(conflist(network.Name, socket), null, 2)}\n`), 0o644);
  ctx.io.out(`${conf}\n${plugin}\n`);
  return 0;
};

export const CNI_COMMANDS: Record<string, { run: Command; summary: string }> = {
  install: { run: install, summary: 'Let CNI runtimes (podman, ctr) use a cnm network' },
};
