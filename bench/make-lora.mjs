#!/usr/bin/env node
// A random LoRA adapter for benchmarks: rank R on every attention and MLP projection of MODEL (any
// format Tessera reads), written as a llama.cpp GGUF adapter (f32 factors, tensors named as the
// model's own: a .bin's Meta-style names, a GGUF's blk.N.*). Seeded, so runs are repeatable.
//
//   npx tsc -p tsconfig.json
//   node bench/make-lora.mjs MODEL OUT.gguf [RANK=16] [ALPHA=RANK] [SEED=1]
//
// Example: node bench/make-lora.mjs /tmp/bench/synth110M.bin /tmp/bench/synth110M-lora16.gguf
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [model, out, rankArg, alphaArg, seedArg] = process.argv.slice(2);
if (!model || !out) {
  console.error('usage: node bench/make-lora.mjs MODEL OUT.gguf [RANK=16] [ALPHA=RANK] [SEED=1]');
  process.exit(2);
}
const rank = Number(rankArg ?? 16), alpha = Number(alphaArg ?? rank);
const dist = resolve(new URL('..', import.meta.url).pathname, 'dist');
const { openModel } = await import(pathToFileURL(resolve(dist, 'models/open.js')).href);
const { weightLeaves } = await import(pathToFileURL(resolve(dist, 'ir/weights.js')).href);

const source = openModel(resolve(model));
const names = [...new Set(source.decoderWeights().layers.flatMap((l) => [l.q, l.k, l.v, l.o, l.gate, l.up, l.down].flatMap((e) => (e ? weightLeaves(e) : []))))];

// mulberry32: the same generator the tests use.
let s = Number(seedArg ?? 1) >>> 0;
const next = () => {
  s = (s + 0x6d2b79f5) >>> 0;
  let t = s;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

// A small enough update that the adapted model stays a sane model: A ~ U(±1/√in), B ~ U(±0.01).
const tensors = names.flatMap((name) => {
  const [outF, inF] = source.store.info(name).shape;
  const a = Float32Array.from({ length: rank * inF }, () => (2 * next() - 1) / Math.sqrt(inF));
  const b = Float32Array.from({ length: outF * rank }, () => 0.01 * (2 * next() - 1));
  // GGUF dims are innermost first: A [r, in] is (in, r), B [out, r] is (r, out).
  return [{ name: `${name}.lora_a`, dims: [inF, rank], data: a }, { name: `${name}.lora_b`, dims: [rank, outF], data: b }];
});

// GGUF v3: header, key-values, tensor infos, then the data, each tensor 32-byte aligned.
const chunks = [];
const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); chunks.push(b); };
const u64 = (v) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); chunks.push(b); };
const str = (v) => { const b = Buffer.from(v, 'utf8'); u64(b.length); chunks.push(b); };
const STRING = 8, F32 = 6, GGML_F32 = 0, ALIGN = 32;
const kv = [['general.architecture', STRING, 'llama'], ['general.type', STRING, 'adapter'], ['adapter.type', STRING, 'lora'], ['adapter.lora.alpha', F32, alpha]];
chunks.push(Buffer.from('GGUF'));
u32(3);
u64(tensors.length);
u64(kv.length);
for (const [key, type, value] of kv) {
  str(key);
  u32(type);
  if (type === STRING) str(value);
  else { const b = Buffer.alloc(4); b.writeFloatLE(value); chunks.push(b); }
}
let offset = 0;
for (const t of tensors) {
  str(t.name);
  u32(t.dims.length);
  for (const d of t.dims) u64(d);
  u32(GGML_F32);
  u64(offset);
  offset += Math.ceil(t.data.byteLength / ALIGN) * ALIGN;
}
const head = Buffer.concat(chunks);
const pad = (n) => Buffer.alloc((ALIGN - (n % ALIGN)) % ALIGN);
const body = tensors.flatMap((t) => [Buffer.from(t.data.buffer), pad(t.data.byteLength)]);
writeFileSync(out, Buffer.concat([head, pad(head.length), ...body]));
console.log(`${out}: rank ${rank}, alpha ${alpha}, ${names.length} projections of ${model} (${(offset / 2 ** 20).toFixed(1)} MiB of factors)`);
