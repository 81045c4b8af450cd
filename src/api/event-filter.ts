/**
 * Docker's events (GET /events) and its filters, as plain data: what an event looks like on the
 * wire, and whether a filter set lets it through (daemon/events/filter.go's rules: keys are
 * ANDed, a key's values ORed; container and network match the actor's id, an id prefix or the
 * name, for events of that type only; event matches the action or, for "exec_start: sh -c ...",
 * its part before the colon).
 */
import { invalid } from '../errors';
import type { Filters } from './filters';
import { labelMatch } from './filters';

export type EventType = 'container' | 'network';

export interface EngineEvent {
  status?: string;
  id?: string;
  from?: string;
  Type: EventType;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
}

export const EVENT_FILTERS = ['container', 'event', 'label', 'network', 'scope', 'type'] as const;

/** An event at a time; container events carry Docker's older status/id/from fields too. */
export function makeEvent(type: EventType, action: string, actorId: string, attributes: Record<string, string>, timeNano: number): EngineEvent {
  const ev: EngineEvent = { Type: type, Action: action, Actor: { ID: actorId, Attributes: attributes }, scope: 'local', time: Math.floor(timeNano / 1e9), timeNano };
  if (type === 'container') return { status: action, id: actorId, from: attributes.image ?? '', ...ev };
  return ev;
}

function matchesActor(ev: EngineEvent, type: EventType, values: string[] | undefined): boolean {
  if (!values?.length) return true;
  if (ev.Type !== type) return false;
  return values.some((v) => ev.Actor.ID.startsWith(v) || ev.Actor.Attributes.name === v);
}

export function eventMatches(ev: EngineEvent, filters: Filters): boolean {
  const any = (key: string, test: (v: string) => boolean): boolean => {
    const values = filters.get(key);
    return !values?.length || values.some(test);
  };
  return (
    any('type', (v) => v === ev.Type) &&
    any('event', (v) => v === ev.Action || v === ev.Action.split(':')[0]) &&
    any('scope', (v) => v === ev.scope) &&
    any('label', (v) => labelMatch(v, ev.Actor.Attributes)) &&
    matchesActor(ev, 'container', filters.get('container')) &&
    matchesActor(ev, 'network', filters.get('network'))
  );
}

/** since/until: Unix seconds with an optional fraction ("1700000000.5"), or an RFC 3339 time. */
export function parseEventTime(raw: string | null, what: string): number | undefined {
  if (raw === null || raw === '') return undefined;
  if (/^\d+(\.\d{1,9})?$/.test(raw)) {
    const [sec, frac = ''] = raw.split('.');
    return Number(sec) * 1e9 + Number(frac.padEnd(9, '0'));
  }
  const ms = Date.parse(raw);
  if (Number.isNaN(ms)) throw new Error(`invalid value for ${what}: ${raw}`);
  return ms * 1e6;
}

/** The since/until parameters of /events and /logs; a bad value is the client's error (400). */
export function parseTimeRange(query: URLSearchParams): { since: number | undefined; until: number | undefined } {
  try {
    return { since: parseEventTime(query.get('since'), 'since'), until: parseEventTime(query.get('until'), 'until') };
  } catch (err) {
    throw invalid((err as Error).message);
  }
}
