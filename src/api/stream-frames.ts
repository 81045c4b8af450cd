/**
 * Docker's multiplexed stream (attach, logs, exec without a tty): frames of an 8-byte header
 * (stream 0 stdin, 1 stdout, 2 stderr; three zero bytes; payload length u32 big-endian) and the
 * payload. With a tty the stream is raw bytes instead.
 */
export type StreamId = 0 | 1 | 2;

export function frame(stream: StreamId, data: Buffer | string): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data) : data;
  const out = Buffer.allocUnsafe(8 + payload.length);
  out[0] = stream;
  out[1] = out[2] = out[3] = 0;
  out.writeUInt32BE(payload.length, 4);
  payload.copy(out, 8);
  return out;
}

/** Splits a multiplexed stream back into (stream, payload) as bytes arrive in any pieces. */
export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly onFrame: (stream: StreamId, payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let at = 0;
    while (this.pending.length - at >= 8) {
      const len = this.pending.readUInt32BE(at + 4);
      if (this.pending.length - at - 8 < len) break;
      const id = this.pending[at]!;
      this.onFrame((id <= 2 ? id : 1) as StreamId, this.pending.subarray(at + 8, at + 8 + len));
      at += 8 + len;
    }
    this.pending = this.pending.subarray(at);
  }

  /** Bytes of an unfinished frame still held (a stream that ends mid-frame was cut). */
  get held(): number {
    return this.pending.length;
  }
}
