/**
 * GET /events: what happened to containers (sandboxes) and networks, as Docker reports it, kept
 * in a bounded in-memory ring for `since`, and streamed as JSON lines to those who follow.
 * Changes of state are found by comparing the controller's state after each committed change
 * with the one before (so every path that changes it reports, auto-removal and prune included);
 * actions that change no state (kill, exec) are published by their handlers.
 */
import type { ChangeListener } from '../controller/context';
import type { SandboxRecord } from '../controller/model';
import type { State } from '../controller/state';
import { EVENT_FILTERS, eventMatches, makeEvent, parseTimeRange, type EngineEvent } from './event-filter';
import { parseFilters } from './filters';
import type { Router } from './http';

const KEEP = 1024;

type Listener = (ev: EngineEvent) => void;

interface Seen {
  networks: Map<string, { name: string; type: string }>;
  sandboxes: Map<string, { attrs: Record<string, string>; running: boolean; startedAt: string; exitCode: number }>;
  /** "networkId sandboxId" */
  endpoints: Set<string>;
}

function sandboxAttrs(s: SandboxRecord): Record<string, string> {
  return { ...s.labels, name: s.name };
}

function observe(state: State): Seen {
  const seen: Seen = { networks: new Map(), sandboxes: new Map(), endpoints: new Set() };
  for (const n of state.networks.values()) seen.networks.set(n.id, { name: n.name, type: n.driver });
  for (const s of state.sandboxes.values()) {
    seen.sandboxes.set(s.id, { attrs: sandboxAttrs(s), running: s.process.status === 'running', startedAt: s.process.startedAt, exitCode: s.process.exitCode });
    for (const ep of state.endpointsOfSandbox(s.id)) seen.endpoints.add(`${ep.networkId} ${s.id}`);
  }
  return seen;
}

/** The events between two observations, in the order Docker reports them. */
export function diffEvents(before: Seen, after: Seen, timeNano: number): EngineEvent[] {
  const out: EngineEvent[] = [];
  const net = (action: string, id: string, n: { name: string; type: string }, extra: Record<string, string> = {}): void =>
    void out.push(makeEvent('network', action, id, { name: n.name, type: n.type, ...extra }, timeNano));
  const box = (action: string, id: string, attrs: Record<string, string>, extra: Record<string, string> = {}): void =>
    void out.push(makeEvent('container', action, id, { ...attrs, ...extra }, timeNano));
  for (const [id, n] of after.networks) if (!before.networks.has(id)) net('create', id, n);
  for (const [id, s] of after.sandboxes) if (!before.sandboxes.has(id)) box('create', id, s.attrs);
  for (const key of after.endpoints) {
    if (before.endpoints.has(key)) continue;
    const [nid, sid] = key.split(' ') as [string, string];
    const n = after.networks.get(nid);
    if (n) net('connect', nid, n, { container: sid });
  }
  for (const [id, s] of after.sandboxes) {
    const was = before.sandboxes.get(id);
    const restarted = was && was.startedAt !== s.startedAt;
    if (was?.running && (!s.running || restarted)) box('die', id, s.attrs, { exitCode: String(s.exitCode) });
    if (s.running && (!was?.running || restarted)) box('start', id, s.attrs);
  }
  for (const [id, s] of before.sandboxes) if (s.running && !after.sandboxes.has(id)) box('die', id, s.attrs, { exitCode: '137' });
  for (const key of before.endpoints) {
    if (after.endpoints.has(key)) continue;
    const [nid, sid] = key.split(' ') as [string, string];
    const n = before.networks.get(nid);
    if (n) net('disconnect', nid, n, { container: sid });
  }
  for (const [id, s] of before.sandboxes) if (!after.sandboxes.has(id)) box('destroy', id, s.attrs);
  for (const [id, n] of before.networks) if (!after.networks.has(id)) net('destroy', id, n);
  return out;
}

export function nowNano(): number {
  return Date.now() * 1e6 + Number(process.hrtime.bigint() % 1_000_000n);
}

export class EventLog implements ChangeListener {
  readonly name = 'events';
  private readonly ring: EngineEvent[] = [];
  private readonly listeners = new Set<Listener>();
  private seen: Seen;

  constructor(state: State) {
    this.seen = observe(state);
  }

  stateChanged(state: State): Promise<void> {
    const now = observe(state);
    for (const ev of diffEvents(this.seen, now, nowNano())) this.publish(ev);
    this.seen = now;
    return Promise.resolve();
  }

  publish(ev: EngineEvent): void {
    this.ring.push(ev);
    if (this.ring.length > KEEP) this.ring.shift();
    for (const l of [...this.listeners]) l(ev);
  }

  /** An action on a container that changes no state (kill, exec_create...). */
  container(action: string, s: SandboxRecord, extra: Record<string, string> = {}): void {
    this.publish(makeEvent('container', action, s.id, { ...sandboxAttrs(s), ...extra }, nowNano()));
  }

  since(timeNano: number): EngineEvent[] {
    return this.ring.filter((e) => e.timeNano >= timeNano);
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export function addEventRoutes(router: Router, events: EventLog): void {
  router.add('GET', '/events', (req) => {
    const filters = parseFilters(req.query.get('filters'), EVENT_FILTERS);
    const { since, until } = parseTimeRange(req.query);
    return {
      status: 200,
      contentType: 'application/json',
      stream: async (out) => {
        const send = (ev: EngineEvent): void => {
          if (eventMatches(ev, filters)) out.write(`${JSON.stringify(ev)}\n`);
        };
        const past = since !== undefined ? events.since(since).filter((e) => until === undefined || e.timeNano <= until) : [];
        past.forEach(send);
        if (until !== undefined && until <= Date.now() * 1e6) return;
        let stop!: () => void;
        const ended = new Promise<void>((resolve) => (stop = resolve));
        const unsubscribe = events.subscribe((ev) => (until !== undefined && ev.timeNano > until ? stop() : send(ev)));
        const timer = until !== undefined ? setTimeout(stop, until / 1e6 - Date.now()) : undefined;
        await Promise.race([ended, out.closed]);
        clearTimeout(timer);
        unsubscribe();
      },
    };
  });
}
