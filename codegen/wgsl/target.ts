// What the WGSL emitters may assume about the device: limits that bound tile sizes and buffer
// sizes, and optional features. Built from a device's features and limits (no GPU types here, so
// codegen runs anywhere), or the WebGPU defaults every device supports.

export interface WgslTarget {
  /** maxComputeWorkgroupStorageSize, bytes. */
  readonly maxWorkgroupStorage: number;
  /** maxComputeInvocationsPerWorkgroup. */
  readonly maxInvocations: number;
  /** maxStorageBufferBindingSize, bytes: a larger tensor cannot be bound in one piece. */
  readonly maxStorageBindingSize: number;
  /** maxStorageBuffersPerShaderStage. */
  readonly maxStorageBuffers: number;
  /** maxComputeWorkgroupsPerDimension. */
  readonly maxWorkgroupsPerDimension: number;
  /** The 'subgroups' feature: reductions may use subgroupAdd/subgroupMax. */
  readonly subgroups: boolean;
  /** The 'shader-f16' feature. Kernels read f16 as packed pairs either way; this is informational. */
  readonly shaderF16: boolean;
  /**
   * Keep loops rolled: loop trip counts and static dims come from the uniform instead of WGSL
   * constants, so the shader compiler cannot unroll them. For software devices (lavapipe,
   * llvmpipe, SwiftShader), whose LLVM back end unrolls every constant-trip loop and then spends
   * seconds compiling a kernel that takes a millisecond to run; it also lets kernels of different
   * static shapes share one pipeline. Off by default: real GPUs want the constants.
   */
  readonly rollLoops?: boolean;
  /** Reshape becomes a view of its operand (no kernel, `aliasOf`) rather than a copy. Default true. */
  readonly aliasViews?: boolean;
  /**
   * kv_append writes only the new rows into its result, which then shares the past operand's
   * buffer (`aliasOf` 0; the executor gives that buffer room for P+S rows). Only for the
   * unbatched form, where the past rows already sit where the result wants them. Default false.
   */
  readonly kvAppendInPlace?: boolean;
}

/**
 * The same target on the other code path: static dims baked into the WGSL as constants (what a
 * hardware GPU runs) or read from the uniform (`rollLoops`, what a software device runs). Kernel
 * tests run both, whichever device they have.
 */
export function otherCodePath(t: WgslTarget): WgslTarget {
  return { ...t, rollLoops: !t.rollLoops };
}

/** A target's code path, as test failures name it. */
export function codePathName(t: WgslTarget): string {
  return t.rollLoops ? 'dims from the uniform (software GPU path)' : 'constants baked in (hardware GPU path)';
}

/** The limits every WebGPU device guarantees, no optional features. */
export const WEBGPU_DEFAULT_TARGET: WgslTarget = {
  maxWorkgroupStorage: 16384,
  maxInvocations: 256,
  maxStorageBindingSize: 128 << 20,
  maxStorageBuffers: 8,
  maxWorkgroupsPerDimension: 65535,
  subgroups: false,
  shaderF16: false,
};

/**
 * A target from a device's enabled features and granted limits (GPUDevice.features/limits);
 * `software` (a CPU adapter such as lavapipe) turns on `rollLoops`.
 */
export function wgslTargetFor(features: Iterable<string>, limits: Readonly<Record<string, number>>, software = false): WgslTarget {
  const has = new Set(features);
  const d = WEBGPU_DEFAULT_TARGET;
  return {
    maxWorkgroupStorage: limits.maxComputeWorkgroupStorageSize ?? d.maxWorkgroupStorage,
    maxInvocations: limits.maxComputeInvocationsPerWorkgroup ?? d.maxInvocations,
    maxStorageBindingSize: limits.maxStorageBufferBindingSize ?? d.maxStorageBindingSize,
    maxStorageBuffers: limits.maxStorageBuffersPerShaderStage ?? d.maxStorageBuffers,
    maxWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension ?? d.maxWorkgroupsPerDimension,
    subgroups: has.has('subgroups'),
    shaderF16: has.has('shader-f16'),
    rollLoops: software,
  };
}
