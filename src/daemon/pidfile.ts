/** One daemon per run directory: a pid file whose owner is checked, so a stale one (kill -9) is taken over. */
import fs from 'node:fs';
import { CnmError } from '../errors';

export function acquirePidFile(file: string): () => void {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    if (pid && pid !== process.pid && isAlive(pid)) {
      throw new CnmError('conflict', `another cnmd (pid ${pid}) is running with this exec root (${file}); stop it or use another --exec-root`);
    }
  } catch (err) {
    if (err instanceof CnmError) throw err;
  }
  fs.writeFileSync(file, `${process.pid}\n`);
  return () => {
    try {
      if (fs.readFileSync(file, 'utf8').trim() === String(process.pid)) fs.rmSync(file);
    } catch {
      // already gone
    }
  };
}

/** Alive and not a zombie (a killed daemon whose parent has not reaped it yet). */
function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}
