// Registers every op. Import this module (or ir/index.ts) before building or parsing graphs.
import './elementwise.js';
import './activation.js';
import './matmul.js';
import './norm.js';
import './embedding.js';
import './reduce.js';
import './layout.js';
import './rope.js';
import './attention.js';
import './fused.js';
import './flash-attention.js';
import './rope-matmul.js';
import './lora.js';
import './paged-attention.js';
