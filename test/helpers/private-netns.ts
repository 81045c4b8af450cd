/**
 * Import this first (for its effect) in a test file whose own process must live in a private
 * network namespace, to reach servers listening inside it (etcd members on 127.0.0.x, say).
 * Outside one, it runs the same file again under `unshare --net` with the same node flags and
 * environment, so tap sees a single test process, and exits with its status: the rest of the
 * file only ever runs inside. The namespace dies with the process; a child that outlives its
 * parent (tap's timeout killed it) exits on its own.
 */
import { execFileSync, spawnSync } from 'node:child_process';

const MARK = 'CNM_TEST_PRIVATE_NETNS';

if (process.env[MARK] !== String(process.ppid)) {
  const script = process.argv[1]!;
  const res = spawnSync('unshare', ['--net', '--', process.execPath, ...process.execArgv, script, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, [MARK]: String(process.pid) },
  });
  if (res.error) throw res.error;
  process.exit(res.status ?? 1);
}

execFileSync('ip', ['link', 'set', 'lo', 'up']);
const parent = process.ppid;
setInterval(() => {
  try {
    process.kill(parent, 0);
  } catch {
    process.exit(1);
  }
}, 1000).unref();
