/** Presentation details clients print verbatim: Go's time format. */
import t from 'tap';
import { goTime, statusText } from '../../src/api/present';
import type { SandboxRecord } from '../../src/controller/model';

t.test("goTime: Go's RFC 3339 with nanoseconds, trailing zeros trimmed", async (t) => {
  t.equal(goTime('2026-11-27T17:59:37.064260546Z'), '2026-11-27T17:59:37.064260546Z');
  t.equal(goTime('2026-11-27T19:37:05.655407900Z'), '2026-11-27T19:37:05.6554079Z', 'as time.Time marshals it');
  t.equal(goTime('2026-11-27T19:37:05.100000000Z'), '2026-11-27T19:37:05.1Z');
  t.equal(goTime('2026-11-27T19:37:05.000000000Z'), '2026-11-27T19:37:05Z', 'no fraction at all');
  t.equal(goTime('0001-01-01T00:00:00Z'), '0001-01-01T00:00:00Z', "Go's zero time stays");
});

t.test("statusText: docker ps's Status, with go-units' truncation", async (t) => {
  const started = Date.parse('2026-01-01T00:00:00Z');
  const sandbox = (status: 'running' | 'exited', exitCode = 0) =>
    ({ mode: { kind: 'own' }, process: { status, pid: 1, startTicks: 0, exitCode, startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:00:00Z' } }) as unknown as SandboxRecord;
  const running = { running: true, pid: 1 };
  t.equal(statusText(sandbox('running'), running, started + 59_600), 'Up 59 seconds', 'not rounded up to a minute');
  t.equal(statusText(sandbox('running'), running, started + 119_900), 'Up About a minute');
  t.equal(statusText(sandbox('exited', 3), { running: false, pid: 0 }, started + 150_000), 'Exited (3) 2 minutes ago');
});

t.test('a namespace a runtime attached is up since the attach: no cnm program ever started there', async (t) => {
  const attached = { mode: { kind: 'attached', nsPath: '/run/netns/x' }, created: '2026-01-01T00:00:00Z', process: { status: 'created', pid: 0, exitCode: 0, startedAt: '0001-01-01T00:00:00Z', finishedAt: '0001-01-01T00:00:00Z' } } as unknown as SandboxRecord;
  const handoff = { ...attached, mode: { kind: 'handoff' } } as unknown as SandboxRecord;
  const now = Date.parse('2026-01-01T00:03:00Z');
  t.equal(statusText(attached, { running: false, pid: 0 }, now), 'Up 3 minutes', 'CNI attachment');
  t.equal(statusText(handoff, { running: false, pid: 0 }, now), 'Up 3 minutes', 'Docker hand-off');
});
