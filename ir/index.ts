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
export { parseDim } from './parse/dim.js';
export * from './printer.js';
export * from './tensor.js';
export * from './types.js';
export * from './verifier.js';
export * from './weights.js';

// The text IR parser (parseGraph, parseGraphUnverified) is loaded on demand: it pulls in chevrotain,
// which costs more start-up than the rest of the runtime, and running a model never needs it.
export const loadParser = (): Promise<typeof import('./parser.js')> => import('./parser.js');
