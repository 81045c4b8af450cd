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

/** Clock ticks per second of /proc/PID/stat times (USER_HZ, 100 on every Linux architecture cnm runs on). */
const USER_HZ = 100;

/** Now, in the clock ticks since boot that /proc/PID/stat field 22 (start time) counts. */
export function ticksSinceBoot(): number {
  return Math.floor(Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * USER_HZ);
}

/**
 * Every process whose network namespace is the one mounted at nsPath, with its start time in
 * ticks since boot (empty when nothing is mounted there). Threads share their process's entry.
 */
export function processesInNetns(nsPath: string): { pid: number; startTicks: number }[] {
  // Device and inode: a path that is not a namespace mount (any more) matches no process.
  let ns: fs.Stats;
  try {
    ns = fs.statSync(nsPath);
  } catch {
    return [];
  }
  const found: { pid: number; startTicks: number }[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    try {
      const own = fs.statSync(`/proc/${pid}/ns/net`);
      if (own.ino !== ns.ino || own.dev !== ns.dev) continue;
    } catch {
      continue; // gone meanwhile
    }
    const stat = procStat(pid);
    if (stat !== null && stat[0] !== 'Z') found.push({ pid, startTicks: Number(stat[19]) });
  }
  return found;
}

/** SIGKILLs the given processes, ignoring those already gone. */
export function killProcesses(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
