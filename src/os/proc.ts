/** Reading /proc/PID/stat. */
import fs from 'node:fs';

/**
 * The fields of /proc/PID/stat after the command name (index 0 is field 3, the state), or null
 * when the process is gone. The name (field 2) may hold spaces and parentheses: the split is
 * made after its last ')'.
 */
export function procStat(pid: number): string[] | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** Alive and not a zombie (dead, waiting for its parent to reap it). */
export function isLiveProcess(pid: number): boolean {
  const fields = procStat(pid);
  return fields !== null && fields[0] !== 'Z';
}
