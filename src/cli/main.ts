/** cnm: the command line, shaped like docker's network, run, ps, exec, inspect and port. */
import readline from 'node:readline';
import { CnmError } from '../errors';
import { parseArgs, UsageError, type FlagSpec } from './args';
import { Client, ConnectionError, DaemonError, parseHost } from './client';
import type { Command, CommandContext, Io } from './command';
import { CNI_COMMANDS } from './commands/cni';
import { CONTAINER_COMMANDS } from './commands/container';
import { NETWORK_ALIASES, NETWORK_COMMANDS } from './commands/network';

const GLOBAL_FLAGS: FlagSpec[] = [
  { name: 'host', short: 'H', kind: 'string', help: 'Daemon socket to connect to (default: $CNM_HOST or unix:///run/cnm/cnm.sock)' },
  { name: 'help', kind: 'bool', help: 'Print usage' },
  { name: 'version', short: 'v', kind: 'bool', help: 'Print version information and quit' },
];

function topUsage(): string {
  const lines = ['', 'Usage:  cnm [OPTIONS] COMMAND', '', "Docker's container network model, on real namespaces: networks, sandboxes and their embedded DNS", '', 'Options:'];
  lines.push('  -H, --host string   Daemon socket to connect to (default: $CNM_HOST or unix:///run/cnm/cnm.sock)');
  lines.push('  -v, --version       Print version information and quit', '', 'Commands:');
  for (const [name, c] of Object.entries(CONTAINER_COMMANDS).sort()) lines.push(`  ${name.padEnd(10)}${c.summary}`);
  for (const [name, g] of Object.entries(GROUPS).sort()) lines.push(`  ${name.padEnd(10)}${g.summary}`);
  lines.push('', "Run 'cnm COMMAND --help' for more information on a command.", '');
  return lines.join('\n');
}

type CommandTable = Record<string, { run: Command; summary: string }>;

/** `cnm network ...` and `cnm cni ...`: commands under a group word, with the group's own help. */
const GROUPS: Record<string, { summary: string; commands: CommandTable; aliases: Record<string, string> }> = {
  network: { summary: 'Manage networks', commands: NETWORK_COMMANDS, aliases: NETWORK_ALIASES },
  cni: { summary: 'Let CNI runtimes (podman, ctr) use cnm networks', commands: CNI_COMMANDS, aliases: {} },
};

function groupUsage(group: string): string {
  const { summary, commands } = GROUPS[group]!;
  const lines = ['', `Usage:  cnm ${group} COMMAND`, '', summary, '', 'Commands:'];
  for (const [name, c] of Object.entries(commands)) lines.push(`  ${name.padEnd(12)}${c.summary}`);
  lines.push('', `Run 'cnm ${group} COMMAND --help' for more information on a command.`, '');
  return lines.join('\n');
}

const terminalIo: Io = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  confirm: (question) =>
    new Promise((resolve) => {
      if (!process.stdin.isTTY) {
        process.stdout.write(question);
        resolve(false);
        return;
      }
      const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
      rl.question(question, (answer) => {
        rl.close();
        resolve(/^y(es)?$/i.test(answer.trim()));
      });
    }),
};

/** Runs one cnm invocation and returns its exit code (the tests call this directly too). */
export async function runCli(argv: string[], io: Io = terminalIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  // Global flags come before the command.
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith('-')) i += argv[i] === '-H' || argv[i] === '--host' ? 2 : 1;
  let globals;
  try {
    globals = parseArgs(argv.slice(0, i), GLOBAL_FLAGS);
  } catch (err) {
    io.err(`${(err as Error).message}\nSee 'cnm --help'.\n`);
    return 125;
  }
  if (globals.flags.get('version')) {
    io.out('cnm version 0.1.0\n');
    return 0;
  }
  const rest = argv.slice(i);
  if (globals.flags.get('help') || rest.length === 0) {
    io.out(topUsage());
    return 0;
  }

  let command: Command | undefined;
  let path: string;
  let args: string[];
  let isRun = false;
  const group = GROUPS[rest[0]!];
  if (group) {
    const sub = group.aliases[rest[1] ?? ''] ?? rest[1];
    if (!sub || sub === '--help' || sub === 'help') {
      io.out(groupUsage(rest[0]!));
      return 0;
    }
    command = group.commands[sub]?.run;
    path = `cnm ${rest[0]} ${sub}`;
    args = rest.slice(2);
    if (!command) {
      io.err(`cnm: '${rest[1]}' is not a cnm ${rest[0]} command.\nSee 'cnm ${rest[0]} --help'\n`);
      return 1;
    }
  } else {
    command = CONTAINER_COMMANDS[rest[0]!]?.run;
    path = `cnm ${rest[0]}`;
    args = rest.slice(1);
    isRun = rest[0] === 'run';
    if (!command) {
      io.err(`cnm: '${rest[0]}' is not a cnm command.\nSee 'cnm --help'\n`);
      return 1;
    }
  }

  let client: Client;
  try {
    client = new Client(parseHost((globals.flags.get('host') as string | undefined) ?? env.CNM_HOST));
  } catch (err) {
    io.err(`${(err as Error).message}\n`);
    return 1;
  }
  const ctx: CommandContext = { client, io, path };
  try {
    return await command(args, ctx);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(err.message.includes('\nSee ') ? `${err.message}\n` : `${err.message}\nSee '${path} --help'.\n`);
      return 125;
    }
    // Errors found before talking to the daemon (bad -p, bad --subnet) are the client's, as in docker.
    if (err instanceof CnmError) {
      io.err(isRun ? `cnm: ${err.message}.\nSee '${path} --help'.\n` : `${err.message}\n`);
      return isRun ? 125 : 1;
    }
    if (err instanceof DaemonError) {
      io.err(isRun ? `cnm: Error response from daemon: ${err.message.replace(/\.?$/, '.')}\n` : `Error response from daemon: ${err.message}\n`);
      return isRun ? runExitCode(err.message) : 1;
    }
    if (err instanceof ConnectionError) {
      io.err(`${err.message}\n`);
      return 1;
    }
    io.err(`cnm: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

/** docker run's exit code for a daemon error: 127 a program not found, 126 one that cannot run, else 125. */
export function runExitCode(message: string): number {
  if (/executable file not found|no such file or directory/.test(message)) return 127;
  if (/permission denied|is a directory/.test(message)) return 126;
  return 125;
}

/** The status a shell reports for a program its closed pipe ended (128 + SIGPIPE), as for docker. */
const CLOSED_PIPE_STATUS = 141;

export function main(argv: string[]): void {
  // A reader that stops early (`cnm ps | head -1`) closes the pipe: end quietly, not with a stack.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      process.exit(CLOSED_PIPE_STATUS);
    });
  }
  runCli(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`cnm: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
