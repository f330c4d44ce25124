// rope: rotary position embedding of x [S, H, D] / [B, S, H, D] at positions pos [S] / [B, S].
//
// inv_freq is computed at emit time by the op's own ropeInvFreq (f32 steps exactly as Hugging
// Face), so llama3 and longrope scaling cost nothing at run time, and baked into the module as
// static data (longrope: both the short and the long table; the kernel picks one from the
// largest position of the call, as the reference does). Per position the kernel forms
// cos/sin = f32(f32(cos(f32(inv·p)))·attention_factor) like the reference and keeps them while
// consecutive rows share a position (all heads of one token). The table of the last position
// stays in a per-thread slot of the kernel's static data, so the layers after the first (which run
// this same kernel at the same position) skip the sincos calls, most of a decode step's rope time.
// The rotation is done in f64 and rounded once, as the reference does. rope_matmul's rotation runs the
// same kernel in place over the product's rope_cols heads (RopeLayout says where heads are).
import type { Attrs } from '../../ir/attrs.js';
import { type Dim, dimMul } from '../../ir/dim.js';
import type { Node } from '../../ir/graph.js';
import { longropeAttentionFactor, ropeInvFreq } from '../../ir/ops/rope.js';
import { type KernelBinding, KernelWriter, type WasmKernel } from './kernel.js';

/** Threads that keep their last position's cos/sin table between launches (others recompute it). */
const CACHED_THREADS = 16;

function table(values: Float32Array): string {
  return `memory.data<f32>([${Array.from(values, (v) => String(v)).join(', ')}])`;
}

/** Where a rope kernel finds its heads: rope's [.., H, D] tensors, or rope_matmul's product columns. */
export interface RopeLayout {
  readonly family: string;
  /** x and y may be one binding: the rotation is then in place. */
  readonly x: KernelBinding;
  readonly y: KernelBinding;
  /** The positions: pos [S] (shared by every batch row) or one per token. */
  readonly pos: KernelBinding;
  readonly perToken: boolean;
  readonly S: Dim;
  /** Tokens (B·S) and rotated heads per token. */
  readonly tokens: Dim;
  readonly heads: Dim;
  readonly headDim: number;
  /** Lines run once up front (tables the head offsets read). */
  readonly setup?: readonly string[];
  /** Element offset of head `h` of token `bs` in x and y (AS i32 expressions). */
  headAt(bs: string, h: string): string;
}

/** The rope kernel over a layout; threads split the (token, head) rows. */
export function emitRopeKernel(a: Attrs, layout: RopeLayout): WasmKernel {
  const D = layout.headDim;
  const rd = (a.rotary_dim as number) || D;
  const half = rd / 2;
  const interleaved = a.interleaved as boolean;
  const longrope = a.scaling === 'longrope';
  const orig = a.original_max_positions as number;
  const att = longrope ? Math.fround(longropeAttentionFactor(a)) : 1;
  const inPlace = layout.x === layout.y;

  const w = new KernelWriter(layout.family);
  const xp = w.ptr(layout.x, 'px');
  const yp = inPlace ? xp : w.ptr(layout.y, 'py');
  const pp = w.ptr(layout.pos, 'pp');
  const cs = w.ptr({ kind: 'scratch', slot: 0, bytes: Math.max(rd, 1) * 4, perThread: true }, 'pcs');
  const S = w.dim(layout.S), H = w.dim(layout.heads);
  const nPos = layout.perToken ? w.dim(layout.tokens) : S;

  // A slot: the cached position + 1 (0: empty) and the inv table it was made from, then cos, sin.
  const slotBytes = (16 + Math.max(rd, 1) * 4 + 63) & ~63;
  w.line(
    `const slots = memory.data(${CACHED_THREADS * slotBytes}, 64);`,
    `const slot = tid < ${CACHED_THREADS} ? slots + (<usize>tid) * ${slotBytes} : 0;`,
    `const cosT = slot ? slot + 16 : ${cs} + (<usize>tid) * ${Math.max(rd, 1) * 4};`,
    `const sinT = cosT + ${half * 4};`,
    ...(layout.setup ?? []),
  );
  if (longrope) {
    w.line(
      `const SHORT = ${table(ropeInvFreq(a, rd, 0))};`,
      `const LONG = ${table(ropeInvFreq(a, rd, orig + 1))};`,
      'let maxPos: i32 = -1;',
      `for (let i = 0; i < ${nPos}; i++) maxPos = max(maxPos, load<i32>(${pp} + ((<usize>i) << 2)));`,
      `const inv = maxPos + 1 > ${orig} ? LONG : SHORT;`,
    );
  } else {
    w.line(`const inv = ${table(ropeInvFreq(a, rd, 0))};`);
  }
  w.line(
    `const S: i32 = ${S}, H: i32 = ${H};`,
    `const rows = ${w.dim(layout.tokens)} * H;`,
    'const r0 = _t_split(rows, tid, nthreads), r1 = _t_split(rows, tid + 1, nthreads);',
    'let cachedValid = slot != 0 && load<i32>(slot) != 0 && load<usize>(slot, 4) == inv;',
    'let cached: i32 = cachedValid ? load<i32>(slot) - 1 : -1;',
    'for (let row = r0; row < r1; row++) {',
    'const bs = row / H;',
    'const h = row - bs * H;',
    `const p = load<i32>(${pp} + ((<usize>(${layout.perToken ? 'bs' : 'bs % S'})) << 2));`,
    'if (!cachedValid || p != cached) {',
    `for (let i = 0; i < ${half}; i++) {`,
    'const angle = <f32>(<f64>load<f32>(inv + ((<usize>i) << 2)) * <f64>p);',
    // One range reduction for both (musl's sincos: the same results as sin and cos apart).
    'NativeMath.sincos(<f64>angle);',
    `store<f32>(cosT + ((<usize>i) << 2), <f32>(<f64><f32>NativeMath.sincos_cos * ${att}));`,
    `store<f32>(sinT + ((<usize>i) << 2), <f32>(<f64><f32>NativeMath.sincos_sin * ${att}));`,
    '}',
    'cached = p; cachedValid = true;',
    'if (slot) { store<i32>(slot, p + 1); store<usize>(slot, inv, 4); }',
    '}',
    `const off = <usize>(${layout.headAt('bs', 'h')}) << 2;`,
    `const xr = ${xp} + off, yr = ${yp} + off;`,
    // Each pair is read before it is written, so x and y may be the same buffer.
    `for (let i = 0; i < ${half}; i++) {`,
    `const j1 = ${interleaved ? '2 * i' : 'i'}, j2 = ${interleaved ? '2 * i + 1' : `i + ${half}`};`,
    'const x1 = <f64>load<f32>(xr + ((<usize>j1) << 2)), x2 = <f64>load<f32>(xr + ((<usize>j2) << 2));',
    'const c = <f64>load<f32>(cosT + ((<usize>i) << 2)), s = <f64>load<f32>(sinT + ((<usize>i) << 2));',
    'store<f32>(yr + ((<usize>j1) << 2), <f32>(x1 * c - x2 * s));',
    'store<f32>(yr + ((<usize>j2) << 2), <f32>(x2 * c + x1 * s));',
    '}',
  );
  // Dims past rotary_dim pass through.
  if (rd < D && !inPlace) w.line(`_t_copy(yr + ${rd * 4}, xr + ${rd * 4}, ${(D - rd) * 4});`);
  w.line('}');
  return w.finish();
}

function emitRope(node: Node): WasmKernel[] {
  const [x, pos] = node.inputs;
  if (x.type.dtype !== 'f32') throw new Error(`rope reads f32 activations, got ${x.type.dtype}`);
  const batched = x.type.shape.length === 4;
  const [Bd, Sd, Hd, D] = batched ? x.type.shape : [1, ...x.type.shape];
  if (typeof D !== 'number') throw new Error('rope needs a static head dim');
  return [emitRopeKernel(node.attrs, {
    family: 'rope',
    x: { kind: 'operand', index: 0 },
    y: { kind: 'result', index: 0 },
    pos: { kind: 'operand', index: 1 },
    perToken: pos.type.shape.length === 2,
    S: Sd,
    tokens: dimMul(Bd, Sd),
    heads: Hd,
    headDim: D,
    headAt: (bs, h) => `(${bs} * H + ${h}) * ${D}`,
  })];
}

export const ropeEmitters: Record<string, (node: Node) => WasmKernel[]> = { rope: emitRope };
