/** One daemon per run directory: a pid file whose owner is checked, so a stale one (kill -9) is taken over. */
import fs from 'node:fs';
import { CnmError } from '../errors';
import { isLiveProcess } from '../os/proc';

export function acquirePidFile(file: string): () => void {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    if (pid && pid !== process.pid && isLiveProcess(pid)) {
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

