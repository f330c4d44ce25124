// What a pass is: a named graph rewrite with optional typed options, run by the pass manager.
import type { Attrs, AttrSchema } from '../ir/attrs.js';
import type { Graph } from '../ir/graph.js';

/** What a pass sees besides the graph: its options, the target, and a place to count what it did. */
export interface PassContext {
  /** The pass's options from the pipeline string, checked against `Pass.options` with defaults filled in. */
  readonly options: Attrs;
  /** The compilation target (e.g. 'webgpu', 'wasm'), when there is one. */
  readonly target?: string;
  /** Adds `n` (default 1) to a named statistic of this pass run, e.g. `ctx.stat('nodes-removed', 3)`. */
  stat(name: string, n?: number): void;
}

export interface PassResult {
  /** Whether the pass changed the graph. Instruments and fixpoint drivers trust this. */
  readonly changed: boolean;
  /** A replacement graph, for passes that build a new graph rather than rewriting in place. */
  readonly graph?: Graph;
}

export interface Pass {
  /** The name used in pipeline strings: lower-case words joined by '-'. */
  readonly name: string;
  /** One line for `tessera help` and the "unknown pass" message. */
  readonly description: string;
  /** Options accepted as `name{key=value, …}`; the same schema language as op attributes. */
  readonly options?: AttrSchema;
  /** Rewrites `graph` in place (or returns a new one). Must leave a graph that verifies. */
  run(graph: Graph, ctx: PassContext): PassResult;
}
