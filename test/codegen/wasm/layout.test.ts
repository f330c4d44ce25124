// Data-movement and lookup kernels: embedding (every table dtype), reshape, transpose, split,
// concat, slice (static and symbolic bounds), kv_append, plus argmax and mean_pool.
import { afterAll, beforeAll, describe, it } from 'vitest';
import { convertF32, dimSub, type DType, findOp, type HostTensor, i32 } from '../../../ir/index.js';
import { B, checkAll, draw, fc, type OpCase, P, randomF32, randomI32, S, setupSuite, type Suite } from './harness.js';

const small = fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 7 }), fc.integer({ min: 8, max: 40 }));

function asDtype(t: HostTensor, d: DType): HostTensor {
  if (d === 'i32') return i32(t.shape, Array.from(t.data as Float32Array, (v) => Math.round(v * 1000)));
  return d === 'f32' ? t : convertF32(t, d);
}

function cases(): OpCase[] {
  const out: OpCase[] = [];
  const add = (c: OpCase) => { if (findOp(c.op)) out.push(c); };
  const seeds = draw(fc.record({ a: small, b: small, c: small, seed: fc.nat(), perm: fc.nat(), sym: fc.boolean() }), 40, 31);

  // embedding
  const tableTypes: DType[] = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0'];
  seeds.slice(0, 10).forEach((d, i) => {
    const dt = tableTypes[i % 5];
    const D = [d.a, 32, 64, 33, d.b + 30][i % 5];
    const V = d.c + 2;
    const ids = randomI32(i % 2 ? [2, d.b] : [d.b], d.seed, 0, V);
    add({ label: `embedding ${dt}[${V}, ${D}] ids[${ids.shape}]`, op: 'embedding', operands: [{ t: convertF32(randomF32([V, D], d.seed), dt) }, { t: ids, shape: i % 2 ? [2, S] : [S] }], attrs: {} });
  });

  const dts: DType[] = ['f32', 'i32', 'f16'];
  seeds.forEach((d, i) => {
    const dt = dts[i % 3];
    const x3 = asDtype(randomF32([d.a, d.b, d.c], d.seed), dt);
    switch (i % 8) {
      case 0: add({ label: `reshape ${dt}[${x3.shape}]`, op: 'reshape', operands: [{ t: x3, shape: d.sym ? [S, d.b, d.c] : undefined }], attrs: { shape: d.sym ? [S, d.b * d.c] : [d.a * d.b, d.c] } }); break;
      case 1: {
        const perms = [[1, 0, 2], [2, 1, 0], [0, 2, 1], [1, 2, 0], [2, 0, 1], [0, 1, 2]];
        const perm = perms[d.perm % perms.length];
        add({ label: `transpose ${dt}[${x3.shape}] ${perm}`, op: 'transpose', operands: [{ t: x3, shape: d.sym ? [S, d.b, d.c] : undefined }], attrs: { perm } });
        break;
      }
      case 2: {
        const axis = d.perm % 3;
        const n = x3.shape[axis];
        const sizes = n === 1 ? [1] : [1 + (d.seed % (n - 1)), n - 1 - (d.seed % (n - 1))];
        add({ label: `split ${dt}[${x3.shape}] axis ${axis} ${sizes}`, op: 'split', operands: [{ t: x3 }], attrs: { axis, sizes } });
        break;
      }
      case 3: {
        const axis = d.perm % 3;
        const other = x3.shape.map((v, k) => (k === axis ? 1 + (d.seed % 5) : v));
        add({ label: `concat ${dt}[${x3.shape}] + [${other}] axis ${axis}`, op: 'concat', operands: [{ t: x3 }, { t: asDtype(randomF32(other, d.seed + 1), dt) }, { t: x3 }], attrs: { axis } });
        break;
      }
      case 4: {
        const axis = d.perm % 3;
        const n = x3.shape[axis];
        const start = d.seed % n, end = start + 1 + ((d.seed >> 4) % (n - start));
        add({ label: `slice ${dt}[${x3.shape}] axis ${axis} ${start}:${end}`, op: 'slice', operands: [{ t: x3 }], attrs: { axis, start, end } });
        // The last token of a symbolic sequence.
        add({ label: `slice ${dt}[S=${d.a}, ..] S-1:S`, op: 'slice', operands: [{ t: x3, shape: [S, d.b, d.c] }], attrs: { axis: 0, start: dimSub(S, 1), end: S } });
        break;
      }
      case 5: {
        const past = asDtype(randomF32([d.a - 1, 2, d.c], d.seed), dt), next = asDtype(randomF32([d.b, 2, d.c], d.seed + 1), dt);
        add({ label: `kv_append ${dt} P=${d.a - 1} S=${d.b}`, op: 'kv_append', operands: [{ t: past, shape: [P, 2, d.c] }, { t: next, shape: [S, 2, d.c] }], attrs: {} });
        const pb = asDtype(randomF32([2, d.a, 3, d.c], d.seed), dt), nb = asDtype(randomF32([2, d.b, 3, d.c], d.seed + 2), dt);
        add({ label: `kv_append batched ${dt} P=${d.a} S=${d.b}`, op: 'kv_append', operands: [{ t: pb, shape: [B, P, 3, d.c] }, { t: nb, shape: [B, S, 3, d.c] }], attrs: {} });
        break;
      }
      case 6: {
        // Small integers make ties likely: the first maximum must win.
        const x = randomI32([d.a, d.b + d.c], d.seed, -3, 4);
        add({ label: `argmax [${x.shape}]`, op: 'argmax', operands: [{ t: convertF32({ ...x, dtype: 'f32', data: Float32Array.from(x.data as Int32Array) }, 'f32'), shape: d.sym ? [S, d.b + d.c] : undefined }], attrs: {} });
        break;
      }
      case 7: {
        const mask = randomI32([d.a, d.b], d.seed, 0, 2);
        if (d.a > 1) (mask.data as Int32Array).fill(0, 0, d.b); // an all-padding row pools to zeros
        const maskT = d.perm % 2 ? mask : convertF32({ ...mask, dtype: 'f32', data: Float32Array.from(mask.data as Int32Array) }, 'f32');
        add({ label: `mean_pool [${d.a}, ${d.b}, ${d.c}] mask ${maskT.dtype}`, op: 'mean_pool', operands: [{ t: randomF32([d.a, d.b, d.c], d.seed) }, { t: maskT }], attrs: {} });
        break;
      }
    }
  });
  // argmax rows long enough for the kernel's four vector sets, ties everywhere (the first wins).
  [16, 17, 31, 64, 100, 257].forEach((D, i) => {
    const x = randomI32([i % 3 + 1, D], 40 + i, -3, 4);
    add({ label: `argmax [${x.shape}] (ties)`, op: 'argmax', operands: [{ t: { ...x, dtype: 'f32', data: Float32Array.from(x.data as Int32Array) } }], attrs: {} });
  });
  // A single row of ≥ 256 per thread is split across threads (the greedy decode's logits): ties
  // across the split (the first range's maximum must win), and a maximum only in the last
  // thread's remainder past its whole vectors.
  [512, 513, 1000, 4099].forEach((D, i) => {
    const x = randomI32([1, D], 50 + i, -3, 4);
    add({ label: `argmax [${x.shape}] (one row, ties)`, op: 'argmax', operands: [{ t: { ...x, dtype: 'f32', data: Float32Array.from(x.data as Int32Array) }, shape: i % 2 ? [S, D] : undefined }], attrs: {} });
  });
  const rising = Float32Array.from({ length: 1037 }, (_, k) => Math.sin(k) + k / 1037);
  add({ label: 'argmax [1, 1037] (maximum in the tail)', op: 'argmax', operands: [{ t: { dtype: 'f32', shape: [1, 1037], data: rising } }], attrs: {} });
  add({ label: 'kv_append P=0', op: 'kv_append', operands: [{ t: randomF32([0, 2, 4], 1), shape: [P, 2, 4] }, { t: randomF32([3, 2, 4], 2), shape: [S, 2, 4] }], attrs: {} });
  return out;
}

describe('wasm layout, embedding and reduction kernels', () => {
  let suite: Suite;
  beforeAll(async () => { suite = await setupSuite(cases()); });
  afterAll(async () => { await suite?.pool.dispose(); });
  it('match the reference at 1 and 2 threads', () => checkAll(suite));
});
