// Optional WebAssembly features the CPU module may use, and whether this engine has them.
//
// Relaxed SIMD gives f32x4.relaxed_madd, which x86 with FMA runs as one fused multiply-add where
// plain SIMD128 needs a multiply and an add: prefill (compute-bound matmuls) runs ~1.5× faster
// with it. V8 11.3 (Node 20) implements it behind --experimental-wasm-relaxed-simd, which can be
// turned on at run time before the module is compiled; newer engines have it on by default.
import { isNode, nodeBuiltin } from '../../runtime/platform/node-builtin.js';

export type WasmFeature = 'relaxed-simd';

// (func (param v128 v128 v128) (result v128) local.get 0 local.get 1 local.get 2 f32x4.relaxed_madd)
const RELAXED_MADD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b,
  0x03, 0x02, 0x01, 0x00,
  0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x85, 0x02, 0x0b,
]);

let relaxed: boolean | undefined;

/** True when this engine runs relaxed SIMD (after enabling V8's flag for it where that is needed). */
export function relaxedSimdAvailable(): boolean {
  if (relaxed !== undefined) return relaxed;
  relaxed = WebAssembly.validate(RELAXED_MADD_PROBE);
  if (!relaxed && isNode) {
    try {
      const v8 = nodeBuiltin<typeof import('node:v8')>('node:v8', 'turning on relaxed SIMD');
      v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
      relaxed = WebAssembly.validate(RELAXED_MADD_PROBE);
    } catch {
      relaxed = false;
    }
  }
  return relaxed;
}

/**
 * The features a module built now will use: what this engine supports, unless the environment
 * variable TESSERA_NO_RELAXED_SIMD is set (for artifacts meant for engines without it).
 */
export function defaultWasmFeatures(): WasmFeature[] {
  return globalThis.process?.env.TESSERA_NO_RELAXED_SIMD === undefined && relaxedSimdAvailable() ? ['relaxed-simd'] : [];
}

/** Throws a clear error when a stored module needs a feature this engine lacks. */
export function assertWasmFeatures(features: readonly string[], what: string): void {
  for (const f of features) {
    if (f !== 'relaxed-simd') throw new Error(`${what} needs the WebAssembly feature '${f}', which this version of Tessera does not know`);
    if (!relaxedSimdAvailable()) {
      throw new Error(`${what} uses WebAssembly relaxed SIMD, which this engine does not support; compile it with TESSERA_NO_RELAXED_SIMD=1 set for a module without it`);
    }
  }
}
