// Code point sets → UTF-8 byte patterns, so the matcher can run on bytes: a byte-fallback token
// holding half a character is then checked exactly like any other. A range of code points becomes
// a few sequences of byte ranges (the classic split at encoding-length and continuation-byte
// boundaries), e.g. [U+0080, U+07FF] → [C2-DF][80-BF].
import type { CodeRange } from './ast.js';

export const MAX_CODE_POINT = 0x10ffff;
const SURROGATES: CodeRange = { lo: 0xd800, hi: 0xdfff };

/** One byte range per position: the byte strings it matches are its cross product. */
export type ByteSequence = readonly CodeRange[];

/** Sorted, merged ranges; negated: the complement over all scalar values (surrogates excluded). */
export function normalizeRanges(ranges: readonly CodeRange[], negated: boolean): CodeRange[] {
  const sorted = [...ranges].sort((a, b) => a.lo - b.lo);
  const merged: CodeRange[] = [];
  for (const r of sorted) {
    const last = merged[merged.length - 1];
    if (last && r.lo <= last.hi + 1) merged[merged.length - 1] = { lo: last.lo, hi: Math.max(last.hi, r.hi) };
    else merged.push(r);
  }
  const set = negated ? complement(merged) : merged;
  return set.flatMap((r) => subtract(r, SURROGATES));
}

function complement(ranges: readonly CodeRange[]): CodeRange[] {
  const out: CodeRange[] = [];
  let next = 0;
  for (const r of ranges) {
    if (r.lo > next) out.push({ lo: next, hi: r.lo - 1 });
    next = r.hi + 1;
  }
  if (next <= MAX_CODE_POINT) out.push({ lo: next, hi: MAX_CODE_POINT });
  return out;
}

function subtract(r: CodeRange, cut: CodeRange): CodeRange[] {
  if (r.hi < cut.lo || r.lo > cut.hi) return [r];
  const out: CodeRange[] = [];
  if (r.lo < cut.lo) out.push({ lo: r.lo, hi: cut.lo - 1 });
  if (r.hi > cut.hi) out.push({ lo: cut.hi + 1, hi: r.hi });
  return out;
}

/** The byte sequences whose union is exactly the UTF-8 encodings of the code points in `ranges`. */
export function utf8Sequences(ranges: readonly CodeRange[]): ByteSequence[] {
  const out: ByteSequence[] = [];
  for (const r of ranges) for (const piece of splitByLength(r)) splitRange(piece.lo, piece.hi, out);
  return out;
}

/** Ranges of one encoded length each. */
function splitByLength(r: CodeRange): CodeRange[] {
  const bounds = [0x7f, 0x7ff, 0xffff, MAX_CODE_POINT];
  const out: CodeRange[] = [];
  let lo = r.lo;
  for (const b of bounds) {
    if (lo > r.hi) break;
    if (lo <= b) {
      out.push({ lo, hi: Math.min(b, r.hi) });
      lo = b + 1;
    }
  }
  return out;
}

function splitRange(lo: number, hi: number, out: ByteSequence[]): void {
  const n = encodedLength(lo);
  for (let i = 1; i < n; i++) {
    const m = (1 << (6 * i)) - 1;
    if ((lo & ~m) !== (hi & ~m)) {
      if ((lo & m) !== 0) {
        splitRange(lo, lo | m, out);
        splitRange((lo | m) + 1, hi, out);
        return;
      }
      if ((hi & m) !== m) {
        splitRange(lo, (hi & ~m) - 1, out);
        splitRange(hi & ~m, hi, out);
        return;
      }
    }
  }
  const a = encodeUtf8(lo);
  const b = encodeUtf8(hi);
  out.push(a.map((x, k) => ({ lo: x, hi: b[k] })));
}

function encodedLength(cp: number): number {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

export function encodeUtf8(cp: number): number[] {
  if (cp < 0x80) return [cp];
  if (cp < 0x800) return [0xc0 | (cp >> 6), 0x80 | (cp & 63)];
  if (cp < 0x10000) return [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)];
  return [0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)];
}
