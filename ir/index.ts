// The IR: dtypes, symbolic shapes, graphs, the op registry, builder, verifier and printer.
import './ops/index.js';

export * from './attrs.js';
export * from './builder.js';
export * from './dim.js';
export * from './dtype.js';
export * from './errors.js';
export * from './graph.js';
export * from './memory.js';
export * from './op.js';
export * from './parser.js';
export * from './printer.js';
export * from './tensor.js';
export * from './types.js';
export * from './verifier.js';
export * from './weights.js';
