// What one row of the op table is: a one-node graph (op, operands with optional symbolic shapes,
// attributes, symbol values) and how close a backend's result must be to the reference's.
import type { AttrValue, CodegenTarget, Dim, HostTensor } from '../../ir/index.js';
import type { Draw } from './draw.js';

/** An operand: its data, and optionally the (symbolic) shape the graph declares for it. */
export interface Operand {
  readonly t: HostTensor;
  readonly shape?: readonly Dim[];
}

export interface OpCase {
  /** Printed when the case fails: op, shapes, attributes. */
  readonly label: string;
  readonly op: string;
  readonly operands: readonly Operand[];
  readonly attrs?: Readonly<Record<string, AttrValue>>;
  /** Values of the symbols the declared shapes use, beyond those the operands fix. */
  readonly dims?: Readonly<Record<string, number>>;
  /** Largest normalized MSE allowed for f32 results (default DEFAULT_NMSE in metric.ts). */
  readonly maxNmse?: number;
  /** Compare f32 results bit for bit (layout ops and copies are always compared so). */
  readonly exact?: boolean;
  /**
   * Targets whose kernels do not take this case, each with the reason (a dtype the op allows but
   * the target's graphs never feed it, e.g. f16 activations on wasm). Reported as skipped.
   */
  readonly skip?: Partial<Readonly<Record<CodegenTarget, string>>>;
}

/** The reason of cases whose activations are 16-bit: the CPU kernels read f32 activations only. */
export const F32_ACTIVATIONS_ON_WASM = 'the wasm kernels read f32 activations only (its graphs never hold others)';

/**
 * The cases of one op: `draw` makes one or a few cases from the choices `d` makes. The table
 * calls it once per run (fast-check decides how many runs under vitest, `--runs` from the CLI).
 */
export interface OpCases {
  readonly op: string;
  draw(d: Draw): OpCase[];
}

/** The symbols one-node graphs may declare shapes with. */
export const CASE_SYMBOLS = ['B', 'S', 'P', 'T', 'N'] as const;
