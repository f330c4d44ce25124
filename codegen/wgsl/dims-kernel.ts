// The kernel that starts every WebGPU step: it evaluates the program's distinct run-time dims
// from the step's symbols (S, P) on the GPU and writes them into every launch's uniform words,
// and writes the step's positions P … P+S−1. So a step uploads 8 bytes of symbols and the token
// ids, not a uniform buffer of every launch's dims. Written at compile time with the program
// (program.ts), so loading an artifact generates no code; its bindings are in contract.ts.
import { type Dim, dimToString } from '../../ir/dim.js';
import { hash64 } from './builder.js';
import { DIMS_BINDINGS, DIMS_ENTRY, DIMS_WORKGROUP, type DimsKernel, distinctDims } from './contract.js';
import type { WgslKernel } from './types.js';

/** The dims kernel of a program whose launches are `kernels`, over the graph's `symbols`. */
export function dimsKernel(kernels: readonly WgslKernel[], symbols: readonly string[]): DimsKernel {
  const table = distinctDims(kernels);
  const wgsl = dimsKernelWgsl(table, symbols);
  return { key: `${DIMS_ENTRY}-${hash64(wgsl)}`, symbols: [...symbols], table, wgsl };
}

/**
 * WGSL of the dims kernel for `dims` (a program's distinct dims) over `symbols` (their names, in
 * the order of the symbols buffer). `map` holds (word index, dim index) pairs; invocation t
 * writes pair t's word, and position t when t < S.
 */
export function dimsKernelWgsl(dims: readonly Dim[], symbols: readonly string[]): string {
  const cases = dims.map((d, i) => `    case ${i}u: { return ${dimToWgsl(d, symbols)}; } // ${dimToString(d)}`);
  return `@group(0) @binding(${DIMS_BINDINGS.symbols}) var<storage, read> symbols: array<i32>;
@group(0) @binding(${DIMS_BINDINGS.map}) var<storage, read> map: array<u32>;
@group(0) @binding(${DIMS_BINDINGS.words}) var<storage, read_write> words: array<u32>;
@group(0) @binding(${DIMS_BINDINGS.pos}) var<storage, read_write> pos: array<i32>;

// Floor and ceiling division of integers of any sign (WGSL's / truncates towards zero).
fn floordiv(a: i32, b: i32) -> i32 {
  let q = a / b;
  return select(q, q - 1, (a % b != 0) && ((a < 0) != (b < 0)));
}
fn ceildiv(a: i32, b: i32) -> i32 { return -floordiv(-a, b); }

fn dim_value(i: u32) -> i32 {
${symbols.map((s, j) => `  let ${s} = symbols[${j}];`).join('\n')}
  switch i {
${cases.join('\n')}
    default: { return 0; }
  }
}

@compute @workgroup_size(${DIMS_WORKGROUP})
fn ${DIMS_ENTRY}(@builtin(global_invocation_id) gid: vec3u) {
  let t = gid.x;
  if (t < arrayLength(&map) / 2u) { words[map[2u * t]] = bitcast<u32>(dim_value(map[2u * t + 1u])); }
  let S = ${symbols.includes('S') ? 'symbols[' + symbols.indexOf('S') + ']' : '0'};
  let P = ${symbols.includes('P') ? 'symbols[' + symbols.indexOf('P') + ']' : '0'};
  if (i32(t) < S) { pos[t] = P + i32(t); }
}`;
}

/** A dim as an i32 WGSL expression over the symbols' names. */
export function dimToWgsl(d: Dim, symbols: readonly string[]): string {
  if (typeof d === 'number') return int(d);
  const terms = d.terms.map((t) => {
    const factors = t.atoms.map((a) => {
      if (a.kind === 'sym') {
        if (!symbols.includes(a.name)) throw new Error(`dim ${d.key}: symbol '${a.name}' is not one of the step's (${symbols.join(', ')})`);
        return a.name;
      }
      const [x, y] = a.args.map((v) => dimToWgsl(v, symbols));
      return `${a.fn}(${x}, ${y})`;
    });
    return t.coeff === 1 && factors.length > 0 ? factors.join(' * ') : [int(t.coeff), ...factors].join(' * ');
  });
  return `(${terms.join(' + ')})`;
}

function int(n: number): string {
  if (!Number.isInteger(n) || Math.abs(n) > 0x7fffffff) throw new Error(`dim constant ${n} is not a 32-bit integer`);
  return n < 0 ? `(${n})` : `${n}`;
}
