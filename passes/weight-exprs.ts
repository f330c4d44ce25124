// Simplification of weight sources that passes compose, so the printed IR says plainly where a
// merged weight comes from: concat(slice(w, 0..a), slice(w, a..b)) is slice(w, 0..b) (Phi-3's
// fused qkv_proj sliced apart and merged again), a concat of transposes is the transpose of a
// concat along the other axis (GPT-2's Conv1D c_attn columns), and scale_cols/fold_bias with
// shared arguments move outside a row concat when that rejoins one fused tensor. Every rule keeps
// the storage type: row slices and row concats keep quantized blocks, everything else is f32.
import { formatAttrs, formatWeight } from '../ir/printer.js';
import { WEIGHT_FNS, weightCall, type WeightExpr } from '../ir/weights.js';

type Call = Extract<WeightExpr, { kind: 'call' }>;

const isCall = (e: WeightExpr, fn: string): e is Call => e.kind === 'call' && e.fn === fn;

/** b continues a along the same axis of the same tensor. */
function adjacentSlices(a: WeightExpr, b: WeightExpr, axis: number): boolean {
  return isCall(a, 'slice') && isCall(b, 'slice') && a.attrs.axis === axis && b.attrs.axis === axis
    && a.attrs.end === b.attrs.start && formatWeight(a.args[0]) === formatWeight(b.args[0]);
}

/**
 * Row concatenation commutes with transforms that work row by row with shared arguments:
 * concat(scale_cols(w_i, g)) = scale_cols(concat(w_i), g), likewise fold_bias with one β. Done only
 * when the w_i collapse into one source (slices of one fused tensor), so that no concat of parts
 * whose storage types may differ is created.
 */
function hoistRowwise(parts: readonly Call[]): WeightExpr | undefined {
  const fn = parts[0].fn;
  const attrs = (p: Call) => formatAttrs(p.attrs, WEIGHT_FNS[fn]?.attrs);
  if ((fn !== 'scale_cols' && fn !== 'fold_bias') || !parts.every((p) => p.fn === fn && p.args.length === parts[0].args.length && attrs(p) === attrs(parts[0]))) return undefined;
  const joined = (k: number) => {
    const e = simplifyConcat(parts.map((p) => p.args[k]), 0);
    return isCall(e, 'concat') ? undefined : e;
  };
  const shared = parts.map((p) => p.args[1]);
  if (!shared.every((x) => formatWeight(x) === formatWeight(shared[0]))) return undefined;
  const w = joined(0);
  const rest = parts[0].args.length === 3 ? joined(2) : null;
  if (!w || rest === undefined) return undefined;
  return weightCall(fn, rest ? [w, shared[0], rest] : [w, shared[0]], parts[0].attrs);
}

function simplifyConcat(parts: readonly WeightExpr[], axis: number): WeightExpr {
  if (parts.length > 1 && (axis === 0 || axis === 1) && parts.every((p) => isCall(p, 'transpose'))) {
    const inner = simplifyConcat(parts.map((p) => (p as Call).args[0]), 1 - axis);
    return weightCall('transpose', [inner]);
  }
  if (parts.length > 1 && axis === 0 && parts.every((p) => p.kind === 'call')) {
    const hoisted = hoistRowwise(parts as Call[]);
    if (hoisted) return hoisted;
  }
  const merged: WeightExpr[] = [];
  for (const p of parts) {
    const last = merged[merged.length - 1];
    if (last && adjacentSlices(last, p, axis)) {
      const l = last as Call;
      merged[merged.length - 1] = weightCall('slice', l.args, { axis, start: l.attrs.start as number, end: (p as Call).attrs.end as number });
    } else {
      merged.push(p);
    }
  }
  return merged.length === 1 ? merged[0] : weightCall('concat', merged, { axis });
}

/** The simplest equal source (children first; the result is a fixed point). */
export function simplifyWeight(e: WeightExpr): WeightExpr {
  if (e.kind === 'tensor') return e;
  const args = e.args.map(simplifyWeight);
  if (e.fn === 'concat') return simplifyConcat(args, e.attrs.axis as number);
  return { ...e, args };
}
