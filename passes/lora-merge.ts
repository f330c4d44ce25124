// lora-merge{adapter=PATH, scale=S}: bakes a LoRA adapter into the weights it adapts. Every
// parameter that reads an adapted checkpoint tensor X gets the source add_low_rank(w, B', A)
// {scale = S · factor} (ir/weights.ts: w + scale · B'·A, f32), where B' is B cut to the rows of X the
// parameter reads: all of X, a row slice (Phi-3's qkv_proj, llama.cpp's fused ffn_up), or, for a
// Conv1D [in, out] checkpoint read transposed (GPT-2), its column slice, whose update PEFT defines
// as (B·A)ᵀ. Later passes (qkv-merge, rmsnorm-matmul, quantize) and the artifact writer then see
// ordinary weights. The pass runs first, while parameters still read checkpoint tensors as the
// model builder bound them; an adapted tensor read any other way, or read as anything but a
// projection's weight (an embedding table), is refused by name.
//
// The adapter itself is read by models/lora (passes import only ir/): src/ plugs that reader in
// with setLoraAdapterReader, and names the factors as leaves the model source resolves.
import type { DType } from '../ir/dtype.js';
import { ModelFormatError, UsageError } from '../ir/errors.js';
import type { Graph, Value } from '../ir/graph.js';
import { projectionOf } from '../ir/op.js';
import { formatWeight } from '../ir/printer.js';
import { tensorType } from '../ir/types.js';
import { WEIGHT_FNS, weightCall, type WeightExpr, weightLeaves, weightTensor } from '../ir/weights.js';
import type { PassContext } from './pass.js';
import { registerPass } from './registry.js';
import { sourceOf, Uses } from './rewrite.js';

/** One adapted checkpoint tensor: its factors as weight-expression leaves, and their types. */
export interface LoraMergeTarget {
  /** The base checkpoint tensor, as the model's weight sources name it. */
  readonly tensor: string;
  /** Leaf names of A [r, in] and B [out, r]. */
  readonly a: string;
  readonly b: string;
  readonly aType: { readonly dtype: DType; readonly shape: readonly number[] };
  readonly bType: { readonly dtype: DType; readonly shape: readonly number[] };
  /** alpha/r (or alpha/√r): what B·A is scaled by before the pass's scale. */
  readonly factor: number;
}

export interface LoraMergeAdapter {
  /** Names the adapter in errors (its path). */
  readonly name: string;
  readonly targets: readonly LoraMergeTarget[];
}

let readAdapter: ((path: string) => LoraMergeAdapter) | undefined;

/** The adapter at `path`, through the installed reader (lora-merge and lora-attach). */
export function loraAdapterAt(path: string, pass: string): LoraMergeAdapter {
  if (!readAdapter) throw new UsageError(`${pass}: no adapter reader is installed (use the lora option of Model.open / --lora)`);
  return readAdapter(path);
}

/** Installs how `adapter=PATH` is read (src/lora.ts does, with models/lora). */
export function setLoraAdapterReader(read: (path: string) => LoraMergeAdapter): void {
  readAdapter = read;
}

/** The rows of `tensor` a parameter's source reads, in the [out, in] frame of B·A; undefined for a form the merge does not know. */
export function rowsRead(e: WeightExpr, tensor: string): { start: number; end: number } | 'all' | undefined {
  const isLeaf = (x: WeightExpr | undefined) => x?.kind === 'tensor' && x.name === tensor;
  if (isLeaf(e)) return 'all';
  if (e.kind !== 'call') return undefined;
  const [arg] = e.args;
  const range = (s: WeightExpr) => s.kind === 'call' ? { start: s.attrs.start as number, end: s.attrs.end as number } : undefined;
  if (e.fn === 'add_low_rank') return rowsRead(arg, tensor); // a second adapter on the same weight
  if (e.fn === 'slice' && e.attrs.axis === 0 && isLeaf(arg)) return range(e);
  // Conv1D [in, out]: the parameter is Xᵀ, or a column slice of X transposed.
  if (e.fn === 'transpose' && isLeaf(arg)) return 'all';
  if (e.fn === 'transpose' && arg.kind === 'call' && arg.fn === 'slice' && arg.attrs.axis === 1 && isLeaf(arg.args[0])) return range(arg);
  return undefined;
}

/** Rewrites every parameter that reads an adapted tensor; throws, naming the tensor, on any mismatch. */
export function mergeLora(g: Graph, adapter: LoraMergeAdapter, scale: number, ctx: Pick<PassContext, 'stat'>): boolean {
  const byTensor = new Map(adapter.targets.map((t) => [t.tensor, t]));
  const used = new Set<string>();
  const uses = new Uses(g);
  const fail = (message: string): never => {
    throw new ModelFormatError(`LoRA adapter ${adapter.name}: ${message}`);
  };
  for (const p of g.params) {
    const source = sourceOf(p);
    if (!source) continue;
    const hits = [...new Set(weightLeaves(source))].filter((l) => byTensor.has(l));
    if (hits.length === 0) continue;
    if (hits.length > 1) fail(`%${p.name} (${formatWeight(source)}) combines the adapted tensors ${hits.join(', ')}; run lora-merge before passes that merge weights`);
    const target = byTensor.get(hits[0])!;
    checkProjectionOnly(p, uses, target.tensor, fail);
    const rows = rowsRead(source, target.tensor);
    if (!rows) fail(`%${p.name} reads "${target.tensor}" as ${formatWeight(source)}, which lora-merge cannot adapt; run lora-merge first, before passes that rewrite weights`);
    let b: WeightExpr = weightTensor(target.b);
    let bShape = target.bType.shape;
    if (rows !== 'all') {
      b = weightCall('slice', [b], { axis: 0, start: rows!.start, end: rows!.end });
      bShape = [rows!.end - rows!.start, bShape[1]];
      if (rows!.end > target.bType.shape[0]) fail(`"${target.b}" has ${target.bType.shape[0]} rows, but %${p.name} reads rows ${rows!.start}..${rows!.end} of "${target.tensor}"; the adapter was made for another model`);
    }
    const w = { dtype: p.type.dtype, shape: p.type.shape as number[] };
    try {
      WEIGHT_FNS.add_low_rank.type([w, { dtype: target.bType.dtype, shape: [...bShape] }, { ...target.aType, shape: [...target.aType.shape] }], { scale: 0 });
    } catch {
      fail(`"${target.b}" [${target.bType.shape.join(', ')}] · "${target.a}" [${target.aType.shape.join(', ')}] does not fit "${target.tensor}" as %${p.name} [${w.shape.join(', ')}] reads it; the adapter was made for another model (or another size of it)`);
    }
    p.def = { kind: 'param', source: weightCall('add_low_rank', [source, b, weightTensor(target.a)], { scale: scale * target.factor }) };
    p.type = tensorType('f32', p.type.shape);
    used.add(target.tensor);
    ctx.stat('weights-merged');
  }
  const unused = adapter.targets.filter((t) => !used.has(t.tensor));
  if (unused.length) {
    const t = unused[0];
    fail(`"${t.a}" adapts "${t.tensor}", which no weight of this model reads${unused.length > 1 ? ` (nor ${unused.length - 1} more target(s))` : ''}; the adapter was made for another architecture or file layout (a PEFT adapter names HF tensors, a GGUF adapter llama.cpp's)`);
  }
  return used.size > 0;
}

/** An adapted tensor must reach the graph only as projection weights (not an embedding table). */
export function checkProjectionOnly(p: Value, uses: Uses, tensor: string, fail: (m: string) => never): void {
  if (uses.isRoot(p)) fail(`"${tensor}" is read by %${p.name}, which the graph returns; only projection weights can be adapted`);
  for (const n of uses.of(p)) {
    const at = projectionOf(n.op)?.weight;
    if (at === undefined || n.inputs.indexOf(p) !== at || n.inputs.lastIndexOf(p) !== at) {
      fail(`"${tensor}" is read by %${p.name}, which ${n.op} uses as something other than a projection weight; only projection weights (attention and MLP matrices, an untied lm_head) can be adapted`);
    }
  }
}

registerPass({
  name: 'lora-merge',
  description: 'add a LoRA adapter (PEFT folder or GGUF) into the weights it adapts: W + scale·(alpha/r)·B·A',
  options: {
    adapter: { type: 'string', doc: 'the adapter: a PEFT folder or a llama.cpp GGUF adapter' },
    scale: { type: 'float', default: 1, doc: 'how much of the update to add (0: none, negative: subtract)' },
  },
  run(g, ctx) {
    const path = ctx.options.adapter as string;
    const scale = ctx.options.scale as number;
    if (!Number.isFinite(scale)) throw new UsageError(`lora-merge: scale must be a finite number, got ${scale}`);
    return { changed: mergeLora(g, loraAdapterAt(path, 'lora-merge'), scale, ctx) };
  },
});
