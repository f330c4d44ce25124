// What the optimisation passes assume about each compilation target. Passes read this through
// ctx.target, so `default` means the right tile sizes for the target it is compiled for.
export interface TargetTraits {
  /** flash_attention tiles: query rows and keys per tile, key splits for decode steps. */
  readonly flash: { readonly tile_q: number; readonly tile_k: number; readonly split_k: number };
}

export const TARGETS: Readonly<Record<string, TargetTraits>> = {
  // No webgpu row: the WGSL attention kernels size their tiles to the device's workgroup memory
  // and split decode steps into 16-key chunks (codegen/wgsl/attention.ts), whatever the
  // attributes say, so there the tiles only fix the reference's evaluation order (GENERIC_TARGET).
  // A few threads on a CPU (codegen/wasm/attention.ts runs flash_attention): a work item is one
  // query row, so tile_q only shapes the reference's schedule; 32 keys' scores sit in per-thread
  // scratch in L1, and rescaling the running state once per 32 keys is cheap next to their dot
  // products; a decode step is split into at most 2 chunks (of ≥ 64 keys) per head, for 2 cores.
  wasm: { flash: { tile_q: 4, tile_k: 32, split_k: 2 } },
};

/** Used for a target without a row: none (the reference interpreter runs anything), and webgpu. */
export const GENERIC_TARGET: TargetTraits = { flash: { tile_q: 16, tile_k: 64, split_k: 4 } };

export function targetTraits(target: string | undefined): TargetTraits {
  return (target !== undefined ? TARGETS[target] : undefined) ?? GENERIC_TARGET;
}
