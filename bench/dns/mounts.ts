/** What a bench run leaves mounted: every namespace it made is kept alive by one nsfs mount. */
import { readFileSync } from 'node:fs';

/** nsfs mounts (namespace files) under dir, in this process's mount namespace. */
export function nsfsMountsUnder(dir: string): number {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .filter((line) => {
      const [, target, type] = line.split(' ');
      return type === 'nsfs' && target !== undefined && target.startsWith(`${dir}/`);
    }).length;
}
