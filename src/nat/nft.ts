/**
 * cnm's nftables binding: nft command text in, one atomic transaction out, through libnftables
 * in-process (src/native/nftables.c).
 *
 * Transport chosen by measurement (bench/nat/transport.ts): in-process libnftables ~0.2 ms for a
 * small batch, spawning `nft -f FILE` ~10 ms. `nft -j -f -` over Node's pipes does not work (the
 * JSON reader opens /dev/stdin by path and Node's stdio pipes are socketpairs).
 *
 * Callers build text only from validated values (./validate.ts): nft resolves any non-literal
 * address as a hostname.
 */
import { CnmError } from '../errors';
import { nftClose, nftOpen, nftRun, type NftContext } from '../os/native';

/** nft refused a batch; nothing of it was applied. */
export class NftError extends CnmError {
  constructor(
    /** nft's first complaint, e.g. `Could not process rule: No such file or directory`. */
    readonly reason: string,
    /** The line of the batch nft complained about (empty when nft named none). */
    readonly command: string,
    /** 1-based line number of `command` in the batch (0 when unknown). */
    readonly line: number,
    /** Everything nft printed on its error stream. */
    readonly detail: string,
  ) {
    super('internal', command ? `nftables: ${reason}: ${command.trim()}` : `nftables: ${reason}`);
    this.name = 'NftError';
  }
}

// "/proc/self/fd/21:4:50-54: Error: Service out of range" (see run_commands in nftables.c)
const ERROR_LINE = /^[^\n]*?:(\d+):\d+(?:-\d+)?: Error: (.*)$/m;

export function parseNftError(commands: string, errorText: string): NftError {
  const located = ERROR_LINE.exec(errorText);
  if (located) {
    const line = Number(located[1]);
    return new NftError(located[2]!.trim(), commands.split('\n')[line - 1] ?? '', line, errorText);
  }
  const reason = /Error: (.*)$/m.exec(errorText)?.[1]?.trim() ?? (errorText.trim() || 'nft failed without a message');
  return new NftError(reason, '', 0, errorText);
}

/** One libnftables context bound to a network namespace; runs are queued, one at a time. */
export class Nft {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(private readonly context: NftContext) {}

  /** A context for the namespace at nsPath (default: the daemon's own). */
  static open(nsPath?: string): Nft {
    return new Nft(nftOpen(nsPath ?? null));
  }

  /** Applies commands as one atomic batch; throws NftError with the offending line. */
  async run(commands: string): Promise<void> {
    await this.exec(commands, false);
  }

  /** Runs a `list ...` command and returns nft's JSON (`{ nftables: [...] }`). */
  async listJson(command: string): Promise<{ nftables: Record<string, unknown>[] }> {
    const output = await this.exec(command, true);
    return JSON.parse(output) as { nftables: Record<string, unknown>[] };
  }

  /** Frees the context once queued runs are done; later runs reject. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const release = (): void => nftClose(this.context);
    this.queue.then(release, release);
  }

  private exec(commands: string, json: boolean): Promise<string> {
    if (this.closed) return Promise.reject(new CnmError('internal', 'nftables context is closed'));
    const result = this.queue.then(async () => {
      const r = await nftRun(this.context, commands, json);
      if (!r.ok) throw parseNftError(commands, r.error);
      return r.output;
    });
    this.queue = result.catch(() => undefined);
    return result;
  }
}
