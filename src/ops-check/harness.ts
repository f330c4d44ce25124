// One harness for the op table: each case becomes a one-node graph; the reference interpreter
// gives the expected results; every backend asked for runs the same node (wasm at 1 and 2
// threads from one module compiled for all cases, webgpu through run-node.ts's plan) and is held
// to the same metric (metric.ts). Ops a target declares unsupported (OpDef.unsupported) are not
// run there; an op with neither a kernel nor such a declaration fails its cases.
import { emitWgslKernel, wgslOps } from '../../codegen/wgsl/emit.js';
import { codePathName, otherCodePath, type WgslTarget } from '../../codegen/wgsl/target.js';
import { hasWasmKernel } from '../../codegen/wasm/emit.js';
import { type CodegenTarget, getOp, type Graph, type HostTensor } from '../../ir/index.js';
import { bindDims } from '../../runtime/reference/interpreter.js';
import type { GpuContext } from '../../runtime/webgpu/device.js';
import type { OpCase } from './case.js';
import { compareResult } from './metric.js';
import { caseGraph, caseInputs, referenceResults } from './reference.js';
import { prepareWasm, runWasm, WASM_THREADS, type WasmSuite } from './wasm.js';
import { runNodeOnGpu } from './webgpu.js';

export type CheckBackend = CodegenTarget;

/** A device to run the webgpu cases on. */
export interface CheckGpu {
  readonly ctx: GpuContext;
  readonly target: WgslTarget;
}

export interface CaseResult {
  readonly c: OpCase;
  readonly backend: CheckBackend;
  /** Which run of the backend: '1 thread', '2 threads' on wasm; the code path (and subgroups) on webgpu. */
  readonly variant: string;
  /** Why the case fails; absent when it passes. */
  readonly failure?: string;
  /** Why the case did not run on this backend (OpCase.skip). */
  readonly skipped?: string;
  /** The largest NMSE over the results (0 when compared bit for bit). */
  readonly error: number;
  /** Wall time of the run. */
  readonly ms: number;
}

/** Whether `target` has kernels for `op`. */
export function hasKernel(op: string, target: CheckBackend): boolean {
  return target === 'wasm' ? hasWasmKernel(op) : wgslOps().includes(op);
}

/** The reason `op` is declared unsupported on `target`, if it is. */
export function unsupportedReason(op: string, target: CheckBackend): string | undefined {
  return getOp(op).unsupported?.[target];
}

interface Prepared {
  readonly c: OpCase;
  readonly graph?: Graph;
  readonly want?: HostTensor[];
  /** Why the case could not be built or evaluated on the reference. */
  readonly broken?: string;
  readonly referenceMs: number;
}

export class OpChecker {
  private constructor(
    private readonly prepared: readonly Prepared[],
    private readonly backends: readonly CheckBackend[],
    private readonly wasm: WasmSuite | undefined,
    private readonly wasmErrors: ReadonlyMap<OpCase, string>,
    private readonly gpu: CheckGpu | undefined,
  ) {}

  /**
   * Builds every case and its reference results, and compiles the wasm module for all of them.
   * `gpu` is required when `backends` names webgpu.
   */
  static async create(cases: readonly OpCase[], backends: readonly CheckBackend[], gpu?: CheckGpu): Promise<OpChecker> {
    if (backends.includes('webgpu') && !gpu) throw new Error('the webgpu backend needs a device');
    const prepared = cases.map((c): Prepared => {
      const t0 = performance.now();
      try {
        const graph = caseGraph(c);
        const want = referenceResults(c, graph);
        return { c, graph, want, referenceMs: performance.now() - t0 };
      } catch (e) {
        return { c, broken: `the case does not build or evaluate on the reference: ${(e as Error).message}`, referenceMs: 0 };
      }
    });
    let wasm: WasmSuite | undefined;
    let wasmErrors = new Map<OpCase, string>();
    if (backends.includes('wasm')) {
      const runnable = prepared.filter((p) => p.graph && hasKernel(p.c.op, 'wasm') && !unsupportedReason(p.c.op, 'wasm') && !p.c.skip?.wasm);
      ({ suite: wasm, errors: wasmErrors } = await prepareWasm(runnable.map((p) => ({ c: p.c, graph: p.graph! }))));
    }
    return new OpChecker(prepared, backends, wasm, wasmErrors, gpu);
  }

  /** Reference wall time per case. */
  referenceMs(c: OpCase): number {
    return this.prepared.find((p) => p.c === c)?.referenceMs ?? 0;
  }

  /** Runs the cases of `op` (every case when absent) on every backend. */
  async check(op?: string): Promise<CaseResult[]> {
    const out: CaseResult[] = [];
    for (const p of this.prepared) {
      if (op !== undefined && p.c.op !== op) continue;
      for (const backend of this.backends) {
        if (unsupportedReason(p.c.op, backend)) continue;
        const skipped = p.c.skip?.[backend];
        if (skipped) out.push({ c: p.c, backend, variant: '', skipped, error: 0, ms: 0 });
        else if (p.broken) out.push({ c: p.c, backend, variant: '', failure: p.broken, error: Infinity, ms: 0 });
        else if (!hasKernel(p.c.op, backend)) out.push({ c: p.c, backend, variant: '', failure: `no ${backend} kernel for '${p.c.op}' and no unsupported reason in its registerOp`, error: Infinity, ms: 0 });
        else if (backend === 'wasm') out.push(...this.checkWasm(p));
        else out.push(...(await this.checkGpu(p)));
      }
    }
    return out;
  }

  private checkWasm(p: Prepared): CaseResult[] {
    const lowering = this.wasmErrors.get(p.c);
    if (lowering) return [{ c: p.c, backend: 'wasm', variant: '', failure: `lowering: ${lowering}`, error: Infinity, ms: 0 }];
    return WASM_THREADS.map((n) => measure(p, 'wasm', `${n} thread${n > 1 ? 's' : ''}`, () => runWasm(this.wasm!, p.c, n)));
  }

  private async checkGpu(p: Prepared): Promise<CaseResult[]> {
    const { ctx } = this.gpu!;
    const node = p.graph!.nodes[0];
    const dims = bindDims(p.graph!, caseInputs(p.c), p.c.dims);
    const out: CaseResult[] = [];
    const variants = gpuVariants(this.gpu!.target);
    // The other code path (constants baked in, on a software device) for each op's first case:
    // baked shaders compile per static shape, seconds each on lavapipe.
    const other = otherCodePath(this.gpu!.target);
    if (this.prepared.find((q) => q.c.op === p.c.op) === p) variants.push([codePathName(other), other]);
    for (const [variant, target] of variants) {
      out.push(await measureAsync(p, 'webgpu', variant, () => runNodeOnGpu(ctx, node, emitWgslKernel(node, target), p.c.operands.map((o) => o.t), dims)));
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.wasm?.dispose();
  }
}

/**
 * The WGSL targets every case runs on: the device's, and where it has subgroups, the same without
 * them (the reductions' workgroup-memory path, which devices without the feature take).
 */
function gpuVariants(target: WgslTarget): [string, WgslTarget][] {
  const variants: [string, WgslTarget][] = [[codePathName(target), target]];
  if (target.subgroups) variants.push([`${codePathName(target)}, no subgroups`, { ...target, subgroups: false }]);
  return variants;
}

function judge(p: Prepared, backend: CheckBackend, variant: string, got: HostTensor[], ms: number): CaseResult {
  let error = 0;
  for (let i = 0; i < p.want!.length; i++) {
    const r = compareResult(got[i], p.want![i], p.c);
    if (r.failure) return { c: p.c, backend, variant, failure: `result ${i}: ${r.failure}`, error: r.error, ms };
    error = Math.max(error, r.error);
  }
  return { c: p.c, backend, variant, error, ms };
}

function measure(p: Prepared, backend: CheckBackend, variant: string, run: () => HostTensor[]): CaseResult {
  const t0 = performance.now();
  try {
    const got = run();
    return judge(p, backend, variant, got, performance.now() - t0);
  } catch (e) {
    return { c: p.c, backend, variant, failure: (e as Error).message, error: Infinity, ms: performance.now() - t0 };
  }
}

async function measureAsync(p: Prepared, backend: CheckBackend, variant: string, run: () => Promise<HostTensor[]>): Promise<CaseResult> {
  const t0 = performance.now();
  try {
    const got = await run();
    return judge(p, backend, variant, got, performance.now() - t0);
  } catch (e) {
    return { c: p.c, backend, variant, failure: (e as Error).message, error: Infinity, ms: performance.now() - t0 };
  }
}
