// Valid values of the numeric load options, for Node's Model.open, the CLI's flags and the
// browser's Model.open alike.
import type { NumberRange } from '../runtime/options.js';

export const LOAD_RANGES = {
  contextLength: { integer: true, min: 1 },
  maxChunk: { integer: true, min: 1 },
  threads: { integer: true, min: 1, max: 1024 },
  spinMicros: { integer: true, min: 0 },
} as const satisfies Record<string, NumberRange>;
