#!/usr/bin/env node
// A llama2.c checkpoint as an F32 GGUF file for llama.cpp, for shapes whose weights llama.cpp's own
// llama-convert-llama2c-to-ggml cannot hold (it allocates one 2 GiB ggml context, so the
// TinyLlama-1.1B shape aborts). The tokenizer keys are copied from a GGUF that converter wrote
// for the same vocabulary; the tensors are copied as they lie in the checkpoint (llama.cpp's
// converter permutes nothing either), streamed, so the 4 GB checkpoint is never held in memory.
//
//   npx tsc -p tsconfig.json
//   node bench/llama2c-to-gguf.mjs --bin /tmp/bench/synth1.1B.bin --vocab-from /tmp/bench/synth110M-f32.gguf --out /tmp/bench/synth1.1B-f32.gguf
//
// Then `llama-quantize --pure` makes the Q8_0 / Q4_0 files from it, as for the other shapes.
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ggufMetadataBytes } from '../dist/models/formats/gguf-writer.js';
import { openGguf } from '../dist/models/formats/gguf.js';

const { values: opt } = parseArgs({ options: { bin: { type: 'string' }, 'vocab-from': { type: 'string' }, out: { type: 'string' } } });
for (const k of ['bin', 'vocab-from', 'out']) if (!opt[k]) throw new Error(`--${k} is required`);

const fd = openSync(opt.bin, 'r');
const head = Buffer.alloc(28);
readSync(fd, head, 0, 28, 0);
const [dim, hidden, layers, heads, kvHeads, vocabSigned, seqLen] = Array.from({ length: 7 }, (_, i) => head.readInt32LE(4 * i));
const vocab = Math.abs(vocabSigned);
const shared = vocabSigned > 0;
const headDim = dim / heads, kvDim = kvHeads * headDim;

// The checkpoint's sections in file order ([rows, cols] per layer), as llama2.c's run.c reads them.
const sections = [];
let at = 28;
const section = (name, count, rows, cols) => {
  sections.push({ name, count, rows, cols, offset: at });
  at += count * rows * cols * 4;
};
section('token_embd', 1, vocab, dim);
section('attn_norm', layers, 1, dim);
section('attn_q', layers, dim, dim);
section('attn_k', layers, kvDim, dim);
section('attn_v', layers, kvDim, dim);
section('attn_output', layers, dim, dim);
section('ffn_norm', layers, 1, dim);
section('ffn_gate', layers, hidden, dim);
section('ffn_down', layers, dim, hidden);
section('ffn_up', layers, hidden, dim);
section('output_norm', 1, 1, dim);
at += seqLen * headDim * 4; // freq_cis_real and freq_cis_imag, unused
const wcls = shared ? sections[0].offset : at;
if (!shared) at += vocab * dim * 4;
if (at !== fstatSync(fd).size) throw new Error(`${opt.bin}: ${fstatSync(fd).size} bytes, but its header describes ${at}`);

// GGUF tensors: blk.<i>.<name>.weight for layer sections; a norm is 1-D.
const tensors = [];
for (const s of sections) {
  for (let i = 0; i < s.count; i++) {
    const name = s.count > 1 ? `blk.${i}.${s.name}.weight` : `${s.name}.weight`;
    tensors.push({ name, ne: s.rows === 1 ? [s.cols] : [s.cols, s.rows], from: s.offset + i * s.rows * s.cols * 4, bytes: s.rows * s.cols * 4 });
  }
}
tensors.push({ name: 'output.weight', ne: [dim, vocab], from: wcls, bytes: vocab * dim * 4 });

const template = openGguf(opt['vocab-from']).metadata;
const own = new Map([
  ['llama.context_length', ['u32', seqLen]],
  ['llama.embedding_length', ['u32', dim]],
  ['llama.feed_forward_length', ['u32', hidden]],
  ['llama.attention.head_count', ['u32', heads]],
  ['llama.attention.head_count_kv', ['u32', kvHeads]],
  ['llama.block_count', ['u32', layers]],
  ['llama.rope.dimension_count', ['u32', headDim]],
  ['llama.attention.layer_norm_rms_epsilon', ['f32', 1e-5]],
]);
const keys = [...[...template.keys()].filter((k) => k.startsWith('tokenizer.') || k.startsWith('general.')), ...own.keys()];
const meta = {
  keys: () => keys[Symbol.iterator](),
  get: (k) => (own.has(k) ? own.get(k)[1] : template.get(k)),
  typeOf: (k) => (own.has(k) ? own.get(k)[0] : template.typeOf(k)),
};
const header = Buffer.from(ggufMetadataBytes(meta, () => true));
header.writeBigUInt64LE(BigInt(tensors.length), 8); // the writer makes metadata-only files: 0 tensors

const ALIGN = 32;
const pad = (n) => (ALIGN - (n % ALIGN)) % ALIGN;
const infos = [];
let dataAt = 0;
for (const t of tensors) {
  const name = Buffer.from(t.name);
  const b = Buffer.alloc(8 + name.length + 4 + 8 * t.ne.length + 4 + 8);
  let o = b.writeBigUInt64LE(BigInt(name.length), 0);
  o += name.copy(b, o);
  o = b.writeUInt32LE(t.ne.length, o);
  for (const d of t.ne) o = b.writeBigUInt64LE(BigInt(d), o);
  o = b.writeUInt32LE(0, o); // GGML_TYPE_F32
  b.writeBigUInt64LE(BigInt(dataAt), o);
  t.at = dataAt;
  dataAt += t.bytes + pad(t.bytes);
  infos.push(b);
}
const out = openSync(opt.out, 'w');
let written = 0;
const write = (b) => { writeSync(out, b); written += b.length; };
write(header);
for (const b of infos) write(b);
write(Buffer.alloc(pad(written)));
const chunk = Buffer.alloc(64 << 20);
for (const t of tensors) {
  for (let done = 0; done < t.bytes;) {
    const n = Math.min(chunk.length, t.bytes - done);
    if (readSync(fd, chunk, 0, n, t.from + done) !== n) throw new Error(`${opt.bin}: short read in ${t.name}`);
    write(chunk.subarray(0, n));
    done += n;
  }
  write(Buffer.alloc(pad(t.bytes)));
}
closeSync(out);
closeSync(fd);
console.log(`${opt.out}: ${tensors.length} tensors, ${(written / 2 ** 30).toFixed(2)} GiB (dim ${dim}, hidden ${hidden}, layers ${layers}, heads ${heads}/${kvHeads}, vocab ${vocab}, context ${seqLen})`);
