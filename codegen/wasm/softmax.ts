// softmax along one axis. The tensor is viewed as [outer, len, inner]: along the last axis
// (inner = 1) each row is contiguous and is done four lanes at a time in three passes (max;
// exp and sum, writing the exponentials; scale); along another axis four neighbouring columns
// (inner indices) are done at once, one lane each. Threads split rows, or column quads.
import { dimProduct } from '../../ir/dim.js';
import type { Node } from '../../ir/graph.js';
import { normAxis } from '../../ir/ops/util.js';
import { KernelWriter, type WasmKernel } from './kernel.js';

function emitSoftmax(node: Node): WasmKernel[] {
  const x = node.inputs[0];
  if (x.type.dtype !== 'f32') throw new Error(`softmax reads f32 activations, got ${x.type.dtype}`);
  const shape = x.type.shape;
  const axis = normAxis(node.attrs.axis as number, shape.length);
  const w = new KernelWriter('softmax');
  const xp = w.ptr({ kind: 'operand', index: 0 }, 'px');
  const yp = w.ptr({ kind: 'result', index: 0 }, 'py');
  const len = w.dim(shape[axis]);
  const outer = w.dim(dimProduct(shape.slice(0, axis)));
  const innerDims = shape.slice(axis + 1);
  w.line(`const len: i32 = ${len};`);
  if (innerDims.length === 0 || dimProduct(innerDims) === 1) {
    w.line(
      `const r0 = _t_split(${outer}, tid, nthreads), r1 = _t_split(${outer}, tid + 1, nthreads);`,
      'for (let r = r0; r < r1; r++) {',
      `const xr = ${xp} + (<usize>r) * (<usize>len) * 4, yr = ${yp} + (<usize>r) * (<usize>len) * 4;`,
      'let mv = f32x4.splat(-Infinity);',
      'let i = 0;',
      'for (; i + 4 <= len; i += 4) mv = f32x4.max(mv, v128.load(xr + ((<usize>i) << 2)));',
      'let m = _t_hmax(mv);',
      'for (; i < len; i++) m = max(m, load<f32>(xr + ((<usize>i) << 2)));',
      'const ms = f32x4.splat(m);',
      'let sv = f32x4.splat(0.0);',
      'i = 0;',
      'for (; i + 4 <= len; i += 4) {',
      'const e = _t_exp4(f32x4.sub(v128.load(xr + ((<usize>i) << 2)), ms));',
      'v128.store(yr + ((<usize>i) << 2), e); sv = f32x4.add(sv, e);',
      '}',
      'let s = _t_hsum(sv);',
      'for (; i < len; i++) { const e = _t_exp(load<f32>(xr + ((<usize>i) << 2)) - m); store<f32>(yr + ((<usize>i) << 2), e); s += e; }',
      'const inv = f32x4.splat(<f32>(1.0 / <f64>s));',
      'i = 0;',
      'for (; i + 4 <= len; i += 4) v128.store(yr + ((<usize>i) << 2), f32x4.mul(v128.load(yr + ((<usize>i) << 2)), inv));',
      'for (; i < len; i++) store<f32>(yr + ((<usize>i) << 2), load<f32>(yr + ((<usize>i) << 2)) * f32x4.extract_lane(inv, 0));',
      '}',
    );
    return [w.finish()];
  }
  // Strided: lanes are neighbouring inner indices c..c+3 (masked to those < inner).
  const inner = w.dim(dimProduct(innerDims));
  w.line(
    `const inner: i32 = ${inner};`,
    'const quads = (inner + 3) >> 2;',
    `const items = ${outer} * quads;`,
    'const it0 = _t_split(items, tid, nthreads), it1 = _t_split(items, tid + 1, nthreads);',
    'for (let it = it0; it < it1; it++) {',
    'const o = it / quads;',
    'const c = (it - o * quads) << 2;',
    'const lanes = min(4, inner - c);',
    'const base = (<usize>o) * (<usize>len) * (<usize>inner) + <usize>c;',
    'const stride = (<usize>inner) << 2;',
    // Partial quads read lane by lane so they never touch the next row's elements.
    'let m = f32x4.splat(-Infinity);',
    'for (let k = 0; k < len; k++) {',
    'const at = ' + xp + ' + (base << 2) + (<usize>k) * stride;',
    'const v = lanes == 4 ? v128.load(at) : _t_lanes(at, lanes, -Infinity);',
    'm = f32x4.max(m, v);',
    '}',
    'let s = f32x4.splat(0.0);',
    'for (let k = 0; k < len; k++) {',
    'const at = ' + xp + ' + (base << 2) + (<usize>k) * stride;',
    'const v = lanes == 4 ? v128.load(at) : _t_lanes(at, lanes, -Infinity);',
    'const e = _t_exp4(f32x4.sub(v, m));',
    's = f32x4.add(s, e);',
    `_t_store_lanes(${yp} + (base << 2) + (<usize>k) * stride, e, lanes);`,
    '}',
    'const inv = f32x4.div(f32x4.splat(1.0), s);',
    'for (let k = 0; k < len; k++) {',
    `const at = ${yp} + (base << 2) + (<usize>k) * stride;`,
    'const v = lanes == 4 ? v128.load(at) : _t_lanes(at, lanes, 0);',
    '_t_store_lanes(at, f32x4.mul(v, inv), lanes);',
    '}',
    '}',
  );
  return [w.finish()];
}

export const softmaxEmitters: Record<string, (node: Node) => WasmKernel[]> = { softmax: emitSoftmax };
