// Assembles one WgslKernel: binding declarations in order, the uniform that carries symbolic
// dims, enables, the stable key, and the launch grid. Emitters write only the interesting part
// (helper functions and the entry point) and ask the builder for dims as WGSL expressions.
import { type Dim, dimFn } from '../../ir/dim.js';
import { storageBytes } from '../../ir/dtype.js';
import type { Node, Value } from '../../ir/graph.js';
import { typeToString } from '../../ir/types.js';
import type { KernelCondition, ScratchSize } from '../kernel.js';
import { kernelRuntime } from './kernel-runtime.js';
import { type RowRange, rowBytes } from './split.js';
import type { WgslTarget } from './target.js';
import type { WgslBinding, WgslKernel } from './types.js';

/** A storage array's element; 'vec4f' only where a kernel reads an f32 tensor 16 bytes at a time. */
export type StorageElem = 'f32' | 'i32' | 'u32' | 'vec4f';

export interface BuildOptions {
  /** Helper functions and the entry point `fn <entryPoint>(…)`. */
  readonly body: string;
  readonly grid: readonly [Dim, Dim, Dim];
  readonly label: string;
  readonly when?: KernelCondition;
}

/** One operand of the node bound as a row range (a split weight, split.ts). */
export interface OperandRows {
  readonly operand: number;
  readonly rows: RowRange;
}

export class KernelBuilder {
  private readonly decls: string[] = [];
  private readonly refs: WgslBinding[] = [];
  private readonly dims: Dim[] = [];
  private readonly dimSlots = new Map<string, number>();
  private readonly enables = new Set<string>();

  /** `part`: `operand(part.operand, …)` binds only those rows of it. */
  constructor(readonly node: Node, readonly target: WgslTarget, readonly entryPoint: string, private readonly part?: OperandRows) {}

  /** `enable subgroups;` and the like. */
  enable(extension: 'subgroups' | 'f16'): void {
    this.enables.add(extension);
  }

  /** Binds operand `index` read-only as `name: array<elem>` (the builder's row range of it, if any). */
  operand(index: number, name: string, elem: StorageElem): void {
    const decl = `var<storage, read> ${name}: array<${elem}>`;
    if (this.part?.operand === index) {
      const { rows } = this.part;
      const v = this.node.inputs[index];
      const bytes = rows.count * rowBytes(v.type);
      if (bytes > this.target.maxStorageBindingSize) {
        throw new Error(`${this.node.op}: operand ${index} %${v.name}: rows ${rows.first}..${rows.first + rows.count} are ${bytes} bytes, over the device's maxStorageBufferBindingSize of ${this.target.maxStorageBindingSize} bytes`);
      }
      this.bind({ kind: 'operand', index, rows }, decl);
      return;
    }
    this.checkSize(this.node.inputs[index], `operand ${index}`);
    this.bind({ kind: 'operand', index }, decl);
  }

  /** Binds result `index` read-write as `name: array<elem>`. */
  result(index: number, name: string, elem: StorageElem): void {
    this.checkSize(this.node.outputs[index], `result ${index}`);
    this.bind({ kind: 'result', index }, `var<storage, read_write> ${name}: array<${elem}>`);
  }

  /** Binds scratch buffer `id` (shared by this node's kernels that name it) as `name: array<elem>`. */
  scratch(id: number, bytes: ScratchSize, name: string, elem: StorageElem): void {
    this.bind({ kind: 'scratch', id, bytes }, `var<storage, read_write> ${name}: array<${elem}>`);
  }

  /**
   * A WGSL u32 expression for a dim or a loop bound: a literal when static (unless the target
   * rolls loops), otherwise a slot of the uniform. Only for values used as numbers at run time:
   * array sizes and workgroup sizes must stay literals. Equal dims share a slot, unless `own`
   * names a slot of their own: values that differ between kernels meant to share one WGSL text
   * (a weight's row ranges) must not merge with whatever other dim they happen to equal.
   */
  dim(d: Dim, own?: string): string {
    if (typeof d === 'number') {
      if (!Number.isInteger(d) || d < 0 || d > 0xffffffff) throw new Error(`${this.node.op}: dim ${d} does not fit in u32`);
      if (!this.target.rollLoops) return `${d}u`;
    }
    const key = own !== undefined ? `@${own}` : typeof d === 'number' ? `#${d}` : d.key;
    let slot = this.dimSlots.get(key);
    if (slot === undefined) {
      slot = this.dims.length;
      this.dims.push(d);
      this.dimSlots.set(key, slot);
    }
    return `U.v[${slot >> 2}].${'xyzw'[slot & 3]}`;
  }

  build(opts: BuildOptions): WgslKernel {
    const n4 = Math.max(1, Math.ceil(this.dims.length / 4));
    const uniformBinding = this.refs.length;
    const header = [
      `// tessera ${opts.label}`,
      ...[...this.enables].sort().map((e) => `enable ${e};`),
      ...this.decls,
      `struct Dims { v: array<vec4u, ${n4}> }`,
      `@group(0) @binding(${uniformBinding}) var<uniform> U: Dims;`,
    ];
    const wgsl = `${header.join('\n')}\n${touchUniform(opts.body, this.entryPoint).trim()}\n`;
    const dims = [...this.dims];
    const grid = opts.grid;
    const where = `${this.node.op} (${opts.label})`;
    return {
      key: `${this.entryPoint}-${hash64(`${this.entryPoint}\n${wgsl}`)}`,
      wgsl,
      entryPoint: this.entryPoint,
      label: opts.label,
      bindings: [...this.refs],
      uniformDims: dims,
      grid,
      ...(opts.when ? { when: opts.when } : {}),
      ...kernelRuntime(dims, grid, this.target.maxWorkgroupsPerDimension, where),
    };
  }

  private bind(ref: WgslBinding, decl: string): void {
    const slot = this.refs.length;
    if (slot >= this.target.maxStorageBuffers) {
      throw new Error(`${this.node.op}: needs more than the device's ${this.target.maxStorageBuffers} storage buffers per shader stage`);
    }
    this.refs.push(ref);
    this.decls.push(`@group(0) @binding(${slot}) ${decl};`);
  }

  private checkSize(v: Value, what: string): void {
    const shape = v.type.shape;
    if (!shape.every((d): d is number => typeof d === 'number')) return; // checked by the executor at run time
    const bytes = storageBytes(v.type.dtype, shape);
    if (bytes > this.target.maxStorageBindingSize) {
      throw new Error(`${this.node.op}: ${what} %${v.name}: ${typeToString(v.type)} is ${bytes} bytes, over the device's ` +
        `maxStorageBufferBindingSize of ${this.target.maxStorageBindingSize} bytes (only matmul weights and embedding tables are split by rows)`);
    }
  }
}

/**
 * Makes the entry point read the uniform (a phony assignment), so the uniform binding is
 * statically used even when every dim is static and `layout: 'auto'` keeps it.
 */
function touchUniform(body: string, entryPoint: string): string {
  const at = body.indexOf(`fn ${entryPoint}(`);
  const open = at < 0 ? -1 : body.indexOf('{', at);
  if (open < 0) throw new Error(`kernel body has no entry point 'fn ${entryPoint}(…) {'`);
  return `${body.slice(0, open + 1)}\n  _ = U.v[0];${body.slice(open + 1)}`;
}

/** FNV-1a over UTF-16 code units, two 32-bit lanes with different seeds: 16 hex digits. */
export function hash64(s: string): string {
  let a = 0x811c9dc5, b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

/** ceil(a / b) as a dim. */
export function ceilDiv(a: Dim, b: number): Dim {
  return dimFn('ceildiv', a, b);
}

/**
 * A 1-D launch of `count` workgroups folded into x and y when it exceeds the per-dimension limit.
 * The kernel recovers the flat index with `flatWorkgroup()` and must ignore indices ≥ count.
 */
export function grid1d(count: Dim, target: WgslTarget): [Dim, Dim, Dim] {
  const max = target.maxWorkgroupsPerDimension;
  if (typeof count === 'number' && count <= max) return [count, 1, 1];
  return [dimFn('min', count, max), ceilDiv(count, max), 1];
}

/** WGSL expression of the flat workgroup index under `grid1d` (needs `wid` and `nwg` builtins). */
export const FLAT_WORKGROUP = 'wid.x + wid.y * nwg.x';

/**
 * A WGSL f32 literal that reads back as exactly `x` rounded to f32. Nine significant digits land
 * within 0.1 ulp of the f32 value, so any rounding path (direct, or via an abstract float) gives it.
 */
export function f32Lit(x: number): string {
  const v = Math.fround(x);
  if (!Number.isFinite(v)) throw new Error(`${x} is not a finite f32`);
  let [mant, exp] = v.toPrecision(9).split('e');
  if (mant.includes('.')) mant = mant.replace(/0+$/, '').replace(/\.$/, '.0');
  else mant += '.0';
  return exp ? `${mant}e${exp}` : mant;
}

/** A power of two no larger than `n` (n ≥ 1). */
export function floorPow2(n: number): number {
  return 2 ** Math.floor(Math.log2(n));
}
