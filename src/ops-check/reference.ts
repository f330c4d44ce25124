// A case as a one-node graph, and its expected results from the reference interpreter (the oracle).
import { GraphBuilder, type Graph, type HostTensor } from '../../ir/index.js';
import { interpret } from '../../runtime/reference/interpreter.js';
import { CASE_SYMBOLS, type OpCase } from './case.js';

/** The verified graph `x0, x1, … → op → y0, y1, …` of a case. */
export function caseGraph(c: OpCase): Graph {
  const b = new GraphBuilder(c.op, [...CASE_SYMBOLS]);
  const ins = c.operands.map((o, i) => b.input(`x${i}`, o.t.dtype, o.shape ?? o.t.shape));
  b.ops(c.op, ins, { ...c.attrs }).forEach((v, i) => b.output(`y${i}`, v));
  return b.finish();
}

/** The graph inputs of a case by name. */
export function caseInputs(c: OpCase): Record<string, HostTensor> {
  return Object.fromEntries(c.operands.map((o, i) => [`x${i}`, o.t]));
}

/** The reference results, in output order. */
export function referenceResults(c: OpCase, graph: Graph): HostTensor[] {
  const res = interpret(graph, { inputs: caseInputs(c), params: () => { throw new Error('one-node graphs have no params'); }, dims: c.dims });
  return graph.outputs.map((o) => res.outputs[o.name]);
}
