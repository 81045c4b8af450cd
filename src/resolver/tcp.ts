/**
 * DNS over TCP on one accepted connection (RFC 7766): 2-byte length-prefixed messages, several
 * per connection, pipelined (answers may leave out of order), reassembled across partial reads.
 * Memory per connection is bounded: a message longer than MAX_QUERY_BYTES closes the connection
 * before anything is buffered, and reading pauses while too many queries are in flight.
 */
import type { Socket } from 'node:net';
import type { QueryEngine, ReplySink } from './engine';
import { MAX_QUERY_BYTES } from './wire';

/** Queries of one connection waiting for an upstream before we stop reading more. */
const MAX_PENDING = 32;

export class TcpConnection implements ReplySink {
  readonly tcp = true;
  private partial: Buffer | null = null;
  private pending = 0;

  constructor(
    readonly sandboxId: string,
    private readonly socket: Socket,
    private readonly engine: QueryEngine,
    idleTimeoutMs: number,
  ) {
    socket.setNoDelay(true);
    socket.setTimeout(idleTimeoutMs, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    // Resets and aborted connections are normal client behaviour: nothing to report.
    socket.on('error', () => socket.destroy());
  }

  reply(response: Buffer): void {
    this.pending--;
    if (this.socket.destroyed) return;
    const frame = Buffer.allocUnsafe(2 + response.length);
    frame.writeUInt16BE(response.length, 0);
    response.copy(frame, 2);
    this.socket.write(frame);
    if (this.pending < MAX_PENDING && this.socket.isPaused()) this.socket.resume();
  }

  private receive(chunk: Buffer): void {
    let data = this.partial === null ? chunk : Buffer.concat([this.partial, chunk]);
    this.partial = null;
    while (data.length >= 2) {
      const length = data.readUInt16BE(0);
      if (length === 0 || length > MAX_QUERY_BYTES) return void this.socket.destroy();
      if (data.length < 2 + length) break;
      const msg = data.subarray(2, 2 + length);
      data = data.subarray(2 + length);
      this.pending++;
      if (!this.engine.handle(msg, this, null)) return void this.socket.destroy();
      if (this.socket.destroyed) return;
    }
    if (data.length > 0) this.partial = Buffer.from(data);
    if (this.pending >= MAX_PENDING) this.socket.pause();
  }
}
