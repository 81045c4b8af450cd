/**
 * An attached program's input and output over a hijacked connection (cnm run without -d, cnm
 * exec): the terminal in raw mode with a tty, Docker's multiplexed frames split back into stdout
 * and stderr without one, stdin sent on and half-closed at its end.
 */
import { spawnSync } from 'node:child_process';
import type net from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { FrameDecoder } from '../api/stream-frames';
import type { Io } from './command';

export interface SessionOptions {
  tty: boolean;
  /** send our stdin to the program */
  stdin: boolean;
  io: Io;
  /** the terminal's size changed (and once at the start), with a tty on a terminal */
  onResize?: (rows: number, cols: number) => void;
}

/** Resolves when the daemon ends the stream (the program's output is done). */
export function runSession(socket: net.Socket, opts: SessionOptions): Promise<void> {
  const decoders = [new StringDecoder('utf8'), new StringDecoder('utf8')];
  const emit = (stream: number, data: Buffer): void => (stream === 2 ? opts.io.err(decoders[1]!.write(data)) : opts.io.out(decoders[0]!.write(data)));
  const frames = new FrameDecoder((stream, payload) => emit(stream, payload));
  socket.on('data', (d: Buffer) => (opts.tty ? emit(1, d) : frames.push(d)));

  const stdin = process.stdin;
  const raw = opts.tty && opts.stdin && stdin.isTTY;
  // libuv's raw mode keeps output processing (ONLCR): the program's terminal already turned "\n"
  // into "\r\n", so ours must pass bytes through untouched, as the docker CLI's raw mode does.
  const setOutputProcessing = (on: boolean): void => void spawnSync('stty', [on ? 'opost' : '-opost'], { stdio: ['inherit', 'ignore', 'ignore'] });
  if (raw) {
    stdin.setRawMode(true);
    setOutputProcessing(false);
  }
  const onInput = (d: Buffer): void => void socket.write(d);
  const onInputEnd = (): void => void socket.end();
  if (opts.stdin) {
    stdin.on('data', onInput);
    stdin.once('end', onInputEnd);
    stdin.resume();
  }
  const resize = (): void => {
    if (process.stdout.rows && process.stdout.columns) opts.onResize?.(process.stdout.rows, process.stdout.columns);
  };
  const watchSize = opts.tty && process.stdout.isTTY && opts.onResize;
  if (watchSize) {
    resize();
    process.stdout.on('resize', resize);
  }
  return new Promise((resolve) => {
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      if (raw) {
        stdin.setRawMode(false);
        setOutputProcessing(true);
      }
      if (opts.stdin) {
        stdin.off('data', onInput);
        stdin.off('end', onInputEnd);
        stdin.pause();
      }
      if (watchSize) process.stdout.off('resize', resize);
      opts.io.out(decoders[0]!.end());
      opts.io.err(decoders[1]!.end());
      socket.destroy();
      resolve();
    };
    socket.once('end', finish);
    socket.once('close', finish);
    socket.once('error', finish);
  });
}
