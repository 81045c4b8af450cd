/**
 * fvbommel/sortorder NaturalLess, which `docker network ls` sorts names with: runs of digits
 * compare as numbers ("net2" < "net10"), digits sort before other characters, and among equal
 * numbers the one with fewer leading zeros comes first.
 */
export function naturalCompare(a: string, b: string): number {
  const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
  const ab = Buffer.from(a, 'utf8').toString('latin1');
  const bb = Buffer.from(b, 'utf8').toString('latin1'); // compare bytes, like Go
  let i = 0;
  let j = 0;
  while (i < ab.length && j < bb.length) {
    const c1 = ab[i]!;
    const c2 = bb[j]!;
    const d1 = isDigit(c1);
    const d2 = isDigit(c2);
    if (d1 !== d2) return d1 ? -1 : 1;
    if (!d1) {
      if (c1 !== c2) return c1 < c2 ? -1 : 1;
      i++;
      j++;
      continue;
    }
    while (ab[i] === '0') i++;
    while (bb[j] === '0') j++;
    const start1 = i;
    const start2 = j;
    while (isDigit(ab[i])) i++;
    while (isDigit(bb[j])) j++;
    const n1 = ab.slice(start1, i);
    const n2 = bb.slice(start2, j);
    if (n1.length !== n2.length) return n1.length < n2.length ? -1 : 1;
    if (n1 !== n2) return n1 < n2 ? -1 : 1;
    if (start1 !== start2) return start1 < start2 ? -1 : 1; // fewer leading zeros first
  }
  if (ab.length - i !== bb.length - j) return ab.length - i < bb.length - j ? -1 : 1;
  return 0;
}
