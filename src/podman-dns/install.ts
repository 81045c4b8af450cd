/**
 * `cnm-dns install|remove`: netavark runs the first `aardvark-dns` in Podman's helper_binaries_dir,
 * whose default list starts with /usr/local/libexec/podman (before Debian's /usr/lib/podman). A
 * symbolic link named aardvark-dns there, pointing at cnm-dns, is the whole installation; remove
 * deletes only a link that points at a cnm-dns.
 */
import fs from 'node:fs';
import path from 'node:path';

const HELPER_NAME = 'aardvark-dns';

function linkTarget(file: string): string | null {
  try {
    return fs.readlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EINVAL') return ''; // exists, not a link
    return null;
  }
}

const isCnmDns = (target: string): boolean => path.basename(target) === 'cnm-dns';

export function install(dir: string, cnmDns: string): string {
  const file = path.join(dir, HELPER_NAME);
  const target = linkTarget(file);
  if (target !== null && !isCnmDns(target)) {
    throw new Error(`${file} exists and is not cnm-dns: move it away first (Podman would run it instead of /usr/lib/podman/${HELPER_NAME})`);
  }
  if (!fs.existsSync(cnmDns)) throw new Error(`${cnmDns} not found: run install from a built clone (npm run build)`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const temp = `${file}.cnm-${process.pid}`;
  fs.symlinkSync(cnmDns, temp);
  fs.renameSync(temp, file);
  return `${file} -> ${cnmDns}: Podman starts cnm-dns for networks created from now on (a running aardvark-dns stays until its last container stops)`;
}

export function remove(dir: string): string {
  const file = path.join(dir, HELPER_NAME);
  const target = linkTarget(file);
  if (target === null) return `${file} is not there: nothing to remove`;
  if (!isCnmDns(target)) throw new Error(`${file} is not a link to cnm-dns: left as it is`);
  fs.unlinkSync(file);
  try {
    fs.rmdirSync(dir); // only when empty
  } catch {
    // other helpers live there
  }
  return `${file} removed: Podman uses /usr/lib/podman/${HELPER_NAME} again once a running cnm-dns exits (with its last container)`;
}
