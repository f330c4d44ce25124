// A GBNF expression for the integers in [min, max] (either end open), written without leading
// zeros and without "-0", as JSON writes them. Positive ranges are split by digit count and then
// digit by digit (the classic regex construction); negatives are "-" and a range of magnitudes.
// An open end stops at 16 digits, the longest integral part JSON mode writes.

const MAX_DIGITS = 16;
/** The largest magnitude of an open end, as digits (10^16 − 1 is beyond a double's exact integers). */
const UNBOUNDED = '9'.repeat(MAX_DIGITS);

export function integerRangeExpr(min: number | undefined, max: number | undefined): string {
  const options: string[] = [];
  if (min === undefined || min <= -1) {
    const mags = positiveRange(max === undefined || max >= 0 ? '1' : String(-max), min === undefined ? UNBOUNDED : String(-min));
    if (mags) options.push(`"-" ${mags}`);
  }
  if ((min === undefined || min <= 0) && (max === undefined || max >= 0)) options.push('"0"');
  if (max === undefined || max >= 1) {
    const pos = positiveRange(min === undefined || min <= 1 ? '1' : String(min), max === undefined ? UNBOUNDED : String(max));
    if (pos) options.push(pos);
  }
  return options.length === 0 ? '[^\\x00-\\U0010FFFF]' : group(options);
}

/** Integers in [a, b] given as digit strings without leading zeros, 1 ≤ a. */
function positiveRange(a: string, b: string): string | undefined {
  if (a.length > b.length || (a.length === b.length && a > b)) return undefined;
  const options: string[] = [];
  // Whole digit counts (10…0 to 9…9) in a row are one option: [1-9] [0-9]{m,n}.
  let whole: [number, number] | undefined;
  const flush = () => {
    if (!whole) return;
    const [m, n] = [whole[0] - 1, whole[1] - 1];
    options.push(n === 0 ? '[1-9]' : `[1-9] [0-9]${m === n ? (n === 1 ? '' : `{${n}}`) : `{${m},${n}}`}`);
    whole = undefined;
  };
  for (let n = a.length; n <= b.length; n++) {
    const from = n === a.length ? a : `1${'0'.repeat(n - 1)}`;
    const to = n === b.length ? b : '9'.repeat(n);
    if (/^10*$/.test(from) && /^9+$/.test(to)) {
      whole = whole ? [whole[0], n] : [n, n];
      continue;
    }
    flush();
    options.push(sameLength(from, to));
  }
  flush();
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
