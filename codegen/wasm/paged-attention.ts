// CPU kernels of the paged KV ops (ir/ops/paged-attention.ts).
//
// paged_kv_write: when the memory plan writes the pool in place (a state) the result is the
// operand and only the S new rows move; otherwise a first kernel copies the pool, and after the
// barrier the second scatters the rows (one work item per row, each a run of H·D floats).
//
// paged_attention: a work item is (row r, head h), dealt round-robin to threads. Each walks its
// row's visible positions through the block table: scores q·k (SIMD over the head dim) into
// per-thread scratch with their maximum, then e^(s − max) and their sum, then Σ p·v accumulated in
// scratch (SIMD over the value dim) and divided by the sum. Rows of a decode step have at most the
// context's positions, so scratch holds M·BS scores per thread.
import type { Node } from '../../ir/graph.js';
import { f32Lit, KernelWriter, type WasmKernel } from './kernel.js';

function staticDim(node: Node, d: unknown, what: string): number {
  if (typeof d !== 'number') throw new Error(`${node.op} needs a static ${what}`);
  return d;
}

function emitPagedKvWrite(node: Node): WasmKernel[] {
  const [pool, next] = node.inputs;
  const [n, bs, h, d] = pool.type.shape.map((x, i) => staticDim(node, x, `pool dim ${i}`));
  const m = staticDim(node, node.inputs[2].type.shape[1], 'block table width');
  const rowBytes = h * d * 4;
  const copy = new KernelWriter('paged_kv_copy');
  copy.ptr({ kind: 'operand', index: 0 }, 'pp');
  copy.ptr({ kind: 'result', index: 0 }, 'py');
  // Not in place: each thread copies its share of the pool's blocks.
  copy.line(
    'if (py != pp) {',
    `const b0 = _t_split(${n}, tid, nthreads), b1 = _t_split(${n}, tid + 1, nthreads);`,
    `_t_copy(py + (<usize>b0) * ${bs * rowBytes}, pp + (<usize>b0) * ${bs * rowBytes}, (<usize>(b1 - b0)) * ${bs * rowBytes});`,
    '}',
  );
  const scatter = new KernelWriter('paged_kv_write');
  scatter.ptr({ kind: 'operand', index: 1 }, 'pn');
  scatter.ptr({ kind: 'operand', index: 2 }, 'pb');
  scatter.ptr({ kind: 'operand', index: 3 }, 'ppos');
  scatter.ptr({ kind: 'result', index: 0 }, 'py');
  scatter.line(
    `const S: i32 = ${scatter.dim(next.type.shape[0])};`,
    'for (let r = tid; r < S; r += nthreads) {',
    'const p = load<i32>(ppos + ((<usize>r) << 2));',
    `const block = load<i32>(pb + ((<usize>(r * ${m} + p / ${bs})) << 2));`,
    `_t_copy(py + (<usize>(block * ${bs} + p % ${bs})) * ${rowBytes}, pn + (<usize>r) * ${rowBytes}, ${rowBytes});`,
    '}',
  );
  return [copy.finish(), scatter.finish()];
}

function emitPagedAttention(node: Node): WasmKernel[] {
  const [q, k, v, blocks] = node.inputs;
  if (q.type.dtype !== 'f32') throw new Error(`q must be f32 (activations), got ${q.type.dtype}`);
  const hq = staticDim(node, q.type.shape[1], 'q heads');
  const d = staticDim(node, q.type.shape[2], 'head dim');
  const [, bs, hkv] = k.type.shape.map((x, i) => staticDim(node, x, `k dim ${i}`));
  const dv = staticDim(node, v.type.shape[3], 'value dim');
  const m = staticDim(node, blocks.type.shape[1], 'block table width');
  const scale = node.attrs.scale as number, cap = node.attrs.softcap as number, window = node.attrs.window as number;
  const group = hq / hkv;
  const d4 = d & ~3, dv4 = dv & ~3;
  const maxKeys = m * bs;
  const accAt = ((maxKeys + 3) & ~3) * 4;
  const threadBytes = accAt + ((dv + 3) & ~3) * 4;

  const w = new KernelWriter('paged_attention');
  w.ptr({ kind: 'operand', index: 0 }, 'pq');
  w.ptr({ kind: 'operand', index: 1 }, 'pk');
  w.ptr({ kind: 'operand', index: 2 }, 'pv');
  w.ptr({ kind: 'operand', index: 3 }, 'pb');
  w.ptr({ kind: 'operand', index: 4 }, 'pl');
  w.ptr({ kind: 'result', index: 0 }, 'py');
  w.ptr({ kind: 'scratch', slot: 0, bytes: threadBytes, perThread: true }, 'pscr');

  const dot = ['let e = f32x4.splat(0.0);'];
  for (let c = 0; c < d4; c += 4) dot.push(`e = _t_madd(v128.load(qrow, ${c * 4}), v128.load(krow, ${c * 4}), e);`);
  dot.push('let s = _t_hsum(e);');
  for (let c = d4; c < d; c++) dot.push(`s += load<f32>(qrow, ${c * 4}) * load<f32>(krow, ${c * 4});`);
  dot.push(`s *= ${f32Lit(scale)};`);
  if (cap > 0) dot.push(`s = ${f32Lit(cap)} * _t_tanh(s / ${f32Lit(cap)});`);

  const slot = (j: string) => `(<usize>(load<i32>(pb + ((<usize>(r * ${m} + ${j} / ${bs})) << 2)) * ${bs} + ${j} % ${bs}))`;
  w.line(
    `const S: i32 = ${w.dim(q.type.shape[0])};`,
    `const sc = pscr + (<usize>tid) * ${threadBytes};`,
    `const acc = sc + ${accAt};`,
    `for (let item = tid; item < S * ${hq}; item += nthreads) {`,
    `const r = item / ${hq}, h = item % ${hq};`,
    `const kh = h / ${group};`,
    'const len = load<i32>(pl + ((<usize>r) << 2));',
    `const first: i32 = ${window > 0 ? `max(0, len - ${window})` : '0'};`,
    `const qrow = pq + (<usize>(r * ${hq} + h)) * ${d * 4};`,
    `const out = py + (<usize>(r * ${hq} + h)) * ${dv * 4};`,
    `memory.fill(acc, 0, ${((dv + 3) & ~3) * 4});`,
    'let mx: f32 = -Infinity;',
    'for (let j = first; j < len; j++) {',
    `const krow = pk + (${slot('j')} * ${hkv} + <usize>kh) * ${d * 4};`,
    ...dot,
    'store<f32>(sc + ((<usize>(j - first)) << 2), s);',
    'mx = max(mx, s);',
    '}',
    'let l: f32 = 0;',
    'for (let j = first; j < len; j++) {',
    'const at = sc + ((<usize>(j - first)) << 2);',
    'const p = _t_exp(load<f32>(at) - mx);',
    'store<f32>(at, p);',
    'l += p;',
    '}',
    'for (let j = first; j < len; j++) {',
    'const p = load<f32>(sc + ((<usize>(j - first)) << 2));',
    'const pv4 = f32x4.splat(p);',
    `const vrow = pv + (${slot('j')} * ${hkv} + <usize>kh) * ${dv * 4};`,
    `for (let c = 0; c < ${dv4}; c += 4) v128.store(acc + ((<usize>c) << 2), _t_madd(pv4, v128.load(vrow + ((<usize>c) << 2)), v128.load(acc + ((<usize>c) << 2))));`,
    `for (let c = ${dv4}; c < ${dv}; c++) store<f32>(acc + ((<usize>c) << 2), load<f32>(acc + ((<usize>c) << 2)) + p * load<f32>(vrow + ((<usize>c) << 2)));`,
    '}',
    // No positions (length 0): zeros, as the reference.
    'const inv: f32 = l > 0 ? <f32>1.0 / l : <f32>0.0;',
    `for (let c = 0; c < ${dv}; c++) store<f32>(out + ((<usize>c) << 2), load<f32>(acc + ((<usize>c) << 2)) * inv);`,
    '}',
  );
  return [w.finish()];
}

export const pagedAttentionEmitters: Record<string, (node: Node) => WasmKernel[]> = {
  paged_kv_write: emitPagedKvWrite,
  paged_attention: emitPagedAttention,
};
