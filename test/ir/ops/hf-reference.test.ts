// The ops against real Hugging Face outputs (../shared/refs): small graphs written directly with
// the builder, run by the reference interpreter, compared with HF's float32 logits. This is not the
// model builders' test; it checks that rope (llama3, longrope + partial rotary), attention
// (GQA, sliding window, softcap, padding), the norms, GELUs, split and pooling mean what HF means.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type AttrValue, f32, GraphBuilder, type HostTensor, i32, type Value } from '../../../ir/index.js';
import { interpret } from '../../../runtime/reference/interpreter.js';
import { hasShared, sharedPath } from '../../helpers/shared.js';

/** An F32-only safetensors reader (the refs hold nothing else). */
function readWeights(arch: string): Map<string, HostTensor> {
  const buf = readFileSync(sharedPath('refs', arch, 'model.safetensors'));
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out = new Map<string, HostTensor>();
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [b, end] = e.data_offsets;
    const bytes = buf.subarray(8 + n + b, 8 + n + end);
    out.set(name, f32(e.shape, new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))));
  }
  return out;
}

interface Ref { json: Record<string, unknown>; get(name: string): Float32Array }

function readRef(arch: string): Ref {
  const json = JSON.parse(readFileSync(sharedPath('refs', arch, 'refA.json'), 'utf8')) as Record<string, unknown>;
  const bin = readFileSync(sharedPath('refs', arch, 'refA.bin'));
  const tensors = json.tensors as Record<string, { offset: number; nbytes: number }>;
  return {
    json,
    get(name) {
      const { offset, nbytes } = tensors[name];
      return new Float32Array(bin.buffer.slice(bin.byteOffset + offset, bin.byteOffset + offset + nbytes));
    },
  };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** A builder whose params are named checkpoint tensors with their real shapes. */
class Net {
  readonly b: GraphBuilder;
  private readonly params = new Map<string, Value>();
  constructor(readonly weights: Map<string, HostTensor>, symbols: string[]) {
    this.b = new GraphBuilder('ref', symbols);
  }
  w(name: string): Value {
    let v = this.params.get(name);
    if (!v) {
      const t = this.weights.get(name);
      if (!t) throw new Error(`no tensor ${name}`);
      v = this.b.param(name.replace(/[^A-Za-z0-9_.]/g, '_'), 'f32', t.shape, name);
      this.params.set(name, v);
    }
    return v;
  }
  op(op: string, xs: Value[], attrs: Record<string, AttrValue> = {}): Value {
    return this.b.op(op, xs, attrs);
  }
  run(inputs: Record<string, HostTensor>): Record<string, HostTensor> {
    const g = this.b.finish();
    return interpret(g, {
      inputs,
      params: (p) => this.weights.get((p.def as { source: { name: string } }).source.name)!,
    }).outputs;
  }
}

interface Decoder {
  arch: string;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  eps: number;
  rope: Record<string, AttrValue>;
  window?: (layer: number) => number;
  fused?: boolean; // Phi-3 qkv_proj / gate_up_proj
  gemma2?: { softcap: number; finalSoftcap: number; scale: number };
  tied: boolean;
}

/** Llama-family forward over ids [S] at positions 0..S-1; returns logits [S, vocab]. */
function decoderLogits(c: Decoder, weights: Map<string, HostTensor>, ids: number[]): Float32Array {
  const n = new Net(weights, ['S']);
  const S = n.b.sym('S');
  const tokens = n.b.input('tokens', 'i32', [S]), pos = n.b.input('pos', 'i32', [S]);
  const L = (i: number, name: string) => `model.layers.${i}.${name}`;
  const norm = (x: Value, w: string) => n.op('rms_norm', [x, n.w(w)], { eps: c.eps, offset: c.gemma2 ? 1 : 0 });
  const hidden = weights.get('model.embed_tokens.weight')!.shape[1];
  let x = n.op('embedding', [n.w('model.embed_tokens.weight'), tokens]);
  if (c.gemma2) x = n.op('scale', [x], { factor: Math.fround(Math.sqrt(hidden)) });
  const qn = c.heads * c.headDim, kn = c.kvHeads * c.headDim;
  for (let i = 0; i < c.layers; i++) {
    const h = norm(x, L(i, 'input_layernorm.weight'));
    let q: Value, k: Value, v: Value;
    if (c.fused) [q, k, v] = n.b.ops('split', [n.op('matmul', [h, n.w(L(i, 'self_attn.qkv_proj.weight'))])], { sizes: [qn, kn, kn] });
    else [q, k, v] = ['q', 'k', 'v'].map((p) => n.op('matmul', [h, n.w(L(i, `self_attn.${p}_proj.weight`))]));
    q = n.op('rope', [n.op('reshape', [q], { shape: [S, c.heads, c.headDim] }), pos], c.rope);
    k = n.op('rope', [n.op('reshape', [k], { shape: [S, c.kvHeads, c.headDim] }), pos], c.rope);
    v = n.op('reshape', [v], { shape: [S, c.kvHeads, c.headDim] });
    const a = n.op('attention', [q, k, v], {
      scale: 1 / Math.sqrt(c.gemma2?.scale ?? c.headDim),
      window: c.window?.(i) ?? 0,
      softcap: c.gemma2?.softcap ?? 0,
    });
    let o = n.op('matmul', [n.op('reshape', [a], { shape: [S, qn] }), n.w(L(i, 'self_attn.o_proj.weight'))]);
    if (c.gemma2) o = norm(o, L(i, 'post_attention_layernorm.weight'));
    x = n.op('add', [x, o]);
    const h2 = norm(x, L(i, c.gemma2 ? 'pre_feedforward_layernorm.weight' : 'post_attention_layernorm.weight'));
    let gate: Value, up: Value;
    if (c.fused) [gate, up] = n.b.ops('split', [n.op('matmul', [h2, n.w(L(i, 'mlp.gate_up_proj.weight'))])], { sizes: [128, 128] });
    else [gate, up] = ['gate', 'up'].map((p) => n.op('matmul', [h2, n.w(L(i, `mlp.${p}_proj.weight`))]));
    const act = c.gemma2 ? n.op('gelu', [gate], { approximate: 'tanh' }) : n.op('silu', [gate]);
    let m = n.op('matmul', [n.op('mul', [act, up]), n.w(L(i, 'mlp.down_proj.weight'))]);
    if (c.gemma2) m = norm(m, L(i, 'post_feedforward_layernorm.weight'));
    x = n.op('add', [x, m]);
  }
  let logits = n.op('matmul', [norm(x, 'model.norm.weight'), n.w(c.tied ? 'model.embed_tokens.weight' : 'lm_head.weight')]);
  if (c.gemma2) logits = n.op('softcap', [logits], { cap: c.gemma2.finalSoftcap });
  n.b.output('logits', logits);
  const out = n.run({ tokens: i32([ids.length], ids), pos: i32([ids.length], ids.map((_, i) => i)) });
  return out.logits.data as Float32Array;
}

const base = { layers: 2, heads: 4, kvHeads: 2, headDim: 16, eps: 1e-5 };
const decoders: Decoder[] = [
  { ...base, arch: 'llama3', tied: true, rope: { theta: 5e5, scaling: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_positions: 64 } },
  { ...base, arch: 'mistral', tied: false, rope: { theta: 1e4 }, window: () => 8 },
  {
    ...base, arch: 'phi3_longrope', tied: true, fused: true,
    rope: {
      theta: 1e4, rotary_dim: 12, scaling: 'longrope', original_max_positions: 32, max_positions: 128,
      short_factor: [1.0, 1.1, 1.3, 1.6, 2.0, 2.5], long_factor: [1.0, 1.5, 2.5, 4.0, 6.0, 9.0],
    },
  },
  {
    arch: 'gemma2', layers: 3, heads: 4, kvHeads: 2, headDim: 32, eps: 1e-6, tied: true, rope: { theta: 1e4 },
    window: (i) => (i % 2 === 0 ? 8 : 0), gemma2: { softcap: 1, finalSoftcap: 2, scale: 24 },
  },
];

// HF suggests 1e-4 (two HF versions agree to 1e-5); we land near 1e-6, and leaving out llama3
// scaling, the window, longrope or the softcaps moves the logits by 0.03 to 2.
const TOL = 2e-5;

describe('ops against HF reference logits', () => {
  for (const c of decoders) {
    it.runIf(hasShared('refs', c.arch, 'refA.json'))(`${c.arch}: logits and full_logits (prompt + generated) match HF`, () => {
      const weights = readWeights(c.arch), ref = readRef(c.arch);
      const prompt = (ref.json.input_ids as number[][])[0];
      const generated = (ref.json.generate as { new_tokens: number[] }).new_tokens;
      expect(maxAbsDiff(decoderLogits(c, weights, prompt), ref.get('logits'))).toBeLessThan(TOL);
      // Past original_max_positions for phi3_longrope (36 > 32: long factors) and past the window elsewhere.
      expect(maxAbsDiff(decoderLogits(c, weights, [...prompt, ...generated]), ref.get('full_logits'))).toBeLessThan(TOL);
    });
  }

  it.runIf(hasShared('refs', 'bert', 'refA.json'))('bert: padded batch, post-LN, erf GELU, pooler, mean pooling and L2 normalisation', () => {
    const weights = readWeights('bert'), ref = readRef('bert');
    const ids = ref.json.input_ids as number[][], mask = ref.json.attention_mask as number[][], types = ref.json.token_type_ids as number[][];
    const [nb, ns] = [ids.length, ids[0].length];
    const n = new Net(weights, ['B', 'S']);
    const B = n.b.sym('B'), S = n.b.sym('S');
    const tok = n.b.input('tok', 'i32', [B, S]), tt = n.b.input('tt', 'i32', [B, S]);
    const pos = n.b.input('pos', 'i32', [S]), am = n.b.input('mask', 'i32', [B, S]);
    const ln = (x: Value, p: string) => n.op('layer_norm', [x, n.w(`${p}.weight`), n.w(`${p}.bias`)], { eps: 1e-12 });
    const dense = (x: Value, p: string) => n.op('matmul', [x, n.w(`${p}.weight`), n.w(`${p}.bias`)]);
    const e = n.op('add', [n.op('add', [n.op('embedding', [n.w('embeddings.word_embeddings.weight'), tok]), n.op('embedding', [n.w('embeddings.position_embeddings.weight'), pos])]),
      n.op('embedding', [n.w('embeddings.token_type_embeddings.weight'), tt])]);
    let x = ln(e, 'embeddings.LayerNorm');
    for (let i = 0; i < 2; i++) {
      const p = `encoder.layer.${i}`;
      const [q, k, v] = ['query', 'key', 'value'].map((s) => n.op('reshape', [dense(x, `${p}.attention.self.${s}`)], { shape: [B, S, 4, 16] }));
      const a = n.op('reshape', [n.op('attention', [q, k, v, am], { scale: 0.25, causal: false })], { shape: [B, S, 64] });
      x = ln(n.op('add', [x, dense(a, `${p}.attention.output.dense`)]), `${p}.attention.output.LayerNorm`);
      const m = dense(n.op('gelu', [dense(x, `${p}.intermediate.dense`)]), `${p}.output.dense`);
      x = ln(n.op('add', [x, m]), `${p}.output.LayerNorm`);
    }
    const first = n.op('reshape', [n.op('slice', [x], { axis: 1, start: 0, end: 1 })], { shape: [B, 64] });
    n.b.output('last', x);
    n.b.output('pooler', n.op('tanh', [dense(first, 'pooler.dense')]));
    const pooled = n.op('mean_pool', [x, am]);
    n.b.output('mean', pooled);
    n.b.output('normed', n.op('l2_normalize', [pooled]));
    const out = n.run({
      tok: i32([nb, ns], ids.flat()), tt: i32([nb, ns], types.flat()), mask: i32([nb, ns], mask.flat()),
      pos: i32([ns], Array.from({ length: ns }, (_, i) => i)),
    });
    // Padded rows hold HF's values too, but only masked-in rows are meaningful.
    const last = out.last.data as Float32Array, want = ref.get('last_hidden_state');
    for (let b = 0; b < nb; b++) {
      for (let s = 0; s < ns; s++) {
        if (!mask[b][s]) continue;
        const at = (b * ns + s) * 64;
        expect(maxAbsDiff(last.subarray(at, at + 64), want.subarray(at, at + 64))).toBeLessThan(TOL);
      }
    }
    expect(maxAbsDiff(out.pooler.data as Float32Array, ref.get('pooler_output'))).toBeLessThan(TOL);
    expect(maxAbsDiff(out.mean.data as Float32Array, ref.get('mean_pooled'))).toBeLessThan(TOL);
    expect(maxAbsDiff(out.normed.data as Float32Array, ref.get('mean_pooled_normalized'))).toBeLessThan(1e-5);
  });
});
