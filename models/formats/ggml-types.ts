// ggml tensor types by id, as GGUF files number them, with each type's block geometry (so the
// byte size of any tensor can be checked even when we cannot decode its type). The types we run
// come from the dtype table (ir/dtype.ts, each row's `ggml`); FOREIGN lists the rest.
import { DTYPES, type DType, dtypeInfo } from '../../ir/dtype.js';

export interface GgmlType {
  readonly id: number;
  readonly name: string;
  /** Elements per block (1 for plain types). */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly blockBytes: number;
  /** Our dtype when we read this type: its bytes are used as they are. */
  readonly ours?: DType;
}

/** ggml types no dtype row claims (when one does, the row's facts are used, checked against the line). */
const FOREIGN: readonly GgmlType[] = [
  { id: 3, name: 'Q4_1', blockSize: 32, blockBytes: 20 },
  // 4 and 5 (Q4_2, Q4_3) were removed from ggml.
  { id: 6, name: 'Q5_0', blockSize: 32, blockBytes: 22 },
  { id: 7, name: 'Q5_1', blockSize: 32, blockBytes: 24 },
  { id: 9, name: 'Q8_1', blockSize: 32, blockBytes: 36 },
  { id: 10, name: 'Q2_K', blockSize: 256, blockBytes: 84 },
  { id: 11, name: 'Q3_K', blockSize: 256, blockBytes: 110 },
  { id: 12, name: 'Q4_K', blockSize: 256, blockBytes: 144 },
  { id: 13, name: 'Q5_K', blockSize: 256, blockBytes: 176 },
  { id: 14, name: 'Q6_K', blockSize: 256, blockBytes: 210 },
  { id: 15, name: 'Q8_K', blockSize: 256, blockBytes: 292 },
  { id: 16, name: 'IQ2_XXS', blockSize: 256, blockBytes: 66 },
  { id: 17, name: 'IQ2_XS', blockSize: 256, blockBytes: 74 },
  { id: 18, name: 'IQ3_XXS', blockSize: 256, blockBytes: 98 },
  { id: 19, name: 'IQ1_S', blockSize: 256, blockBytes: 50 },
  { id: 20, name: 'IQ4_NL', blockSize: 32, blockBytes: 18 },
  { id: 21, name: 'IQ3_S', blockSize: 256, blockBytes: 110 },
  { id: 22, name: 'IQ2_S', blockSize: 256, blockBytes: 82 },
  { id: 23, name: 'IQ4_XS', blockSize: 256, blockBytes: 136 },
  { id: 24, name: 'I8', blockSize: 1, blockBytes: 1 },
  { id: 25, name: 'I16', blockSize: 1, blockBytes: 2 },
  { id: 27, name: 'I64', blockSize: 1, blockBytes: 8 },
  { id: 28, name: 'F64', blockSize: 1, blockBytes: 8 },
  { id: 29, name: 'IQ1_M', blockSize: 256, blockBytes: 56 },
  // 31..33 (Q4_0_4_4, Q4_0_4_8, Q4_0_8_8) were removed from ggml.
  { id: 34, name: 'TQ1_0', blockSize: 256, blockBytes: 54 },
  { id: 35, name: 'TQ2_0', blockSize: 256, blockBytes: 66 },
  // 36..38 (IQ4_NL_4_4, IQ4_NL_4_8, IQ4_NL_8_8) were removed from ggml.
  { id: 39, name: 'MXFP4', blockSize: 32, blockBytes: 17 },
];

const OURS: readonly GgmlType[] = DTYPES.flatMap((d) => {
  const { ggml, blockSize, blockBytes } = dtypeInfo(d);
  return ggml ? [{ id: ggml.id, name: ggml.name, blockSize, blockBytes, ours: d }] : [];
});

// A dtype row takes its type's id; a FOREIGN line for the same type (left from before the row
// existed) must then agree with it, which checks the row against ggml's geometry.
const BY_ID = new Map<number, GgmlType>(FOREIGN.map((t) => [t.id, t]));
for (const t of OURS) {
  const had = BY_ID.get(t.id);
  if (had && (had.name !== t.name || had.blockSize !== t.blockSize || had.blockBytes !== t.blockBytes)) {
    throw new Error(`internal error: dtype ${t.ours} says ggml type ${t.id} is ${t.name} (${t.blockSize} per ${t.blockBytes} bytes), ggml says ${had.name} (${had.blockSize} per ${had.blockBytes})`);
  }
  BY_ID.set(t.id, t);
}

/** The type with this id, or undefined for ids ggml does not (or no longer) define. */
export function ggmlType(id: number): GgmlType | undefined {
  return BY_ID.get(id);
}

/** ggml type id used to store one of our dtypes (for writers and tests). */
export function ggmlTypeOf(d: DType): GgmlType {
  const t = OURS.find((x) => x.ours === d);
  if (!t) throw new Error(`no ggml type stores ${d}`);
  return t;
}
