// The CPU kernel contract and the writer every emitter uses to produce one.
//
// A kernel is an AssemblyScript function
//     export function <name>(args: usize, tid: i32, nthreads: i32): void
// that reads its buffer addresses and run-time dims from an argument block in linear memory
// (layout in abi.ts: one u32 address per binding, then one i32 per dim) and does the share of
// the work that belongs to thread `tid` of `nthreads`. Static dims are baked in as constants, so
// one kernel serves every value of the symbolic dims it reads (S, P, …).
import { type Dim, dimToString } from '../../ir/dim.js';
import { ARG_SLOT_BYTES } from './abi.js';

/** What an argument-block address points at, in the order the kernel reads them. */
export type KernelBinding =
  | { readonly kind: 'operand'; readonly index: number }
  | { readonly kind: 'result'; readonly index: number }
  /**
   * Working memory of the node, during its own launches only: kernels of one node that name the
   * same slot share the buffer (e.g. quantized activations written by one kernel and read by the
   * next), but other nodes' launches reuse the memory, so nothing may be kept from one step to the
   * next. A per-thread scratch holds `bytes` for each thread, back to back; its `bytes` must be
   * static.
   */
  | { readonly kind: 'scratch'; readonly slot: number; readonly bytes: Dim; readonly perThread: boolean }
  /**
   * An 8-byte work counter for _t_claim (its epoch is the barrier generation, so one word may
   * serve every launch of a program, and nothing else may write it).
   */
  | { readonly kind: 'counter' };

export interface WasmKernel {
  /** Unique function name within a module (family plus a hash of the source). */
  readonly name: string;
  /** Stable per source text: equal keys mean interchangeable kernels. */
  readonly key: string;
  /** The AssemblyScript function; it calls helpers from the module prelude. */
  readonly source: string;
  readonly bindings: readonly KernelBinding[];
  /** Run-time dims, in argument-block order after the addresses; evaluate with evalDim. */
  readonly dims: readonly Dim[];
}

/** Options for emitters; every field has a default. */
export interface WasmEmitContext {
  /** Keys per attention tile (scores kept in per-thread scratch). Default 64. */
  readonly attentionTile?: number;
  /** Most key chunks one decode query (S = 1) is split into across threads. Default 8. */
  readonly decodeSplits?: number;
}

/** Builds one kernel: bindings and dims are registered as the body asks for them. */
export class KernelWriter {
  private readonly bindings: KernelBinding[] = [];
  private readonly bindingNames: string[] = [];
  private readonly dims: Dim[] = [];
  private readonly dimNames = new Map<string, string>();
  private readonly lines: string[] = [];
  private depth = 1;

  constructor(readonly family: string) {}

  /** Registers a binding and returns the local holding its address. */
  ptr(binding: KernelBinding, local: string): string {
    this.bindings.push(binding);
    this.bindingNames.push(local);
    return local;
  }

  /** An AS i32 expression for a dim: a literal when static, else a local read from the block. */
  dim(d: Dim): string {
    if (typeof d === 'number') {
      if (!Number.isInteger(d) || d < 0 || d > 0x7fffffff) throw new Error(`kernel ${this.family}: dim ${d} does not fit in i32`);
      return String(d);
    }
    const key = dimToString(d);
    let name = this.dimNames.get(key);
    if (!name) {
      name = `_d${this.dims.length}`;
      this.dims.push(d);
      this.dimNames.set(key, name);
    }
    return name;
  }

  /** Appends lines; `{` at a line's end indents what follows, `}` at its start dedents. */
  line(...text: string[]): this {
    for (const t of text) {
      for (const raw of t.split('\n')) {
        const s = raw.trim();
        if (!s) continue;
        if (s.startsWith('}')) this.depth--;
        this.lines.push('  '.repeat(Math.max(this.depth, 1)) + s);
        if (s.endsWith('{')) this.depth++;
      }
    }
    return this;
  }

  finish(): WasmKernel {
    const header: string[] = [];
    this.bindingNames.forEach((local, i) => header.push(`  const ${local}: usize = load<u32>(args, ${i * ARG_SLOT_BYTES});`));
    const base = this.bindings.length * ARG_SLOT_BYTES;
    this.dims.forEach((_, i) => header.push(`  const _d${i}: i32 = load<i32>(args, ${base + i * ARG_SLOT_BYTES});`));
    const body = [...header, ...this.lines].join('\n');
    const key = hashText(`${this.family}\n${body}`);
    const name = `${this.family}_${key}`;
    const source = `export function ${name}(args: usize, tid: i32, nthreads: i32): void {\n${body}\n}\n`;
    return { name, key, source, bindings: this.bindings, dims: this.dims };
  }
}

/** 64-bit FNV-1a (two 32-bit lanes with different offsets), hex: a short stable content key. */
export function hashText(s: string): string {
  let a = 0x811c9dc5, b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (a >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

/** An f32 literal AS accepts (finite values only; kernels never bake in NaN or ∞). */
export function f32Lit(x: number): string {
  if (!Number.isFinite(x)) throw new Error(`cannot bake ${x} into a kernel`);
  const s = String(Math.fround(x));
  return /[.e]/.test(s) ? `<f32>${s}` : `<f32>${s}.0`;
}
