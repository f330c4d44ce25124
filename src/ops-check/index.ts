// The op table (llama.cpp's test-backend-ops for Tessera): cases per op, one harness, one metric.
export * from './case.js';
export { OP_TABLE } from './cases/index.js';
export * from './coverage.js';
export * from './draw.js';
export * from './harness.js';
export * from './metric.js';
