// The fused projections on the CPU kernels against the reference interpreter at 1 and 2 threads,
// held to what the op table (src/ops-check, NMSE) cannot express: quantized products within the
// per-element bound that 8-bit activations allow, carried through epilogues and RoPE; and
// norm_matmul's 16-row prologue slabs (K ≥ 4097). matmul_ep and norm_matmul (bias, parts,
// epilogues with broadcast extras), rope_matmul (norm prologue, bias, partial/interleaved/scaled
// RoPE over column ranges). fused_elementwise and flash_attention are cases of the op table only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { programToAs } from '../../../codegen/wasm/program-expr.js';
import { convertF32, type Dim, type DType, type HostTensor, i32, toF32 } from '../../../ir/index.js';
import '../../../ir/ops/index.js';
import { erf } from '../../../ir/ops/erf.js';
import { normalize, project } from '../../../ir/ops/fused.js';
import { type Expr, parseProgram } from '../../../ir/ops/program.js';
import { broadcastIndex } from '../../../ir/ops/util.js';
import { B, type Check, checkAll, draw, fc, type Operand, type OpCase, quantizedProductBounds, randomF32, rng, S, setupSuite, type Suite } from './harness.js';

const FLOAT_W: readonly DType[] = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0'];
const isQuant = (d: DType) => d === 'q8_0' || d === 'q4_0';
const dimArb = fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 9 }), fc.integer({ min: 10, max: 80 }), fc.constantFrom(31, 32, 33, 64, 100));

// ---- quantized projections: the reference within the bound that 8-bit activations allow ----------

/** Largest |f′| of each program function (exp's is taken at the interval's top). */
const SLOPE: Record<string, number> = { silu: 1.1, sigmoid: 0.25, tanh: 1, relu: 1, gelu: 1.13, gelu_tanh: 1.13, softcap: 1 };
const FN: Record<string, (x: number, lit?: number) => number> = {
  silu: (x) => x / (1 + Math.exp(-x)),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  tanh: Math.tanh,
  relu: (x) => Math.max(x, 0),
  gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  gelu_tanh: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  softcap: (x, cap) => cap! * Math.tanh(x / cap!),
  exp: Math.exp,
};

/** A program's value and how far it may move when each variable moves within its bound. */
function propagate(e: Expr, env: (space: 'x' | 'acc', index: number) => [number, number]): [number, number] {
  if (e.kind === 'num') return [e.value, 0];
  if (e.kind === 'var') return env(e.space, e.index);
  if (e.kind === 'neg') {
    const [v, b] = propagate(e.arg, env);
    return [-v, b];
  }
  if (e.kind === 'call') {
    const [v, b] = propagate(e.args[0], env);
    const lit = e.args[1]?.kind === 'num' ? e.args[1].value : undefined;
    const slope = e.fn === 'exp' ? Math.exp(v + b) : SLOPE[e.fn];
    return [FN[e.fn](v, lit), slope * b];
  }
  const [a, ea] = propagate(e.lhs, env), [b, eb] = propagate(e.rhs, env);
  switch (e.op) {
    case '+': return [a + b, ea + eb];
    case '-': return [a - b, ea + eb];
    case '*': return [a * b, Math.abs(a) * eb + Math.abs(b) * ea + ea * eb];
    case '/': return [a / b, Math.abs(b) > eb ? (Math.abs(a) * eb + Math.abs(b) * ea) / (Math.abs(b) * (Math.abs(b) - eb)) : Infinity];
  }
}

/** Values of `t` at every element of `shape` (broadcast). */
function spread(t: HostTensor, shape: readonly number[]): Float32Array {
  const src = toF32(t);
  return Float32Array.from(broadcastIndex(t.shape, shape), (i) => src[i]);
}

interface ProjectionSpec {
  readonly norm?: { kind: 'rms' | 'layer'; eps: number };
  readonly bias: boolean;
  readonly parts: number;
  readonly epilogue: string;
}

/**
 * matmul_ep / norm_matmul with quantized weights: every result element within the product bounds
 * carried through the epilogue, plus f32 rounding slack.
 */
function quantEpilogueCheck(spec: ProjectionSpec): Check {
  return (got, want, operands) => {
    const [x, w, ...rest] = operands;
    const bias = spec.bias ? rest.shift() : undefined;
    const xs = spec.norm ? toF32(normalize(x, spec.norm, {})) : toF32(x);
    const prod = toF32(project(x, w, bias, spec.norm, {}));
    const beta = quantizedProductBounds(xs, w);
    const n = w.shape[0], m = n / spec.parts, rows = prod.length / n;
    const extras = rest.map((e) => spread(e, want.shape));
    const program = parseProgram(spec.epilogue);
    const g = got.data as Float32Array, v = want.data as Float32Array;
    let mean = 0;
    for (const y of v) mean += Math.abs(y) / v.length;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < m; c++) {
        const e = r * m + c;
        const [, bound] = propagate(program, (space, k) => (space === 'acc' ? [prod[r * n + k * m + c], beta[r * n + k * m + c]] : [extras[k][e], 0]));
        const tol = bound + 1e-5 * Math.max(Math.abs(v[e]), mean);
        if (!(Math.abs(g[e] - v[e]) <= tol)) return `[${r}, ${c}]: got ${g[e]}, want ${v[e]} (|Δ| ${Math.abs(g[e] - v[e]).toExponential(2)} > ${tol.toExponential(2)})`;
      }
    }
    return undefined;
  };
}

// ---- matmul_ep and norm_matmul ----------------------------------------------------------------------

const BASE: Record<number, readonly string[]> = {
  1: ['acc0', 'gelu(acc0)', 'silu(acc0)', 'softcap(acc0, 4)', 'relu(acc0) * 0.5', 'tanh(acc0)', 'acc0 * -1.25 + 0.5', 'sigmoid(acc0)', 'gelu_tanh(acc0)', 'exp(acc0 * 0.125)'],
  2: ['silu(acc0) * acc1', 'gelu_tanh(acc0) * acc1', 'acc0 - acc1', 'gelu(acc1) * acc0'],
  3: ['acc0 * acc1 + acc2', 'silu(acc2) * (acc0 - acc1)'],
};

/** An extra operand's shape for result [...lead, m]: full, a row of m, a column, one value, or a broadcast lead. */
function extraShape(kind: number, lead: readonly number[], m: number): number[] {
  switch (kind % 5) {
    case 0: return [...lead, m];
    case 1: return [m];
    case 2: return [...lead, 1];
    case 3: return [1];
    default: return lead.length === 2 ? [1, lead[1], m] : [1, m];
  }
}

function projectionCases(op: 'matmul_ep' | 'norm_matmul', seed: number): OpCase[] {
  const draws = draw(fc.record({
    rows: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 40 })), k: dimArb, m: fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 9 }), fc.integer({ min: 10, max: 40 }), fc.constantFrom(32, 33, 64)),
    parts: fc.constantFrom(1, 1, 2, 3), bias: fc.boolean(), extras: fc.array(fc.nat({ max: 4 }), { maxLength: 2 }), base: fc.nat(), lead: fc.boolean(),
    symbolic: fc.boolean(), half: fc.boolean(), layer: fc.boolean(), shift: fc.boolean(), seed: fc.nat(),
  }), 40, seed);
  // K ≥ 4097 gives norm_matmul's prologue 16-row slabs (codegen/wasm/matmul.ts): 37 rows span three.
  const slabs = op === 'norm_matmul'
    ? [{ rows: 37, k: 4099, m: 9, parts: 2, bias: true, extras: [0], base: 0, lead: false, symbolic: true, half: false, layer: false, shift: false, seed: 5 },
      { rows: 34, k: 4104, m: 5, parts: 1, bias: false, extras: [], base: 2, lead: true, symbolic: false, half: false, layer: true, shift: true, seed: 6 }]
    : [];
  return [...draws, ...slabs].map((d, i) => {
    const wt = FLOAT_W[i % FLOAT_W.length];
    const n = d.m * d.parts;
    const lead = d.lead && d.rows % 2 === 0 ? [2, d.rows / 2] : [d.rows];
    const x = randomF32([...lead, d.k], d.seed, 1.5);
    // LayerNorm rows get an offset, so that subtracting the mean matters.
    if (op === 'norm_matmul' && d.shift) {
      const xs = x.data as Float32Array;
      for (let r = 0; r < xs.length / d.k; r++) for (let c = 0; c < d.k; c++) xs[r * d.k + c] += (r % 3) - 1.5;
    }
    const operands: Operand[] = [
      { t: x, shape: d.symbolic ? [...lead.slice(0, -1), S, d.k] : undefined },
      { t: convertF32(randomF32([n, d.k], d.seed + 7, 0.5), wt) },
    ];
    if (d.bias) operands.push({ t: randomF32([n], d.seed + 9) });
    const symLead: Dim[] = d.symbolic ? [...lead.slice(0, -1), S] : lead;
    let epilogue = BASE[d.parts][d.base % BASE[d.parts].length];
    d.extras.forEach((kind, j) => {
      const shape = extraShape(kind, lead, d.m);
      let t = randomF32(shape, d.seed + 20 + j, 2);
      if (d.half && j === 0) t = convertF32(t, 'f16');
      const symbolic = d.symbolic && shape.length === lead.length + 1 && shape[shape.length - 2] === lead[lead.length - 1] && lead[lead.length - 1] !== 1;
      operands.push({ t, shape: symbolic ? [...shape.slice(0, -2), symLead[symLead.length - 1], shape[shape.length - 1]] : undefined });
      epilogue = j % 2 ? `(${epilogue}) * x${j}` : `x${j} + ${epilogue}`;
    });
    const norm = op === 'norm_matmul' ? { kind: d.layer ? 'layer' as const : 'rms' as const, eps: d.layer ? 1e-5 : 1e-6 } : undefined;
    const attrs = { bias: d.bias, parts: d.parts, epilogue, ...(norm ?? {}) };
    return {
      label: `${op} x[${lead}, ${d.k}] w:${wt}[${n}, ${d.k}] ${JSON.stringify(attrs)} extras ${operands.slice(2 + (d.bias ? 1 : 0)).map((o) => `[${o.t.shape}]`).join(' ')}${d.symbolic ? ' (S)' : ''}`,
      op, operands, attrs,
      check: isQuant(wt) ? quantEpilogueCheck({ norm, bias: d.bias, parts: d.parts, epilogue }) : undefined,
    };
  });
}

// ---- rope_matmul --------------------------------------------------------------------------------------

/** Quantized rope_matmul: a rotated element mixes two product elements, so its bound is their sum. */
function quantRopeCheck(norm: ProjectionSpec['norm'], hd: number, cols: readonly number[], rd: number, interleaved: boolean): Check {
  return (got, want, [x, w]) => {
    const xs = norm ? toF32(normalize(x, norm, {})) : toF32(x);
    const beta = quantizedProductBounds(xs, w);
    const n = w.shape[0], rows = beta.length / n, half = rd / 2;
    const g = got.data as Float32Array, v = want.data as Float32Array;
    let mean = 0;
    for (const y of v) mean += Math.abs(y) / v.length;
    const rotated = (c: number) => {
      for (let i = 0; i < cols.length; i += 2) if (c >= cols[i] && c < cols[i + 1]) return true;
      return false;
    };
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < n; c++) {
        let bound = beta[r * n + c];
        const inHead = c % hd;
        if (rotated(c) && inHead < rd) {
          const pair = interleaved ? c ^ 1 : inHead < half ? c + half : c - half;
          bound += beta[r * n + pair];
        }
        const e = r * n + c;
        const tol = bound + 1e-5 * Math.max(Math.abs(v[e]), mean);
        if (!(Math.abs(g[e] - v[e]) <= tol)) return `[${r}, ${c}]: got ${g[e]}, want ${v[e]} (|Δ| ${Math.abs(g[e] - v[e]).toExponential(2)} > ${tol.toExponential(2)})`;
      }
    }
    return undefined;
  };
}

function ropeMatmulCases(): OpCase[] {
  const draws = draw(fc.record({
    s: fc.oneof(fc.constant(1), fc.integer({ min: 2, max: 9 })), batched: fc.boolean(), perBatch: fc.boolean(),
    hq: fc.integer({ min: 1, max: 4 }), hk: fc.integer({ min: 0, max: 2 }), hv: fc.integer({ min: 0, max: 2 }), half: fc.integer({ min: 1, max: 12 }),
    layout: fc.constantFrom('qk', 'split', 'k'), k: dimArb, norm: fc.constantFrom('none', 'rms', 'layer'), bias: fc.boolean(),
    partial: fc.boolean(), interleaved: fc.boolean(), scaling: fc.constantFrom('none', 'llama3', 'longrope'), past: fc.integer({ min: 0, max: 40 }), seed: fc.nat(),
  }), 30, 53);
  return draws.map((d, i) => {
    const wt = FLOAT_W[i % FLOAT_W.length];
    const hd = 2 * d.half;
    const hk = d.layout === 'k' ? Math.max(d.hk, 1) : d.hk;
    const n = (d.hq + hk + d.hv) * hd;
    const q = d.hq * hd, kEnd = (d.hq + hk) * hd;
    const cols = d.layout === 'k' ? [q, kEnd] : d.layout === 'split' && hk > 0 ? [0, q, q, kEnd] : [0, kEnd];
    const rd = d.partial && d.half > 1 ? 2 * Math.ceil(d.half / 2) : 0;
    const rdEff = rd || hd;
    const attrs: Record<string, number | boolean | string | number[]> = {
      norm: d.norm, eps: 1e-5, head_dim: hd, rope_cols: cols,
      theta: [10000, 500000][d.seed % 2], rotary_dim: rd, interleaved: d.interleaved, scaling: isQuant(wt) ? 'none' : d.scaling,
    };
    if (attrs.scaling === 'llama3') Object.assign(attrs, { factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_positions: 16 });
    if (attrs.scaling === 'longrope') {
      const r = rng(d.seed);
      Object.assign(attrs, {
        original_max_positions: 20, max_positions: 80,
        short_factor: Array.from({ length: rdEff / 2 }, () => 1 + r()), long_factor: Array.from({ length: rdEff / 2 }, () => 1 + 4 * r()),
      });
    }
    const lead = d.batched ? [2, d.s] : [d.s];
    const posShape = d.batched && d.perBatch ? [2, d.s] : [d.s];
    const pos = i32(posShape, Array.from({ length: posShape.reduce((a, b) => a * b, 1) }, (_, j) => d.past + (j % d.s) + (j >= d.s ? 3 : 0)));
    const operands: Operand[] = [
      { t: randomF32([...lead, d.k], d.seed, 1.5), shape: d.batched ? [B, S, d.k] : [S, d.k] },
      { t: convertF32(randomF32([n, d.k], d.seed + 7, 0.5), wt) },
      { t: pos, shape: d.batched && d.perBatch ? [B, S] : [S] },
    ];
    if (d.bias) operands.push({ t: randomF32([n], d.seed + 9) });
    const norm = d.norm === 'none' ? undefined : { kind: d.norm as 'rms' | 'layer', eps: 1e-5 };
    return {
      label: `rope_matmul x[${lead}, ${d.k}] w:${wt}[${n}, ${d.k}] pos[${posShape}]@${d.past}${d.bias ? ' +bias' : ''} ${JSON.stringify({ ...attrs, short_factor: undefined, long_factor: undefined })}`,
      op: 'rope_matmul', operands, attrs,
      check: isQuant(wt) ? quantRopeCheck(norm, hd, cols, rdEff, d.interleaved) : undefined,
    };
  });
}

describe('wasm kernels of the fused ops', () => {
  let suite: Suite;
  beforeAll(async () => {
    suite = await setupSuite([...projectionCases('matmul_ep', 52), ...projectionCases('norm_matmul', 55), ...ropeMatmulCases()]);
  }, 300_000); // asc compiles the suite's module once: a minute or more on a loaded 2-core machine
  afterAll(async () => { await suite?.pool.dispose(); });
  it('match the reference at 1 and 2 threads', () => checkAll(suite));
});

describe('programToAs', () => {
  const x = (space: 'x' | 'acc', i: number) => `${space}${i}`;
  it('spells literals AS accepts, ±∞, NaN and −0 included, and folds literal arithmetic', () => {
    expect(programToAs('x0 * inf + nan', x).lines.join(' ')).toMatch(/<f32>Infinity.*<f32>NaN/);
    expect(programToAs('x0 * -0.0', x).lines.join(' ')).toContain('<f32>-0.0');
    expect(programToAs('x0 + 2 * 3', x).lines.join(' ')).toContain('<f32>6.0');
  });
  it('reads each variable once and names every step', () => {
    const code = programToAs('silu(acc0) * acc1 + acc0', x);
    expect(code.lines.filter((l) => l.includes('= acc0;'))).toHaveLength(1);
    expect(code.value).toMatch(/^_e\d+$/);
  });
});
