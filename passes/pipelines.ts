// The named pipelines. A table, so a target gets its own `default` by adding a row.
// Rows may name passes registered by modules imported later; names are checked when a pipeline is used.
// Tile sizes and other per-target choices live in passes/targets.ts: the passes read ctx.target,
// so the target rows differ only where the target wants different passes.
import { registerPipeline } from './pipeline.js';

interface PipelineRow {
  readonly name: string;
  readonly passes: string;
  readonly target?: string;
  readonly description: string;
}

// memory-plan is not here: it reports statistics only, and each backend plans at its own bounds.
const OPTIMIZE = 'canonicalize,qkv-merge,rmsnorm-matmul,fold-rope,flash-attention,fuse-elementwise,canonicalize';

export const PIPELINES: readonly PipelineRow[] = [
  { name: 'none', passes: '', description: 'no passes: the graph as read' },
  { name: 'default', passes: OPTIMIZE, description: 'the standard optimisation pipeline' },
  { name: 'default', target: 'wasm', passes: OPTIMIZE, description: 'the standard pipeline with CPU tiles (flash attention 32-key tiles, split-K 2)' },
];

for (const p of PIPELINES) registerPipeline(p.name, p.passes, { target: p.target, description: p.description });
