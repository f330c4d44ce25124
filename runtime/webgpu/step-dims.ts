// A program's run-time dims. Every launch's uniform words, workgroup counts and run condition are
// indices into the program's table of distinct dims (made with it at compile time, contract.ts).
// The GPU fills the uniform words itself (the program's dims kernel, from `wordMap()`); each step the host evaluates the
// table once for the workgroup counts and to check that every launched word fits in an i32: no
// per-launch closures, no allocation. (Calling each kernel's own `uniforms`/`workgroups` cost
// ~5 µs a launch in V8, as much as Dawn's own encoding.)
import type { KernelCondition } from '../../codegen/kernel.js';
import { dimKey } from '../../codegen/wgsl/contract.js';
import type { WgslKernel } from '../../codegen/wgsl/types.js';
import { type Dim, type DimBindings, dimToString, evalDim } from '../../ir/dim.js';

export interface StepLaunch {
  readonly kernel: WgslKernel;
  /** Byte offset of the launch's uniform in the program's uniform buffer. */
  readonly uniformOffset: number;
}

export class StepDims {
  private readonly index = new Map<string, number>();
  /** Uniform word → dim index and owning launch, as parallel arrays. */
  private readonly words: Uint32Array;
  private readonly wordDims: Uint32Array;
  private readonly wordLaunches: Uint32Array;
  private readonly labels: readonly string[];
  /** Per launch: the dim indices of its x, y, z workgroup counts. */
  private readonly grids: Uint32Array;
  private readonly conditions: readonly ({ readonly dim: number; readonly min: number; readonly max: number } | undefined)[];
  private readonly values: Float64Array;
  /** This step's workgroup counts, three per launch; a launch to skip has x = 0. */
  readonly workgroups: Uint32Array;

  /** `dims`: the program's table, which the dims kernel evaluates in this order. */
  constructor(private readonly dims: readonly Dim[], launches: readonly StepLaunch[], private readonly maxWorkgroups: number) {
    dims.forEach((d, i) => this.index.set(dimKey(d), i));
    const words: number[] = [];
    const wordDims: number[] = [];
    const wordLaunches: number[] = [];
    const grids: number[] = [];
    this.conditions = launches.map(({ kernel, uniformOffset }, l) => {
      kernel.uniformDims.forEach((d, i) => {
        words.push(uniformOffset / 4 + i);
        wordDims.push(this.slot(d));
        wordLaunches.push(l);
      });
      for (const d of kernel.grid) grids.push(this.slot(d));
      return condition(kernel.when, (d) => this.slot(d));
    });
    this.words = Uint32Array.from(words);
    this.wordDims = Uint32Array.from(wordDims);
    this.wordLaunches = Uint32Array.from(wordLaunches);
    this.grids = Uint32Array.from(grids);
    this.values = new Float64Array(this.dims.length);
    this.workgroups = new Uint32Array(3 * launches.length);
    this.labels = launches.map((l) => l.kernel.label);
  }

  /** (uniform word index, dim index) pairs, one per launch's uniform word. */
  wordMap(): Uint32Array<ArrayBuffer> {
    const out = new Uint32Array(2 * this.words.length);
    this.words.forEach((w, k) => {
      out[2 * k] = w;
      out[2 * k + 1] = this.wordDims[k];
    });
    return out;
  }

  /** Uniform words the GPU writes each step. */
  get wordCount(): number {
    return this.words.length;
  }

  private slot(d: Dim): number {
    const i = this.index.get(dimKey(d));
    if (i === undefined) throw new Error(`dim ${dimToString(d)} of a launch is not in the program's dims table (an inconsistent program: recompile it)`);
    return i;
  }

  /** Evaluates the dims under `env`, fills `workgroups` and checks the words of launches that run. */
  update(env: DimBindings): void {
    const { values, workgroups } = this;
    for (let i = 0; i < this.dims.length; i++) values[i] = evalDim(this.dims[i], env);
    this.conditions.forEach((c, l) => {
      const skip = c !== undefined && !(values[c.dim] >= c.min && values[c.dim] <= c.max);
      for (let a = 0; a < 3; a++) {
        const n = skip ? 0 : values[this.grids[3 * l + a]];
        if (n > this.maxWorkgroups) {
          throw new Error(`${this.labels[l]}: ${[0, 1, 2].map((j) => values[this.grids[3 * l + j]]).join('×')} workgroups exceed maxComputeWorkgroupsPerDimension ${this.maxWorkgroups}`);
        }
        workgroups[3 * l + a] = n;
      }
      // A grid with a zero anywhere launches nothing: mark it by x = 0.
      if (workgroups[3 * l + 1] === 0 || workgroups[3 * l + 2] === 0) workgroups[3 * l] = 0;
    });
    for (let k = 0; k < this.words.length; k++) {
      if (workgroups[3 * this.wordLaunches[k]] === 0) continue;
      const v = values[this.wordDims[k]];
      // The GPU computes the words in i32: the same values, as long as they fit.
      if (!(v >= 0 && v <= 0x7fffffff && Number.isInteger(v))) throw new Error(`${this.labels[this.wordLaunches[k]]}: dim ${dimToString(this.dims[this.wordDims[k]])} = ${v} does not fit in an i32`);
    }
  }
}

function condition(c: KernelCondition | undefined, slot: (d: Dim) => number): { dim: number; min: number; max: number } | undefined {
  if (!c) return undefined;
  return { dim: slot(c.dim), min: c.min ?? -Infinity, max: c.max ?? Infinity };
}
