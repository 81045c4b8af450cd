/**
 * Which Engine API cnm speaks and how a request's `/vX.Y` prefix is read. cnm answers in the
 * shapes of API 1.41 (Docker 20.10), the version docs/docker-behaviour.md records. Requests for
 * later versions are served too, with the same shapes: clients that pin a newer version (rather
 * than negotiate through /_ping) then still work, and the network fields they rely on are the
 * same; Go and JavaScript clients ignore the fields later versions added and cnm leaves out.
 */
import { invalid } from '../errors';

export const CNM_VERSION = '0.1.0';
export const API_VERSION = '1.41';
export const MIN_API_VERSION = '1.12';

export interface VersionedPath {
  /** "1.41", or undefined for an unversioned path */
  version: string | undefined;
  /** the path without its version prefix */
  path: string;
}

/** "/v1.41/networks" → { version: "1.41", path: "/networks" }; other paths pass unchanged. */
export function splitVersion(pathname: string): VersionedPath {
  const m = /^\/v(\d+\.\d+)(\/.*)$/.exec(pathname);
  if (!m) return { version: undefined, path: pathname };
  if (compareVersions(m[1]!, MIN_API_VERSION) < 0) {
    throw invalid(`client version ${m[1]} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
  }
  return { version: m[1]!, path: m[2]! };
}

/** Numeric comparison of "major.minor" (1.9 < 1.41). */
export function compareVersions(a: string, b: string): number {
  const [aMajor, aMinor] = a.split('.').map(Number) as [number, number];
  const [bMajor, bMinor] = b.split('.').map(Number) as [number, number];
  return aMajor - bMajor || aMinor - bMinor;
}
