// "Did you mean …?" for misspelt op, value, attribute and transform names.

/** Levenshtein distance, giving up (returning limit+1) once it must exceed `limit`. */
function distance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      row.push(v);
      best = Math.min(best, v);
    }
    if (best > limit) return limit + 1;
    prev = row;
  }
  return prev[b.length];
}

/** Up to `max` candidates close to `name` (by edit distance, or sharing a prefix), nearest first. */
export function nearNames(name: string, candidates: Iterable<string>, max = 3): string[] {
  const limit = Math.max(1, Math.floor(name.length / 3));
  const lower = name.toLowerCase();
  const scored: [string, number][] = [];
  for (const c of candidates) {
    const d = distance(lower, c.toLowerCase(), limit);
    if (d <= limit) scored.push([c, d]);
    else if (lower.length >= 3 && c.toLowerCase().startsWith(lower)) scored.push([c, limit + 1]);
  }
  return scored.sort((x, y) => x[1] - y[1] || (x[0] < y[0] ? -1 : 1)).slice(0, max).map(([c]) => c);
}

/** ` (did you mean a or b?)`, or '' when nothing is close. */
export function didYouMean(name: string, candidates: Iterable<string>, quote: (s: string) => string = (s) => `'${s}'`): string {
  const near = nearNames(name, candidates);
  return near.length ? ` (did you mean ${near.map(quote).join(' or ')}?)` : '';
}
