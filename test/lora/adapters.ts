// Random LoRA adapters for tests, written with the test writers in both forms Tessera reads, and
// the merge done independently of the pass (plain loops in f64, rounded once), so merged models
// can be checked against checkpoints whose weights were merged by hand.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toF32 } from '../../ir/tensor.js';
import { weightLeaves } from '../../ir/weights.js';
import type { ModelSource } from '../../models/open.js';
import { type GgufKv, safetensorsBytes, ggufBytes, bytesOf } from '../models/writers.js';

/** One adapted tensor: A [r, in], B [out, r] (as PEFT and llama.cpp store them, row-major). */
export interface TestFactor {
  /** The base checkpoint tensor. */
  readonly tensor: string;
  readonly rank: number;
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly a: Float32Array;
  readonly b: Float32Array;
}

/** A small seeded generator (mulberry32): the adapters are reproducible from the property's seed. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomFactor(tensor: string, rank: number, inFeatures: number, outFeatures: number, next: () => number): TestFactor {
  const a = Float32Array.from({ length: rank * inFeatures }, () => (2 * next() - 1) / Math.sqrt(inFeatures));
  const b = Float32Array.from({ length: outFeatures * rank }, () => 2 * next() - 1);
  return { tensor, rank, inFeatures, outFeatures, a, b };
}

/**
 * w + k·B·A in f64, rounded once; `transposed`: w is a Conv1D [in, out] weight, which takes (B·A)ᵀ.
 */
export function mergedByHand(w: Float32Array, f: TestFactor, k: number, transposed: boolean): Float32Array {
  const out = new Float32Array(w.length);
  const { rank: r, inFeatures: n, outFeatures: m } = f;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let q = 0; q < r; q++) acc += f.b[i * r + q] * f.a[q * n + j];
      const at = transposed ? j * m + i : i * n + j;
      out[at] = w[at] + k * acc;
    }
  }
  return out;
}

export interface PeftConfig {
  readonly r: number;
  readonly alpha: number;
  readonly rsLora?: boolean;
  readonly fanInFanOut?: boolean;
  readonly extra?: Record<string, unknown>;
}

/** A PEFT adapter folder: adapter_config.json and adapter_model.safetensors. */
export function writePeftAdapter(dir: string, factors: readonly TestFactor[], c: PeftConfig): string {
  mkdirSync(dir, { recursive: true });
  const modules = factors.map((f) => f.tensor.replace(/\.weight$/, ''));
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({
    peft_type: 'LORA', task_type: 'CAUSAL_LM', r: c.r, lora_alpha: c.alpha, use_rslora: c.rsLora ?? false,
    fan_in_fan_out: c.fanInFanOut ?? false, lora_dropout: 0, bias: 'none',
    target_modules: [...new Set(modules.map((m) => m.slice(m.lastIndexOf('.') + 1)))], ...c.extra,
  }));
  writeFileSync(join(dir, 'adapter_model.safetensors'), safetensorsBytes(factors.flatMap((f, i) => [
    { name: `base_model.model.${modules[i]}.lora_A.weight`, dtype: 'F32', shape: [f.rank, f.inFeatures], data: f.a },
    { name: `base_model.model.${modules[i]}.lora_B.weight`, dtype: 'F32', shape: [f.outFeatures, f.rank], data: f.b },
  ])));
  return dir;
}

const GGUF_STRING = 8, GGUF_F32 = 6, GGML_F32 = 0;

/** A llama.cpp GGUF LoRA adapter file. */
export function writeGgufAdapter(file: string, factors: readonly TestFactor[], opts: { alpha: number; architecture: string; kv?: GgufKv[] }): string {
  writeFileSync(file, ggufBytes({
    kv: opts.kv ?? [
      ['general.architecture', GGUF_STRING, opts.architecture],
      ['general.type', GGUF_STRING, 'adapter'],
      ['adapter.type', GGUF_STRING, 'lora'],
      ['adapter.lora.alpha', GGUF_F32, opts.alpha],
    ],
    tensors: factors.flatMap((f) => [
      { name: `${f.tensor}.lora_a`, dims: [f.inFeatures, f.rank], typeId: GGML_F32, data: bytesOf(f.a) },
      { name: `${f.tensor}.lora_b`, dims: [f.rank, f.outFeatures], typeId: GGML_F32, data: bytesOf(f.b) },
    ]),
  }));
  return file;
}

/** The checkpoint tensors a decoder's attention and MLP projections read (fused ones once). */
export function projectionTensors(source: ModelSource): { name: string; shape: readonly number[] }[] {
  const names = new Set(source.decoderWeights().layers.flatMap((l) => [l.q, l.k, l.v, l.o, l.gate, l.up, l.down].flatMap((e) => (e ? weightLeaves(e) : []))));
  return [...names].map((name) => ({ name, shape: source.store.info(name).shape }));
}

const ST_DTYPE = { f32: 'F32', f16: 'F16', bf16: 'BF16' } as const;

/**
 * An HF checkpoint folder `out` beside `dir` (config.json copied) whose adapted tensors are
 * merged by hand in f32 (`k` = scale · factor, mergedByHand); every other tensor as it was.
 */
export function writeMergedCheckpoint(dir: string, base: ModelSource, factors: readonly TestFactor[], k: number, conv1d: boolean, out: string): string {
  const byName = new Map(factors.map((f) => [f.tensor, f]));
  mkdirSync(out);
  copyFileSync(join(dir, 'config.json'), join(out, 'config.json'));
  writeFileSync(join(out, 'model.safetensors'), safetensorsBytes(base.store.names().map((name) => {
    const t = base.store.read(name);
    const f = byName.get(name);
    if (f) return { name, dtype: 'F32', shape: [...t.shape], data: mergedByHand(toF32(t), f, k, conv1d) };
    return { name, dtype: ST_DTYPE[t.dtype as keyof typeof ST_DTYPE], shape: [...t.shape], data: t.data };
  })));
  return out;
}
