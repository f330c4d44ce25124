// Registers every op. Import this module (or ir/index.ts) before building or parsing graphs.
import './elementwise.js';
import './matmul.js';
import './norm.js';
