// What a backend offers a stateless model (an encoder): one graph run over whole inputs per call,
// with no cache and no steps. Buffers are sized once for the program's bounds; a call binds the
// symbols from its input shapes and must stay within them.
import type { DimBindings } from '../../ir/dim.js';
import type { Graph } from '../../ir/graph.js';
import type { HostTensor } from '../../ir/tensor.js';
import { bindDims } from '../reference/interpreter.js';

export interface BatchExecutor {
  /** 'wasm' or 'webgpu'. */
  readonly backend: string;
  /** The graph it runs (inputs, outputs and their types). */
  readonly graph: Graph;
  /** The largest value each symbol may take in one call. */
  readonly bounds: DimBindings;
  /** Runs the graph once and returns the named outputs (copied off the device). */
  run(inputs: Readonly<Record<string, HostTensor>>, outputs: readonly string[]): Promise<Record<string, HostTensor>>;
  dispose(): Promise<void>;
}

/** The symbols `inputs` bind, checked against what the buffers were sized for. */
export function bindWithinBounds(graph: Graph, inputs: Readonly<Record<string, HostTensor>>, bounds: DimBindings): DimBindings {
  const dims = bindDims(graph, inputs);
  for (const [sym, max] of Object.entries(bounds)) {
    const v = dims[sym];
    if (v !== undefined && v > max) throw new RangeError(`graph @${graph.name}: ${sym} = ${v} is more than the ${max} its buffers were sized for`);
  }
  return dims;
}

/** The graph value of each requested output, or an error naming what the graph has. */
export function outputValues(graph: Graph, names: readonly string[]) {
  return names.map((name) => {
    const v = graph.output(name);
    if (!v) throw new Error(`graph @${graph.name} has no output ${name} (has ${graph.outputs.map((o) => o.name).join(', ')})`);
    return { name, value: v };
  });
}
