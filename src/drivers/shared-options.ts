/** Option and link-ownership helpers the drivers share. */
import { invalid } from '../errors';

/** A boolean driver option, as Go's strconv.ParseBool reads the usual spellings. */
export function parseBoolOption(key: string, value: string): boolean {
  if (/^(1|t|true)$/i.test(value)) return true;
  if (/^(0|f|false)$/i.test(value)) return false;
  throw invalid(`invalid value "${value}" for option ${key}: use true or false`);
}

/**
 * IFLA_IFALIAS tags marking the host links a driver makes (`cnm <driver> <network id>`), so that
 * reconciling after a crash finds its own links and leaves everyone else's alone.
 */
export function ownerTags(driver: string): { ownerTag: (networkId: string) => string; ownerOf: (alias: string | undefined) => string | undefined } {
  const prefix = `cnm ${driver} `;
  return {
    ownerTag: (networkId) => `${prefix}${networkId}`,
    ownerOf: (alias) => (alias?.startsWith(prefix) ? alias.slice(prefix.length) : undefined),
  };
}
