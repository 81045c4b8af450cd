/**
 * cnm-dns: a drop-in aardvark-dns for Podman's netavark backend, with cnm's resolver behind it.
 * The command line is aardvark-dns 1.4's (netavark runs `aardvark-dns --config DIR -p 53 run`
 * and waits for it to exit): bin/cnm-dns turns `run` into `serve` in a new session (aardvark's
 * fork + setsid) and returns once the server reports on fd 3 that it answers; every other
 * subcommand is handled here.
 */
import fs from 'node:fs';
import path from 'node:path';

const VERSION = '1.4.0';
const USAGE = `cnm-dns ${VERSION} (cnm's resolver behind aardvark-dns's interface)

USAGE:
    cnm-dns [OPTIONS] <SUBCOMMAND>

OPTIONS:
    -c, --config <CONFIG>          Path to configuration directory
    -f, --filter-search-domain <D> Search domain of the containers (default .dns.podman)
    -p, --port <PORT>              Port to listen on at each gateway (default 5533)
    -h, --help                     Print help information
    -V, --version                  Print version information

SUBCOMMANDS:
    run        Fork the server for the configuration directory; return once it serves
    serve      Run the server in the foreground (what run forks)
    version    Display info about cnm-dns
    install    Put cnm-dns first in Podman's helper_binaries_dir [--dir DIR]
    remove     Undo install [--dir DIR]
    help       Print this message

ENVIRONMENT:
    CNM_DNS_METRICS  Unix socket for GET /metrics (default: <config dir>/../cnm-dns.sock; "off": none)
    CNM_DNS_LOG      File the server appends its log to (default: none)
`;

/** Where `install` links aardvark-dns: first in Podman's default helper_binaries_dir. */
export const DEFAULT_INSTALL_DIR = '/usr/local/libexec/podman';

interface Args {
  config: string | null;
  port: number;
  searchDomain: string;
  command: string | null;
  dir: string;
}

class UsageError extends Error {}

export function parseArgs(argv: readonly string[]): Args {
  const args: Args = { config: null, port: 5533, searchDomain: '.dns.podman', command: null, dir: DEFAULT_INSTALL_DIR };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const [flag, inline] = arg.startsWith('--') && eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value (see cnm-dns --help)`);
      return v;
    };
    switch (flag) {
      case '-c':
      case '--config':
        args.config = value();
        break;
      case '-p':
      case '--port': {
        const text = value();
        const port = Number(text);
        if (!/^\d+$/.test(text) || port < 1 || port > 65535) throw new UsageError(`invalid port ${JSON.stringify(text)}: expected a number from 1 to 65535`);
        args.port = port;
        break;
      }
      case '-f':
      case '--filter-search-domain':
        args.searchDomain = value();
        break;
      case '--dir':
        args.dir = value();
        break;
      case '-h':
      case '--help':
        args.command = 'help';
        break;
      case '-V':
      case '--version':
        args.command ??= '--version';
        break;
      default:
        if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg} (see cnm-dns --help)`);
        if (args.command !== null && args.command !== '--version') throw new UsageError(`unexpected argument ${JSON.stringify(arg)} after ${args.command}`);
        args.command = arg;
    }
  }
  return args;
}

export async function main(argv: string[]): Promise<void> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`Error: ${err.message}\n`);
    // Under `run` (bin/cnm-dns) stderr goes to the log: say it where run listens too.
    if (process.env.CNM_DNS_READY_FD) fs.writeSync(Number(process.env.CNM_DNS_READY_FD), `error: ${err.message}\n`);
    process.exit(2);
  }
  switch (args.command) {
    case 'help':
    case null:
      process.stdout.write(USAGE);
      process.exit(args.command === null ? 2 : 0);
      break;
    case '--version':
      process.stdout.write(`cnm-dns ${VERSION}\n`);
      break;
    case 'version':
      process.stdout.write(`${JSON.stringify({ version: VERSION, implementation: 'cnm-dns', node: process.version }, null, 2)}\n`);
      break;
    case 'run':
      // bin/cnm-dns forks `serve` itself (one Node start-up less for netavark to wait for).
      process.stderr.write('Error: run is started through bin/cnm-dns (it forks the server): use that, or serve for the foreground\n');
      process.exit(2);
      break;
    case 'serve':
      return serveCommand(requireConfig(args), args);
    case 'install':
    case 'remove': {
      const { install, remove } = await import('./install');
      try {
        const message = args.command === 'install' ? install(args.dir, path.resolve(__dirname, '..', '..', '..', 'bin', 'cnm-dns')) : remove(args.dir);
        process.stdout.write(`${message}\n`);
      } catch (err) {
        process.stderr.write(`Error: ${(err as Error).message}\n`);
        process.exit(1);
      }
      break;
    }
    default:
      process.stderr.write(`Error: unknown subcommand ${JSON.stringify(args.command)} (run, serve, version, install, remove)\n`);
      process.exit(2);
  }
}

function requireConfig(args: Args): string {
  if (args.config === null) {
    process.stderr.write('Error: --config DIR is required: the directory netavark writes network files to\n');
    process.exit(2);
  }
  return path.resolve(args.config);
}

async function serveCommand(configDir: string, args: Args): Promise<void> {
  const { serve } = await import('./serve');
  const readyFd = process.env.CNM_DNS_READY_FD ? Number(process.env.CNM_DNS_READY_FD) : null;
  delete process.env.CNM_DNS_READY_FD;
  const metricsEnv = process.env.CNM_DNS_METRICS;
  const metricsSocket = metricsEnv === 'off' ? null : (metricsEnv ?? path.join(path.dirname(configDir), 'cnm-dns.sock'));
  const log = (message: string): void => void process.stderr.write(`${new Date().toISOString()} cnm-dns[${process.pid}] ${message}\n`);
  await serve({ configDir, port: args.port, searchDomain: args.searchDomain, metricsSocket, readyFd, log });
}

// bin/cnm-dns runs this file directly.
if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`Error: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
