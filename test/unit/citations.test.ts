/**
 * The README, the folder READMEs, docs/ and the code cite only files that are in the repository
 * (design notes kept elsewhere are brought into docs/ first). A citation is a repository path in
 * backticks in Markdown (`src/nat/README.md`, `bench/nat`), or a docs/<name>.md anywhere.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { sourceFiles } from '../helpers/program-scan';

const REPO = path.resolve(__dirname, '..', '..', '..');
const ROOTS = ['src', 'test', 'bench', 'scripts', 'docs', 'bin', '.ci'];
const TOP = ['README.md', 'package.json', 'tsconfig.json', 'binding.gyp', '.npmrc', 'package-lock.json'];

/** `a/b/c.ext` or `a/b/` under one of ROOTS, in backticks. */
function markdownCitations(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/`([^`\s]+)`/g)) {
    const p = m[1]!.replace(/[.,:;)]+$/, '').replace(/\/$/, '');
    if (TOP.includes(p) || ROOTS.some((r) => p.startsWith(`${r}/`))) {
      // Placeholders (`<exec-root>/...`) and globs are not files.
      if (!/[<>*{}$]/.test(p)) out.push(p);
    }
  }
  return out;
}

const markdown = ['README.md', ...sourceFiles(REPO, ['src', 'bench', 'docs', 'test'], '.md').map((f) => path.relative(REPO, f))];
const code = sourceFiles(REPO, ['src', 'test', 'bench'], '.ts')
  .concat(sourceFiles(REPO, ['src'], '.c'), sourceFiles(REPO, ['src'], '.h'))
  .map((f) => path.relative(REPO, f));

t.test('every repository path the Markdown files cite exists', async (t) => {
  let checked = 0;
  for (const file of markdown) {
    for (const cited of markdownCitations(fs.readFileSync(path.join(REPO, file), 'utf8'))) {
      checked++;
      // A folder README may cite a sibling by its name only; these are repository-rooted paths.
      if (!fs.existsSync(path.join(REPO, cited))) t.fail(`${file} cites ${cited}, which is not in the repository`);
    }
  }
  t.ok(checked > 20, `${checked} citations checked`);
});

t.test('every docs/*.md the code cites exists', async (t) => {
  let checked = 0;
  for (const file of [...code, ...markdown]) {
    for (const m of fs.readFileSync(path.join(REPO, file), 'utf8').matchAll(/\bdocs\/([\w.-]+\.md)/g)) {
      checked++;
      if (!fs.existsSync(path.join(REPO, 'docs', m[1]!))) t.fail(`${file} cites docs/${m[1]}, which is not in the repository: bring it into docs/`);
    }
  }
  t.ok(checked > 5, `${checked} citations of docs/ checked`);
});

t.test('a bare docker-behaviour §N citation names a section that exists', async (t) => {
  const doc = fs.readFileSync(path.join(REPO, 'docs', 'docker-behaviour.md'), 'utf8');
  const sections = new Set([...doc.matchAll(/^#{2,3} (\d+(?:\.\d+)?)\.? /gm)].map((m) => m[1]!));
  // §7.N are the numbered items of section 7.
  const bugs = doc.slice(doc.indexOf('## 7.'), doc.indexOf('## 8.'));
  for (const m of bugs.matchAll(/^(\d+)\. /gm)) sections.add(`7.${m[1]}`);
  for (const file of [...code, ...markdown]) {
    const text = fs.readFileSync(path.join(REPO, file), 'utf8');
    for (const m of text.matchAll(/docker-behaviour(?:\.md)?\)? (?:§(\d+(?:\.\d+)?))(?:(?:,| and) §(\d+(?:\.\d+)?))*/g)) {
      for (const s of m[0].matchAll(/§(\d+(?:\.\d+)?)/g)) {
        t.ok(sections.has(s[1]!), `${file}: docker-behaviour §${s[1]} exists`);
      }
    }
  }
});
