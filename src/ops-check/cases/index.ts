// The op table: every op's cases, one row per op, kept in the family files next door.
import '../../../ir/ops/index.js';
import type { OpCases } from '../case.js';
import { attentionCases } from './attention.js';
import { elementwiseCases } from './elementwise.js';
import { fusedCases } from './fused.js';
import { layoutCases } from './layout.js';
import { loraCases } from './lora.js';
import { matmulCases } from './matmul.js';
import { normCases } from './norm.js';
import { pagedCases } from './paged.js';

export const OP_TABLE: readonly OpCases[] = [
  ...elementwiseCases,
  ...layoutCases,
  ...normCases,
  ...matmulCases,
  ...attentionCases,
  ...fusedCases,
  ...loraCases,
  ...pagedCases,
];
