// Declaring a builder's parameters from weight sources: each source once (a tied lm_head reuses
// the embedding), its type read from the checkpoint, its shape checked against what the config
// implies, its stored tensors float (an integer tensor is not a weight), and — once every
// parameter is declared — every sliced tensor covered exactly by its slices, so a config that
// disagrees with a fused tensor (qkv_proj, gate_up_proj) is refused instead of reading part of it.
import type { GraphBuilder } from '../../ir/builder.js';
import { dtypeInfo, isDType } from '../../ir/dtype.js';
import { ModelFormatError, TesseraError } from '../../ir/errors.js';
import type { Value } from '../../ir/graph.js';
import { formatWeight } from '../../ir/printer.js';
import { type WeightExpr, weightLeaves, type WeightType, weightType } from '../../ir/weights.js';

export type DeclareParam = (name: string, src: WeightExpr, expected: readonly number[]) => Value;

export interface ParamDeclarer {
  readonly param: DeclareParam;
  /** Throws unless the slices of each tensor tile it exactly (call after the last param). */
  checkCoverage(): void;
}

/** One slice of a stored tensor, as a parameter reads it. */
interface SliceUse {
  readonly param: string;
  readonly start: number;
  readonly end: number;
}

/** `sizes` describes the config in the errors a mismatch produces. */
export function paramDeclarer(b: GraphBuilder, leaf: (name: string) => WeightType, sizes: string): ParamDeclarer {
  const declared = new Map<string, Value>();
  /** Slices per stored tensor and axis: "name\0axis" → uses. */
  const slices = new Map<string, { tensor: string; axis: number; uses: SliceUse[] }>();

  const param: DeclareParam = (name, src, expected) => {
    const key = formatWeight(src);
    const seen = declared.get(key);
    if (seen) return seen;
    let t: WeightType;
    try {
      for (const l of weightLeaves(src)) checkFloat(name, l, leaf(l));
      t = weightType(src, leaf);
    } catch (e) {
      if (e instanceof TesseraError) throw e;
      throw new ModelFormatError(`weight for %${name} (${key}): ${(e as Error).message}; the config (${sizes}) does not match the checkpoint`);
    }
    if (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i])) {
      throw new ModelFormatError(`weight for %${name} (${key}) has shape [${t.shape.join(', ')}], but the config (${sizes}) needs [${expected.join(', ')}]`);
    }
    recordSlices(src, name, slices);
    const v = b.param(name, t.dtype, t.shape, src);
    declared.set(key, v);
    return v;
  };

  const checkCoverage = () => {
    for (const { tensor, axis, uses } of slices.values()) {
      const size = leaf(tensor).shape[axis];
      const sorted = [...uses].sort((x, y) => x.start - y.start || x.end - y.end);
      const what = sorted.map((u) => `%${u.param} ${u.start}..${u.end}`).join(', ');
      const unit = axis === 0 ? 'rows' : `entries along axis ${axis}`;
      let at = 0;
      for (const u of sorted) {
        if (u.start < at) throw new ModelFormatError(`tensor "${tensor}": ${unit} ${u.start}..${Math.min(at, u.end)} are read twice (${what}); the config (${sizes}) does not match how it is fused`);
        if (u.start > at) throw new ModelFormatError(`tensor "${tensor}": ${unit} ${at}..${u.start} are read by no parameter (${what}); the config (${sizes}) does not match how it is fused`);
        at = u.end;
      }
      if (at !== size) {
        throw new ModelFormatError(`tensor "${tensor}" has ${size} ${unit}, but the config (${sizes}) reads ${at} of them (${what}): ${size - at} would be ignored; check the head counts, head_dim and intermediate size in the config`);
      }
    }
  };

  return { param, checkCoverage };
}

/** Weights are float or quantized; an integer tensor bound as one would be read as garbage. */
function checkFloat(param: string, name: string, t: WeightType): void {
  if (isDType(t.dtype) && dtypeInfo(t.dtype).kind === 'int') {
    throw new ModelFormatError(`tensor "${name}" (for %${param}) is stored as ${t.dtype}, an integer type; a weight must be a float or quantized tensor (is the checkpoint damaged or mislabelled?)`);
  }
}

/** Notes every slice of a stored tensor in `src` (slices of computed values are checked by their op). */
function recordSlices(src: WeightExpr, param: string, into: Map<string, { tensor: string; axis: number; uses: SliceUse[] }>): void {
  if (src.kind === 'tensor') return;
  const [arg] = src.args;
  if (src.fn === 'slice' && arg?.kind === 'tensor') {
    const axis = src.attrs.axis as number;
    const id = `${arg.name}\0${axis}`;
    const entry = into.get(id) ?? { tensor: arg.name, axis, uses: [] };
    entry.uses.push({ param, start: src.attrs.start as number, end: src.attrs.end as number });
    into.set(id, entry);
    return;
  }
  for (const a of src.args) recordSlices(a, param, into);
}
