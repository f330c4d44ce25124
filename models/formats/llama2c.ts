// llama2.c checkpoints (karpathy/llama2.c export.py): all weights f32, little-endian.
//  v0 ("legacy"): 7 × i32 header (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
//    seq_len; a negative vocab_size means the classifier is not shared with the embedding), then
//    token_embedding, rms_att[L], wq[L], wk[L], wv[L], wo[L], rms_ffn[L], w1[L], w2[L], w3[L],
//    rms_final, freq_cis_real/imag ([seq_len, head_size/2] each, unused), wcls if unshared.
//  v1: u32 magic "ak42", i32 version 1, the same 7 ints, u8 shared_classifier, zero padding to
//    256 bytes, then rms_att[L], rms_ffn[L], rms_final, token_embedding, wq[L], wk[L], wv[L],
//    wo[L], w1[L], w2[L], w3[L], wcls if unshared.
// Tensors get Meta-style names; matrices are [out, in] like nn.Linear weights.
import { type HostTensor, numel, tensor } from '../../ir/tensor.js';
import { type ByteSource, toSource } from './source.js';
import { checkDestination, checkRange, FormatError, type MetaValue, type TensorInfo, type TensorStore } from './store.js';

export const LLAMA2C_MAGIC = 0x616b3432; // "ak42"
const V1_HEADER_BYTES = 256;
const V0_HEADER_BYTES = 28;

export interface Llama2cHeader {
  readonly version: 0 | 1;
  readonly dim: number;
  readonly hiddenDim: number;
  readonly nLayers: number;
  readonly nHeads: number;
  readonly nKvHeads: number;
  /** Always positive (the v0 sign flag is decoded into sharedClassifier). */
  readonly vocabSize: number;
  readonly seqLen: number;
  /** The classifier reuses tok_embeddings.weight (no output.weight in the file). */
  readonly sharedClassifier: boolean;
  readonly headerBytes: number;
}

interface Slot {
  readonly shape: readonly number[];
  /** Absolute byte offset. */
  readonly offset: number;
}

export class Llama2cStore implements TensorStore {
  readonly format = 'llama2c';
  readonly path: string;
  readonly header: Llama2cHeader;
  readonly metadata: ReadonlyMap<string, MetaValue>;
  private readonly slots: ReadonlyMap<string, Slot>;
  private readonly source: ByteSource;

  constructor(pathOrSource: string | ByteSource) {
    this.source = toSource(pathOrSource);
    this.path = this.source.name;
    this.header = readLlama2cHeader(this.source);
    const expected = llama2cFileBytes(this.header);
    if (expected !== this.source.size) {
      throw new FormatError(this.path, `the header implies ${expected} bytes (${describeHeader(this.header)}) but the file has ${this.source.size}`);
    }
    this.slots = layout(this.header);
    const h = this.header;
    this.metadata = new Map<string, MetaValue>([
      ['version', h.version], ['dim', h.dim], ['hidden_dim', h.hiddenDim], ['n_layers', h.nLayers],
      ['n_heads', h.nHeads], ['n_kv_heads', h.nKvHeads], ['vocab_size', h.vocabSize], ['seq_len', h.seqLen],
      ['shared_classifier', h.sharedClassifier],
    ]);
  }

  names(): string[] {
    return [...this.slots.keys()];
  }

  has(name: string): boolean {
    return this.slots.has(name);
  }

  info(name: string): TensorInfo {
    return { dtype: 'f32', shape: [...this.slot(name).shape] };
  }

  read(name: string): HostTensor {
    const s = this.slot(name);
    const bytes = this.source.read(s.offset, numel(s.shape) * 4, `tensor "${name}"`);
    return tensor('f32', s.shape, new Float32Array(bytes.buffer, 0, numel(s.shape)));
  }

  readInto(name: string, dest: Uint8Array): void {
    const s = this.slot(name);
    checkDestination(this.path, name, dest, numel(s.shape) * 4);
    this.source.readInto(s.offset, dest, `tensor "${name}"`);
  }

  readRangeInto(name: string, at: number, dest: Uint8Array): void {
    const s = this.slot(name);
    checkRange(this.path, name, at, dest, numel(s.shape) * 4);
    this.source.readInto(s.offset + at, dest, `tensor "${name}"`);
  }

  private slot(name: string): Slot {
    const s = this.slots.get(name);
    if (!s) throw new FormatError(this.path, `no tensor named "${name}"`);
    return s;
  }
}

export function openLlama2c(pathOrSource: string | ByteSource): Llama2cStore {
  return new Llama2cStore(pathOrSource);
}

/** Reads and validates the header (v0 or v1). */
export function readLlama2cHeader(src: ByteSource): Llama2cHeader {
  const head = src.read(0, Math.min(src.size, V1_HEADER_BYTES), 'header');
  if (head.length < V0_HEADER_BYTES) throw new FormatError(src.name, `file has ${head.length} bytes, less than a llama2.c header`, 0);
  const view = new DataView(head.buffer);
  const isV1 = view.getUint32(0, true) === LLAMA2C_MAGIC;
  if (isV1) {
    if (head.length < V1_HEADER_BYTES) throw new FormatError(src.name, `v1 header needs ${V1_HEADER_BYTES} bytes, file has ${head.length}`, 0);
    const version = view.getInt32(4, true);
    if (version !== 1) {
      const why = version === 2 ? 'version 2 (Q8_0 export) is not supported' : `unknown version ${version}`;
      throw new FormatError(src.name, `llama2.c checkpoint ${why}`, 4);
    }
  }
  const base = isV1 ? 8 : 0;
  const ints = Array.from({ length: 7 }, (_, i) => view.getInt32(base + 4 * i, true));
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, rawVocab, seqLen] = ints;
  const sharedFlag = isV1 ? view.getUint8(base + 28) : undefined;
  if (sharedFlag !== undefined && sharedFlag > 1) throw new FormatError(src.name, `shared_classifier byte is ${sharedFlag}, not 0 or 1`, base + 28);
  const header: Llama2cHeader = {
    version: isV1 ? 1 : 0,
    dim, hiddenDim, nLayers, nHeads, nKvHeads,
    vocabSize: Math.abs(rawVocab),
    seqLen,
    sharedClassifier: isV1 ? sharedFlag === 1 : rawVocab > 0,
    headerBytes: isV1 ? V1_HEADER_BYTES : V0_HEADER_BYTES,
  };
  checkHeader(src.name, header, base);
  return header;
}

function checkHeader(file: string, h: Llama2cHeader, at: number): void {
  const fail = (d: string): never => {
    throw new FormatError(file, `implausible header: ${d} (${describeHeader(h)})`, at);
  };
  for (const [k, v] of Object.entries({ dim: h.dim, hidden_dim: h.hiddenDim, n_layers: h.nLayers, n_heads: h.nHeads, n_kv_heads: h.nKvHeads, vocab_size: h.vocabSize, seq_len: h.seqLen })) {
    // 2^24 bounds every field far above real models while keeping all products exact.
    if (!(v > 0 && v <= 1 << 24)) fail(`${k} = ${v}`);
  }
  if (h.dim % h.nHeads !== 0) fail('dim is not a multiple of n_heads');
  if (h.nHeads % h.nKvHeads !== 0) fail('n_heads is not a multiple of n_kv_heads');
  if ((h.dim / h.nHeads) % 2 !== 0) fail('head size is odd');
}

function describeHeader(h: Llama2cHeader): string {
  return `v${h.version}, dim ${h.dim}, hidden_dim ${h.hiddenDim}, n_layers ${h.nLayers}, n_heads ${h.nHeads}, ` +
    `n_kv_heads ${h.nKvHeads}, vocab_size ${h.vocabSize}, seq_len ${h.seqLen}, ${h.sharedClassifier ? 'shared' : 'separate'} classifier`;
}

/** A run of same-shaped tensors stored back to back (one per layer, or a single one). */
interface Group {
  readonly count: number;
  readonly shape: readonly number[];
  /** Name of the i-th tensor; undefined for data the file holds but we do not expose. */
  readonly name?: (i: number) => string;
}

/** The tensor groups in file order. */
function groups(h: Llama2cHeader): Group[] {
  const headSize = h.dim / h.nHeads;
  const kvDim = h.nKvHeads * headSize;
  const L = h.nLayers;
  const layer = (suffix: string, shape: number[]): Group => ({ count: L, shape, name: (i) => `layers.${i}.${suffix}` });
  const one = (name: string, shape: number[]): Group => ({ count: 1, shape, name: () => name });
  const embed = one('tok_embeddings.weight', [h.vocabSize, h.dim]);
  const rmsAtt = layer('attention_norm.weight', [h.dim]);
  const rmsFfn = layer('ffn_norm.weight', [h.dim]);
  const rmsFinal = one('norm.weight', [h.dim]);
  const matrices = [
    layer('attention.wq.weight', [h.dim, h.dim]),
    layer('attention.wk.weight', [kvDim, h.dim]),
    layer('attention.wv.weight', [kvDim, h.dim]),
    layer('attention.wo.weight', [h.dim, h.dim]),
  ];
  const ffn = [
    layer('feed_forward.w1.weight', [h.hiddenDim, h.dim]),
    layer('feed_forward.w2.weight', [h.dim, h.hiddenDim]),
    layer('feed_forward.w3.weight', [h.hiddenDim, h.dim]),
  ];
  const wcls: Group[] = h.sharedClassifier ? [] : [one('output.weight', [h.vocabSize, h.dim])];
  if (h.version === 1) return [rmsAtt, rmsFfn, rmsFinal, embed, ...matrices, ...ffn, ...wcls];
  // v0 also stores the old precomputed RoPE tables (cos and sin, [seq_len, head_size / 2] each).
  const freqCis: Group = { count: 2, shape: [h.seqLen, headSize / 2] };
  return [embed, rmsAtt, ...matrices, rmsFfn, ...ffn, rmsFinal, freqCis, ...wcls];
}

/** The exact file size the header implies (computed before any per-tensor allocation). */
export function llama2cFileBytes(h: Llama2cHeader): number {
  return groups(h).reduce((bytes, g) => bytes + g.count * numel(g.shape) * 4, h.headerBytes);
}

function layout(h: Llama2cHeader): Map<string, Slot> {
  const slots = new Map<string, Slot>();
  let offset = h.headerBytes;
  for (const g of groups(h)) {
    for (let i = 0; i < g.count; i++) {
      if (g.name) slots.set(g.name(i), { shape: g.shape, offset });
      offset += numel(g.shape) * 4;
    }
  }
  return slots;
}
