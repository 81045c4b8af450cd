/** Docker's `filters` query parameter: {"key":["v",...]} or the older {"key":{"v":true}}. */
import { invalid } from '../errors';

export type Filters = Map<string, string[]>;

export function parseFilters(raw: string | null, allowed: readonly string[]): Filters {
  const out: Filters = new Map();
  if (!raw) return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw invalid(`invalid filters: ${raw} is not JSON (use {"name":["value"]})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw invalid('invalid filters: expected a JSON object of arrays');
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (!allowed.includes(key)) throw invalid(`Invalid filter '${key}'`);
    let values: string[];
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) values = value as string[];
    else if (typeof value === 'object' && value !== null && !Array.isArray(value)) values = Object.keys(value);
    else throw invalid(`invalid filters: the value of '${key}' must be an array of strings`);
    out.set(key, values);
  }
  return out;
}

/** Docker matches names and ids as regular expressions (plain text works as a substring). */
export function regexMatch(pattern: string, value: string): boolean {
  try {
    return new RegExp(pattern).test(value);
  } catch {
    return value.includes(pattern);
  }
}

/** label=key or label=key=value against a label map. */
export function labelMatch(filter: string, labels: Record<string, string>): boolean {
  const eq = filter.indexOf('=');
  if (eq < 0) return filter in labels;
  return labels[filter.slice(0, eq)] === filter.slice(eq + 1);
}
