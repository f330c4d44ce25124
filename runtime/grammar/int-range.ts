// A GBNF expression for the integers in [min, max] (either end open), written without leading
// zeros and without "-0", as JSON writes them. Positive ranges are split by digit count and then
// digit by digit (the classic regex construction); negatives are "-" and a range of magnitudes.
// An open end stops at 16 digits, the longest integral part JSON mode writes.

const MAX_DIGITS = 16;
const UNBOUNDED = 10 ** MAX_DIGITS - 1;

export function integerRangeExpr(min: number | undefined, max: number | undefined): string {
  const lo = min ?? -UNBOUNDED;
  const hi = max ?? UNBOUNDED;
  const options: string[] = [];
  if (lo <= -1) {
    const mags = positiveRange(Math.max(1, -hi), -lo);
    if (mags) options.push(`"-" ${mags}`);
  }
  if (lo <= 0 && hi >= 0) options.push('"0"');
  if (hi >= 1) {
    const pos = positiveRange(Math.max(1, lo), hi);
    if (pos) options.push(pos);
  }
  return options.length === 0 ? '[^\\x00-\\U0010FFFF]' : group(options);
}

/** Integers in [lo, hi], 1 ≤ lo. */
function positiveRange(lo: number, hi: number): string | undefined {
  if (lo > hi) return undefined;
  const options: string[] = [];
  const a = String(lo);
  const b = String(hi);
  for (let n = a.length; n <= b.length; n++) {
    const from = n === a.length ? a : `1${'0'.repeat(n - 1)}`;
    const to = n === b.length ? b : '9'.repeat(n);
    options.push(sameLength(from, to));
  }
  return group(options);
}

/** Digit strings of one length between `a` and `b` (inclusive, a ≤ b). */
function sameLength(a: string, b: string): string {
  if (a.length === 0) return '';
  const rest = a.length - 1;
  const anyRest = rest === 0 ? '' : rest === 1 ? ' [0-9]' : ` [0-9]{${rest}}`;
  if (a[0] === b[0]) return join(`[${a[0]}]`, sameLength(a.slice(1), b.slice(1)));
  if (/^0*$/.test(a.slice(1)) && /^9*$/.test(b.slice(1))) return `[${a[0]}-${b[0]}]${anyRest}`;
  const options = [join(`[${a[0]}]`, sameLength(a.slice(1), '9'.repeat(rest)))];
  const d0 = Number(a[0]) + 1;
  const d1 = Number(b[0]) - 1;
  if (d0 <= d1) options.push(`[${d0}-${d1}]${anyRest}`);
  options.push(join(`[${b[0]}]`, sameLength('0'.repeat(rest), b.slice(1))));
  return group(options);
}

function join(x: string, y: string): string {
  return y === '' ? x : `${x} ${y}`;
}

function group(options: readonly string[]): string {
  return options.length === 1 ? options[0] : `(${options.join(' | ')})`;
}
