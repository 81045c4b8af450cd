/**
 * The controller knows drivers by what they declare (src/drivers/api.ts), never by name: no
 * driver's name appears as a string in its code. The sandbox mode `{ kind: 'host' }` (a sandbox
 * in the daemon's namespace, stored in records) is a mode, not a driver, and is allowed as such.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';

const DIR = path.resolve(__dirname, '..', '..', '..', 'src', 'controller');
const DRIVER_NAMES = ['host', 'null', 'bridge', 'macvlan', 'overlay', 'none'];

function withoutComments(code: string): string {
  return code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

t.test('no driver name in src/controller', async (t) => {
  const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.ts'));
  t.ok(files.length > 10, 'the controller files are found');
  const found: string[] = [];
  for (const file of files) {
    const code = withoutComments(fs.readFileSync(path.join(DIR, file), 'utf8'));
    for (const m of code.matchAll(/(kind\s*(?:===|!==|:)\s*)?(['"`])([a-z]+)\2/g)) {
      if (!DRIVER_NAMES.includes(m[3]!)) continue;
      if (m[1] && m[3] === 'host') continue; // the sandbox mode
      found.push(`${file}: ${m[0]}`);
    }
  }
  t.same(found, [], 'driver names found');
});

t.test('the check finds a driver name where there is one', async (t) => {
  const code = withoutComments("if (network.driver === 'null') x(); // 'bridge' in a comment\nconst m = { kind: 'host' };");
  const names = [...code.matchAll(/(kind\s*(?:===|!==|:)\s*)?(['"`])([a-z]+)\2/g)].filter((m) => DRIVER_NAMES.includes(m[3]!) && !(m[1] && m[3] === 'host')).map((m) => m[3]);
  t.same(names, ['null']);
});

/** Issue 11: an undo or cleanup that fails is logged with what it left, never swallowed. */
const SILENT_CATCH = /\.catch\(\(\)\s*=>\s*(?:undefined|\{\s*\})\)|catch\s*(?:\([^)]*\))?\s*\{\s*\}/g;

t.test('no silent catch in src/controller or src/drivers', async (t) => {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith('.ts')) for (const m of withoutComments(fs.readFileSync(file, 'utf8')).matchAll(SILENT_CATCH)) found.push(`${path.relative(path.dirname(DIR), file)}: ${m[0]}`);
    }
  };
  walk(DIR);
  walk(path.join(path.dirname(DIR), 'drivers'));
  t.same(found, [], 'silent catches found');
  t.same([...'x.catch(() => undefined); try { y(); } catch {}'.matchAll(SILENT_CATCH)].length, 2, 'the check finds both forms');
});
