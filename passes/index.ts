// Passes: the pass manager, pipelines, instruments and every registered pass.
// A new pass is one module that calls registerPass, imported here.
import '../ir/ops/index.js'; // the folds and CSE consult the op registry
import './canonicalize.js';
import './cse.js';
import './dce.js';
import './pipelines.js';

export * from './canonicalize.js';
export * from './cse.js';
export * from './dce.js';
export * from './fold-layout.js';
export * from './instruments.js';
export * from './pass.js';
export * from './pass-manager.js';
export * from './pipeline.js';
export * from './registry.js';
export * from './simplify-dims.js';
export * from './timing.js';
