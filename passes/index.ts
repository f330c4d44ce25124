// Passes: the pass manager, pipelines, instruments and every registered pass.
// A new pass is one module that calls registerPass, imported here.
import '../ir/ops/index.js'; // the folds and CSE consult the op registry
import './canonicalize.js';
import './cse.js';
import './dce.js';
import './qkv-merge.js';
import './rmsnorm-matmul.js';
import './flash-attention.js';
import './fuse-elementwise.js';
import './fold-rope.js';
import './quantize.js';
import './lora-merge.js';
import './lora-attach.js';
import './memory-plan.js';
import './pipelines.js';

export * from './canonicalize.js';
export * from './cse.js';
export * from './dce.js';
export * from './flash-attention.js';
export * from './fold-rope.js';
export * from './fuse-elementwise.js';
export * from './fold-layout.js';
export * from './instruments.js';
export * from './lora-attach.js';
export * from './lora-merge.js';
export * from './memory-plan.js';
export * from './pass.js';
export * from './pass-manager.js';
export * from './pipeline.js';
export * from './qkv-merge.js';
export * from './quantize.js';
export * from './registry.js';
export * from './rmsnorm-matmul.js';
export * from './simplify-dims.js';
export * from './stats.js';
export * from './targets.js';
export * from './timing.js';
