// The named pipelines. A table, so a target gets its own `default` by adding a row, e.g.
// { name: 'default', target: 'webgpu', passes: 'canonicalize,qkv-merge,flash-attention,canonicalize' }.
// Rows may name passes registered by modules imported later; names are checked when a pipeline is used.
import { registerPipeline } from './pipeline.js';

interface PipelineRow {
  readonly name: string;
  readonly passes: string;
  readonly target?: string;
  readonly description: string;
}

export const PIPELINES: readonly PipelineRow[] = [
  { name: 'none', passes: '', description: 'no passes: the graph as read' },
  { name: 'default', passes: 'canonicalize', description: 'the standard optimisation pipeline' },
];

for (const p of PIPELINES) registerPipeline(p.name, p.passes, { target: p.target, description: p.description });
