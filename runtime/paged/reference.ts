// The paged step on the reference interpreter: the pool is a host tensor per state, replaced by
// the step's updates (the interpreter copies it; the oracle favours clarity over speed).
import type { Graph } from '../../ir/graph.js';
import { type HostTensor, tensor } from '../../ir/tensor.js';
import { interpret, type ParamResolver } from '../reference/interpreter.js';
import { LORA_ROWS_INPUT } from './lora-rows.js';
import { type PagedGeometry, pagedGeometry, type PagedRows, type PagedStepExecutor, type PagedStepResult } from './step.js';

export class ReferencePagedExecutor implements PagedStepExecutor {
  readonly backend = 'reference';
  readonly geometry: PagedGeometry;
  private readonly state = new Map<string, HostTensor>();

  constructor(private readonly graph: Graph, private readonly params: ParamResolver, readonly maxRows: number) {
    this.geometry = pagedGeometry(graph);
    for (const v of graph.stateInputs()) {
      const shape = v.type.shape.map((d) => d as number);
      this.state.set(v.name, tensor(v.type.dtype, shape, new Float32Array(shape.reduce((a, b) => a * b, 1))));
    }
  }

  async step(rows: PagedRows): Promise<PagedStepResult> {
    const n = rows.count, width = this.geometry.tableWidth;
    const inputs: Record<string, HostTensor> = {
      tokens: tensor('i32', [n], rows.tokens.slice(0, n)),
      pos: tensor('i32', [n], rows.pos.slice(0, n)),
      lens: tensor('i32', [n], rows.lens.slice(0, n)),
      blocks: tensor('i32', [n, width], rows.blocks.slice(0, n * width)),
    };
    const adapters = this.geometry.adapters;
    if (adapters) inputs[LORA_ROWS_INPUT] = tensor('f32', [n, adapters], rows.lora.slice(0, n * adapters));
    for (const [name, t] of this.state) inputs[name] = t;
    const res = interpret(this.graph, { inputs, params: this.params });
    for (const [name, t] of Object.entries(res.updates)) this.state.set(name, t);
    return { logits: res.outputs.logits.data as Float32Array, next: res.outputs.next.data as Int32Array };
  }

  async dispose(): Promise<void> {
    this.state.clear();
  }
}
