/**
 * What docker exec, attach, logs, events and top rest on, without a daemon: Docker's stream
 * framing, the sandbox log's records, event filters and the events a state change gives, ps
 * output as top's rows, -P's bindings, and the exit codes docker run gives a program that
 * cannot run.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { parsePs } from '../../src/api/container-io';
import { publishAll } from '../../src/api/containers';
import { eventMatches, makeEvent, parseEventTime } from '../../src/api/event-filter';
import { diffEvents } from '../../src/api/events';
import { frame, FrameDecoder, type StreamId } from '../../src/api/stream-frames';
import { runExitCode } from '../../src/cli/main';
import { HEADER, lastExitStatus, parseRecords, toLines } from '../../src/runtime/log-file';
import { checkProgram, checkWorkingDir, searchPath } from '../../src/runtime/program';

t.test('frame: 8-byte header, stream id, big-endian length', async (t) => {
  const f = frame(2, 'hello');
  t.same([...f.subarray(0, 8)], [2, 0, 0, 0, 0, 0, 0, 5]);
  t.equal(f.subarray(8).toString(), 'hello');
  t.same([...frame(1, Buffer.alloc(0))], [1, 0, 0, 0, 0, 0, 0, 0], 'an empty payload is a bare header');
  const big = frame(1, Buffer.alloc(70000, 97));
  t.equal(big.readUInt32BE(4), 70000);
});

t.test('FrameDecoder: frames split anywhere and joined in one chunk come out whole and in order', async (t) => {
  const parts: [StreamId, string][] = [
    [1, 'out one\n'],
    [2, 'err\n'],
    [1, ''],
    [1, 'ü€ multi-byte'],
  ];
  const wire = Buffer.concat(parts.map(([s, d]) => frame(s, d)));
  for (const step of [1, 3, 7, 8, 9, wire.length]) {
    const got: [StreamId, string][] = [];
    const dec = new FrameDecoder((s, p) => got.push([s, p.toString()]));
    for (let i = 0; i < wire.length; i += step) dec.push(wire.subarray(i, i + step));
    t.same(got, parts, `pieces of ${step} bytes`);
    t.equal(dec.held, 0);
  }
  const cut = new FrameDecoder(() => t.fail('no frame from half a frame'));
  cut.push(frame(1, 'abcdef').subarray(0, 10));
  t.equal(cut.held, 10, 'an unfinished frame is held, not delivered');
});

function record(stream: 1 | 2, timeNs: bigint, data: string): Buffer {
  const head = Buffer.alloc(HEADER);
  head[0] = stream;
  head.writeUInt32BE(Buffer.byteLength(data), 4);
  head.writeBigUInt64BE(timeNs, 8);
  return Buffer.concat([head, Buffer.from(data)]);
}

t.test('log records: whole records parsed, an incomplete tail left for later, lines split', async (t) => {
  const buf = Buffer.concat([record(1, 1n, 'a\nb\npart'), record(2, 2n, 'ial\n'), record(1, 3n, 'tail')]);
  const { records, used } = parseRecords(buf.subarray(0, buf.length - 2));
  t.equal(records.length, 2, 'the cut third record is not parsed');
  t.equal(used, buf.length - record(1, 3n, 'tail').length);
  t.same(
    toLines(parseRecords(buf).records).map((r) => [r.stream, Number(r.timeNs), r.data.toString()]),
    [
      [1, 1, 'a\n'],
      [1, 1, 'b\n'],
      [1, 1, 'part'],
      [2, 2, 'ial\n'],
      [1, 3, 'tail'],
    ],
  );
});

t.test('exit records: not output, and read back from the log\'s end unless older than the run', async (t) => {
  const exitRecord = (status: number, timeNs: bigint): Buffer => {
    const r = record(1, timeNs, 'xxxx');
    r[0] = 3;
    r.writeUInt32BE(status, HEADER);
    return r;
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnm-log-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'container.log');
  fs.writeFileSync(file, Buffer.concat([record(1, 1n, 'out\n'), exitRecord(7, 2_000_000n)]));
  t.same(parseRecords(fs.readFileSync(file)).records.map((r) => r.data.toString()), ['out\n'], 'the status is not shown as output');
  t.equal(lastExitStatus(file, 0), 7);
  t.equal(lastExitStatus(file, 3), undefined, 'a status logged before this run started is an earlier run\'s');
  fs.appendFileSync(file, record(1, 5_000_000n, 'more\n'));
  t.equal(lastExitStatus(file, 0), undefined, 'output after it: the last run wrote none (killed)');
  t.equal(lastExitStatus(path.join(dir, 'missing.log'), 0), undefined);
});

t.test('event filters follow Docker: keys ANDed, values ORed, actor filters only for their type', async (t) => {
  const start = makeEvent('container', 'start', 'c'.repeat(64), { name: 'web', tier: 'front' }, 1_700_000_000_123_456_789);
  const execStart = makeEvent('container', 'exec_start: sh -c true', 'c'.repeat(64), { name: 'web' }, 1);
  const connect = makeEvent('network', 'connect', 'n'.repeat(64), { name: 'net1', type: 'bridge', container: 'c'.repeat(64) }, 1);
  const f = (o: Record<string, string[]>): Map<string, string[]> => new Map(Object.entries(o));
  t.equal(start.time, 1_700_000_000);
  t.equal(start.status, 'start', 'container events carry the older status/id/from fields');
  t.equal(connect.status, undefined, 'network events do not');
  t.ok(eventMatches(start, f({})));
  t.ok(eventMatches(start, f({ type: ['network', 'container'] })));
  t.notOk(eventMatches(connect, f({ type: ['container'] })));
  t.ok(eventMatches(start, f({ container: ['web'] })), 'by name');
  t.ok(eventMatches(start, f({ container: ['ccc'] })), 'by id prefix');
  t.notOk(eventMatches(start, f({ container: ['we'] })), 'a name is matched whole');
  t.notOk(eventMatches(connect, f({ container: ['web'] })), 'container= shows container events only');
  t.ok(eventMatches(connect, f({ network: ['net1'] })));
  t.notOk(eventMatches(start, f({ network: ['net1'] })));
  t.ok(eventMatches(execStart, f({ event: ['exec_start'] })), 'an exec action matches by its part before the colon');
  t.ok(eventMatches(start, f({ event: ['die', 'start'] })));
  t.notOk(eventMatches(start, f({ event: ['start'], container: ['other'] })), 'keys are ANDed');
  t.ok(eventMatches(start, f({ label: ['tier=front'] })));
  t.ok(eventMatches(start, f({ label: ['tier'] })));
  t.notOk(eventMatches(start, f({ label: ['tier=back'] })));
  t.ok(eventMatches(start, f({ scope: ['local'] })));
});

t.test('parseEventTime: Unix seconds with a fraction, or RFC 3339', async (t) => {
  t.equal(parseEventTime('1700000000', 'since'), 1_700_000_000e9);
  t.equal(parseEventTime('1700000000.5', 'since'), 1_700_000_000.5e9);
  t.equal(parseEventTime('2023-11-14T22:13:20Z', 'since'), 1_700_000_000e9);
  t.equal(parseEventTime(null, 'since'), undefined);
  t.throws(() => parseEventTime('yesterday', 'since'), /invalid value for since: yesterday/);
});

t.test('diffEvents: a state change gives the events Docker sends, in its order', async (t) => {
  const empty = { networks: new Map(), sandboxes: new Map(), endpoints: new Set<string>() };
  const net = new Map([['N1', { name: 'net1', type: 'bridge' }]]);
  const created = { networks: net, sandboxes: new Map([['S1', { attrs: { name: 'web' }, running: false, startedAt: '0', exitCode: 0 }]]), endpoints: new Set(['N1 S1']) };
  const running = { ...created, sandboxes: new Map([['S1', { attrs: { name: 'web' }, running: true, startedAt: '1', exitCode: 0 }]]) };
  const exited = { ...created, sandboxes: new Map([['S1', { attrs: { name: 'web' }, running: false, startedAt: '1', exitCode: 3 }]]) };
  const actions = (a: typeof empty, b: typeof empty): string[] => diffEvents(a, b, 1).map((e) => `${e.Type} ${e.Action} ${e.Actor.Attributes.exitCode ?? e.Actor.Attributes.container ?? ''}`.trim());
  t.same(actions(empty, created), ['network create', 'container create', 'network connect S1']);
  t.same(actions(created, running), ['container start']);
  t.same(actions(running, exited), ['container die 3']);
  t.same(actions(exited, { ...empty, networks: net }), ['network disconnect S1', 'container destroy']);
  t.same(actions(running, { ...empty, networks: net }), ['container die 137', 'network disconnect S1', 'container destroy'], 'rm -f of a running sandbox');
  t.same(actions({ ...empty, networks: net }, empty), ['network destroy']);
  const restarted = { ...created, sandboxes: new Map([['S1', { attrs: { name: 'web' }, running: true, startedAt: '2', exitCode: 0 }]]) };
  t.same(actions(running, restarted), ['container die 0', 'container start'], 'a restart seen in one change is a die and a start');
  t.same(actions(running, running), [], 'nothing changed, nothing sent');
});

t.test('parsePs: the sandbox\'s rows, the command with its spaces kept', async (t) => {
  const out = ['UID          PID    PPID  C STIME TTY          TIME CMD', 'root           1       0  0 10:00 ?        00:00:01 /sbin/init', 'root         812     800  0 10:01 ?        00:00:00 sh -c while true; do sleep 1; done', 'root         813     812  0 10:01 ?        00:00:00 sleep 1', ''].join('\n');
  t.same(parsePs(out, new Set([812, 813])), {
    Titles: ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'],
    Processes: [
      ['root', '812', '800', '0', '10:01', '?', '00:00:00', 'sh -c while true; do sleep 1; done'],
      ['root', '813', '812', '0', '10:01', '?', '00:00:00', 'sleep 1'],
    ],
  });
  t.throws(() => parsePs('USER COMMAND\nroot x\n', new Set([1])), /Couldn't find PID field in ps output/);
});

t.test('publishAll (-P): exposed ports without a binding get an ephemeral one; a -p binding is kept', async (t) => {
  const bound = [{ HostIp: '', HostPort: '8080' }];
  t.same(publishAll(['80/tcp', '53/udp', '443'], { '80/tcp': bound }), {
    '80/tcp': bound,
    '53/udp': [{ HostIp: '', HostPort: '' }],
    '443/tcp': [{ HostIp: '', HostPort: '' }],
  });
});

t.test('checkProgram: found on PATH or by path, else runc\'s exec text (the docker CLI\'s 127 / 126)', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnm-prog-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'tool'), '#!/bin/sh\n', { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'plain'), 'data', { mode: 0o644 });
  t.equal(checkProgram('tool', '/', dir), path.join(dir, 'tool'));
  t.equal(checkProgram('./tool', dir, '/nonexistent'), path.join(dir, 'tool'), 'a relative path is taken from the working directory');
  const notFound = /unable to start container process: exec: "nosuchprog": executable file not found in \$PATH/;
  t.throws(() => checkProgram('nosuchprog', '/', dir), { kind: 'invalid', message: notFound });
  t.throws(() => checkProgram(path.join(dir, 'gone'), '/', dir), { message: /stat .*gone: no such file or directory/ });
  t.throws(() => checkProgram(path.join(dir, 'plain'), '/', dir), { message: /permission denied/ });
  t.throws(() => checkProgram(dir, '/', dir), { message: /permission denied/ }, 'a directory is not a program');
  t.equal(runExitCode('unable to start container process: exec: "x": executable file not found in $PATH'), 127);
  t.equal(runExitCode('exec: "/x": stat /x: no such file or directory'), 127);
  t.equal(runExitCode('exec: "/etc": permission denied'), 126);
  t.equal(runExitCode('network nosuch not found'), 125);
  t.equal(searchPath(['A=1', 'PATH=/opt/bin']), '/opt/bin', 'the sandbox\'s own PATH wins');
  t.throws(() => checkWorkingDir('tmp'), /the working directory 'tmp' is invalid, it needs to be an absolute path/);
  t.throws(() => checkWorkingDir(path.join(dir, 'nope')), /is not a directory on this host/);
  t.doesNotThrow(() => checkWorkingDir(dir));
});
