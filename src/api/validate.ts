/**
 * Reading request bodies without trusting them: every field is checked for its type and a wrong
 * one is a 400 naming the field, before anything changes.
 */
import { invalid } from '../errors';

export type Obj = Record<string, unknown>;

export function object(value: unknown, where: string, optional = false): Obj {
  if ((value === undefined || value === null) && optional) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`${where} must be a JSON object`);
  return value as Obj;
}

export function optString(o: Obj, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalid(`${where}.${key} must be a string, not ${typeName(v)}`);
  return v;
}

export function optBool(o: Obj, key: string, where: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw invalid(`${where}.${key} must be a boolean, not ${typeName(v)}`);
  return v;
}

export function optStringArray(o: Obj, key: string, where: string): string[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw invalid(`${where}.${key} must be an array of strings`);
  return v as string[];
}

export function optStringMap(o: Obj, key: string, where: string): Record<string, string> | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  const m = object(v, `${where}.${key}`);
  for (const [k, x] of Object.entries(m)) if (typeof x !== 'string') throw invalid(`${where}.${key}.${k} must be a string, not ${typeName(x)}`);
  return m as Record<string, string>;
}

export function optArray(o: Obj, key: string, where: string): unknown[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw invalid(`${where}.${key} must be an array, not ${typeName(v)}`);
  return v;
}

export function queryBool(q: URLSearchParams, key: string): boolean {
  const v = q.get(key);
  return v === '1' || v === 'true' || v === 'True';
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}
