import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ResolvConfWatcher } from '../../src/resolver/resolv-conf';
import type { ResolvConf } from '../../src/os/resolvconf';

function tempFile(t: Test, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cnm-resolvconf-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'resolv.conf');
  writeFileSync(path, text);
  return path;
}

async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  return check();
}

// A rewrite of the same length within one tick of the kernel's coarse clock keeps size and mtime:
// a watcher that compares stat() results misses it. Twenty quick rewrites make that case certain.
t.test('a rewrite of the same size right after the last one is seen', async (t) => {
  for (let round = 0; round < 20; round++) {
    const path = tempFile(t, 'search a.test\nnameserver 192.0.2.1\n');
    const seen: ResolvConf[] = [];
    const watcher = new ResolvConfWatcher(path, (conf) => seen.push(conf), 20);
    writeFileSync(path, 'search b.test\nnameserver 192.0.2.2\n');
    const told = await waitFor(() => seen.length > 0, 2000);
    watcher.close();
    if (!told) {
      t.fail(`round ${round}: the change was never reported`);
      return;
    }
    t.same(seen, [{ nameservers: ['192.0.2.2'], search: ['b.test'], options: [] }], `round ${round}: told once, with the new content`);
  }
});

t.test('no call while the content stays the same, one per change, a missing file reads as empty', async (t) => {
  const path = tempFile(t, 'nameserver 192.0.2.1\n');
  const seen: ResolvConf[] = [];
  const watcher = new ResolvConfWatcher(path, (conf) => seen.push(conf), 20);
  t.teardown(() => watcher.close());
  t.same(watcher.current.nameservers, ['192.0.2.1']);
  writeFileSync(path, 'nameserver 192.0.2.1\n');
  await new Promise((r) => setTimeout(r, 120));
  t.same(seen, [], 'the same text written again is no change');
  rmSync(path);
  t.ok(await waitFor(() => seen.length === 1, 2000), 'removal reported');
  t.same(seen[0], { nameservers: [], search: [], options: [] }, 'as an empty file');
});
