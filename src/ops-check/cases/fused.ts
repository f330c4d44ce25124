// The fused ops the passes make: fused_elementwise (random programs over broadcast operands),
// matmul_ep and norm_matmul (bias, parts, epilogue programs with broadcast extras, every weight
// dtype) and rope_matmul (norm prologue, bias, RoPE over column ranges).
import { type AttrValue, type Dim, sym } from '../../../ir/index.js';
import type { Operand, OpCase, OpCases } from '../case.js';
import { type Draw, randomTensor, rng, size } from '../draw.js';
import { brief, positions, ropeAttrs } from './attention.js';
import { isQuantized, QUANTIZED_MIN_COLUMNS, QUANTIZED_NMSE, reductionSize, WEIGHT_DTYPES } from './matmul.js';

const S = sym('S'), B = sym('B');
const FNS = ['silu', 'sigmoid', 'tanh', 'relu', 'gelu', 'gelu_tanh', 'softcap', 'exp'];
const LITERALS = ['0.5', '-1.25', '3', '0.001', '7'];

/**
 * A random program over x0…x(n−1) that reads every operand. exp and / only take leaves (no
 * overflow, no zero divisor), and + and − never join two sides that read the same operand: f(x) − x
 * cancels, and then no f32 evaluation (fused or not) stays close to the f64 reference.
 */
export function randomProgram(seed: number, n: number): string {
  const r = rng(seed);
  const pick = <V>(xs: readonly V[]): V => xs[Math.floor(r() * xs.length)];
  type Tree = { text: string; vars: Set<number> };
  const operand = (): Tree => {
    const k = Math.floor(r() * n);
    return { text: `x${k}`, vars: new Set([k]) };
  };
  const leaf = (): Tree => (r() < 0.8 ? operand() : { text: pick(LITERALS), vars: new Set() });
  const tree = (depth: number): Tree => {
    if (depth === 0 || r() < 0.25) return leaf();
    const k = r();
    if (k < 0.3) {
      const fn = pick(FNS);
      const arg = fn === 'exp' ? leaf() : tree(depth - 1);
      return { text: fn === 'softcap' ? `softcap(${arg.text}, ${pick(['2', '30'])})` : `${fn}(${arg.text})`, vars: arg.vars };
    }
    if (k < 0.4) {
      const arg = tree(depth - 1);
      return { text: `-${arg.text}`, vars: arg.vars };
    }
    let op = pick(['+', '-', '*', '/']);
    const lhs = tree(depth - 1);
    const rhs = op === '/' ? operand() : tree(depth - 1);
    if ((op === '+' || op === '-') && [...lhs.vars].some((v) => rhs.vars.has(v))) op = '*';
    return { text: `(${lhs.text}) ${op} (${rhs.text})`, vars: new Set([...lhs.vars, ...rhs.vars]) };
  };
  let p = tree(3);
  for (let k = 0; k < n; k++) if (!p.vars.has(k)) p = { text: `(${p.text}) * x${k}`, vars: new Set([...p.vars, k]) };
  return p.text;
}

/** Epilogues by number of parts (acc0…). */
const EPILOGUES: Record<number, readonly string[]> = {
  1: ['acc0', 'gelu(acc0)', 'silu(acc0)', 'softcap(acc0, 4)', 'relu(acc0) * 0.5', 'tanh(acc0)', 'acc0 * -1.25 + 0.5', 'sigmoid(acc0)', 'gelu_tanh(acc0)', 'exp(acc0 * 0.125)'],
  2: ['silu(acc0) * acc1', 'gelu_tanh(acc0) * acc1', 'acc0 - acc1', 'gelu(acc1) * acc0'],
  3: ['acc0 * acc1 + acc2', 'silu(acc2) * (acc0 - acc1)'],
  4: ['acc0 * acc1 + acc2 - acc3 * 0.5'],
};

/** An extra operand's shape for result [...lead, m]: full, a row of m, a column, one value, or a broadcast lead. */
function extraShape(kind: number, lead: readonly number[], m: number): number[] {
  switch (kind) {
    case 0: return [...lead, m];
    case 1: return [m];
    case 2: return [...lead, 1];
    case 3: return [1];
    default: return lead.length === 2 ? [1, lead[1], m] : [1, m];
  }
}

function projectionDraw(op: 'matmul_ep' | 'norm_matmul') {
  return (d: Draw): OpCase[] => {
    const wt = d.pick(WEIGHT_DTYPES), k = reductionSize(d), parts = d.pick([1, 1, 2, 3, 4]);
    const m = Math.max(d.pick([size(d, 40), 1, 32, 33]), isQuantized(wt) ? QUANTIZED_MIN_COLUMNS : 1);
    const r = d.pick([1, size(d, 40)]), lead = d.bool() && r % 2 === 0 ? [2, r / 2] : [r];
    const bias = d.bool(), symbolic = d.bool(), seed = d.seed(), n = m * parts;
    const x = randomTensor('f32', [...lead, k], seed, 1.5);
    const layer = op === 'norm_matmul' && d.bool();
    // LayerNorm rows get an offset, so that subtracting the mean matters.
    if (layer) {
      const xs = x.data as Float32Array;
      for (let row = 0; row < xs.length / k; row++) for (let c = 0; c < k; c++) xs[row * k + c] += (row % 3) - 1.5;
    }
    const operands: Operand[] = [
      { t: x, shape: symbolic ? [...lead.slice(0, -1), S, k] : undefined },
      { t: randomTensor(wt, [n, k], seed + 7, 0.5) },
      ...(bias ? [{ t: randomTensor('f32', [n], seed + 9) }] : []),
    ];
    const symLead: Dim[] = symbolic ? [...lead.slice(0, -1), S] : lead;
    let epilogue = d.pick(EPILOGUES[parts]);
    const extras = d.int(0, 2);
    for (let j = 0; j < extras; j++) {
      const shape = extraShape(d.int(0, 4), lead, m);
      const t = randomTensor(j === 0 && d.bool() ? 'f16' : 'f32', shape, seed + 20 + j, 2);
      const sym = symbolic && shape.length === lead.length + 1 && shape[shape.length - 2] === lead[lead.length - 1] && lead[lead.length - 1] !== 1;
      operands.push({ t, shape: sym ? [...shape.slice(0, -2), symLead[symLead.length - 1], shape[shape.length - 1]] : undefined });
      epilogue = j % 2 ? `(${epilogue}) * x${j}` : `x${j} + ${epilogue}`;
    }
    const attrs: Record<string, AttrValue> = { bias, parts, epilogue };
    if (op === 'norm_matmul') Object.assign(attrs, { kind: layer ? 'layer' : 'rms', eps: layer ? 1e-5 : 1e-6 });
    return [{
      label: `${op} x[${lead}, ${k}] w:${wt}[${n}, ${k}] ${JSON.stringify(attrs)} extras ${operands.slice(2 + (bias ? 1 : 0)).map((o) => `[${o.t.shape}]`).join(' ')}${symbolic ? ' (S)' : ''}`,
      op, operands, attrs, ...(isQuantized(wt) ? { maxNmse: QUANTIZED_NMSE } : {}),
    }];
  };
}

export const fusedCases: readonly OpCases[] = [
  {
    op: 'fused_elementwise',
    draw: (d) => {
      const full = Array.from({ length: d.int(1, 3) }, () => size(d));
      const n = d.int(1, 3), at = d.int(0, n - 1), symbolic = d.bool() && full[0] !== 1, seed = d.seed();
      const shapes = Array.from({ length: n }, (_, k) => (k === at ? full : full.slice(d.int(0, full.length - 1)).map((s) => (d.bool() ? 1 : s))));
      const program = randomProgram(seed, n);
      const operands: Operand[] = shapes.map((s, k) => ({
        t: randomTensor(k === 1 && d.bool() ? 'f16' : 'f32', s, seed + k, 2),
        // Only an operand of full rank and full leading dim may take the symbolic S there.
        shape: symbolic && s.length === full.length && s[0] === full[0] ? [S, ...s.slice(1)] : undefined,
      }));
      return [{ label: `fused_elementwise "${program}" ${shapes.map((s) => `[${s}]`).join(' ')}`, op: 'fused_elementwise', operands, attrs: { program } }];
    },
  },
  { op: 'matmul_ep', draw: projectionDraw('matmul_ep') },
  { op: 'norm_matmul', draw: projectionDraw('norm_matmul') },
  {
    op: 'rope_matmul',
    draw: (d) => {
      const wt = d.pick(WEIGHT_DTYPES), s = d.pick([1, d.int(2, 9)]), batched = d.bool();
      const hq = d.int(1, 4), layout = d.pick(['qk', 'split', 'k']), hk = layout === 'k' ? d.int(1, 2) : d.int(0, 2), hv = d.int(0, 2);
      const hd = 2 * d.int(isQuantized(wt) ? QUANTIZED_MIN_COLUMNS / 2 : 1, 12), k = reductionSize(d), norm = d.pick(['none', 'rms', 'layer']), bias = d.bool();
      const n = (hq + hk + hv) * hd, q = hq * hd, kEnd = (hq + hk) * hd;
      const cols = layout === 'k' ? [q, kEnd] : layout === 'split' && hk > 0 ? [0, q, q, kEnd] : [0, kEnd];
      const attrs: Record<string, AttrValue> = { norm, eps: 1e-5, head_dim: hd, rope_cols: cols, ...ropeAttrs(d, hd, !isQuantized(wt)) };
      const pos = positions(d, s, batched), seed = d.seed();
      const lead = batched ? [2, s] : [s];
      const operands: Operand[] = [
        { t: randomTensor('f32', [...lead, k], seed, 1.5), shape: batched ? [B, S, k] : [S, k] },
        { t: randomTensor(wt, [n, k], seed + 7, 0.5) },
        { t: pos.t, shape: pos.shape },
        ...(bias ? [{ t: randomTensor('f32', [n], seed + 9) }] : []),
      ];
      return [{
        label: `rope_matmul x[${lead}, ${k}] w:${wt}[${n}, ${k}] pos[${pos.t.shape}]@${pos.past}${bias ? ' +bias' : ''} ${brief(attrs)}`,
        op: 'rope_matmul', operands, attrs, ...(isQuantized(wt) ? { maxNmse: QUANTIZED_NMSE } : {}),
      }];
    },
  },
];
