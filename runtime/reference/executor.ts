// The reference backend as an Executor: the interpreter over the step graphs, with the KV cache
// held as host tensors between steps.
import type { Graph } from '../../ir/graph.js';
import { i32, type HostTensor, tensor } from '../../ir/tensor.js';
import { checkStep, type Executor, type LogitsWanted } from '../executor.js';
import { interpret, type ParamResolver } from './interpreter.js';
import { argmax, checkPicked } from '../sampler.js';

export interface StepGraphs {
  /** Logits of the last position only (generation). */
  readonly last: Graph;
  /** Logits of every position. */
  readonly all: Graph;
}

export class ReferenceExecutor implements Executor {
  readonly backend = 'reference';
  private state = new Map<string, HostTensor>();
  private length = 0;

  constructor(
    private readonly graphs: StepGraphs,
    private readonly params: ParamResolver,
    readonly contextLength: number,
    readonly vocabSize: number,
  ) {
    this.reset();
  }

  get position(): number {
    return this.length;
  }

  async forward(tokens: readonly number[], want: LogitsWanted): Promise<Float32Array> {
    return (await this.run(tokens, want)).logits.data as Float32Array;
  }

  async forwardGreedy(tokens: readonly number[]): Promise<number> {
    const out = await this.run(tokens, 'last');
    const logits = out.logits.data as Float32Array;
    if (!out.next) return argmax(logits);
    const next = (out.next.data as Int32Array)[0];
    return checkPicked(next, logits[next]);
  }

  private async run(tokens: readonly number[], want: LogitsWanted): Promise<Record<string, HostTensor>> {
    checkStep(tokens, this.length, this.contextLength, this.vocabSize);
    const g = want === 'last' ? this.graphs.last : this.graphs.all;
    const S = tokens.length;
    const inputs: Record<string, HostTensor> = {
      tokens: i32([S], tokens),
      pos: i32([S], Array.from({ length: S }, (_, i) => this.length + i)),
    };
    for (const [name, t] of this.state) inputs[name] = t;
    const res = interpret(g, { inputs, params: this.params, dims: { P: this.length } });
    for (const [name, t] of Object.entries(res.updates)) this.state.set(name, t);
    this.length += S;
    return res.outputs;
  }

  truncate(length: number): void {
    if (length < 0 || length > this.length) throw new RangeError(`truncate: ${length} is outside [0, ${this.length}]`);
    for (const [name, t] of this.state) {
      const row = t.shape.slice(1).reduce((a, b) => a * b, 1);
      this.state.set(name, tensor(t.dtype, [length, ...t.shape.slice(1)], (t.data as Float32Array).slice(0, length * row)));
    }
    this.length = length;
  }

  reset(): void {
    this.state.clear();
    for (const v of this.graphs.last.stateInputs()) {
      const rest = v.type.shape.slice(1).map((d) => {
        if (typeof d !== 'number') throw new Error(`state %${v.name} must have static trailing dims`);
        return d;
      });
      this.state.set(v.name, tensor(v.type.dtype, [0, ...rest]));
    }
    this.length = 0;
  }

  async dispose(): Promise<void> {
    this.state.clear();
  }
}
