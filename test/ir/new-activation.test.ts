// The worked example of a new unary activation: hardswish is registered here ONLY through its
// registry entry (its unary function: reference, program spelling, WGSL and AssemblyScript
// expressions), and then works everywhere a unary op does: the reference interpreter, the program
// language, fuse-elementwise (standalone chains and matmul epilogues, bit-identical to the unfused
// graph), and both code generators, whose kernels run and match the reference. (The registry is
// global to this file: vitest runs each file in its own module graph.)
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasWasmKernel } from '../../codegen/wasm/emit.js';
import { emitWgslKernel, wgslOps } from '../../codegen/wgsl/emit.js';
import { WEBGPU_DEFAULT_TARGET } from '../../codegen/wgsl/target.js';
import { GraphBuilder } from '../../ir/builder.js';
import { sym } from '../../ir/dim.js';
import type { Graph } from '../../ir/graph.js';
import { findProgramFunction, programFunctionNames } from '../../ir/op.js';
import { unary } from '../../ir/ops/elementwise.js';
import '../../ir/ops/index.js';
import { formatProgram, parseProgram } from '../../ir/ops/program.js';
import { parseGraph } from '../../ir/parser.js';
import { printGraph } from '../../ir/printer.js';
import { f32, type HostTensor } from '../../ir/tensor.js';
import { verifyGraph } from '../../ir/verifier.js';
import { fuseElementwise } from '../../passes/fuse-elementwise.js';
import { interpret } from '../../runtime/reference/interpreter.js';
import { checkAll, draw, type OpCase, randomF32, S as WS, setupSuite, type Suite } from '../codegen/wasm/harness.js';
import { checkOp, closeGpu, expectAdapter, openGpu, randomTensor } from '../codegen/wgsl/harness.js';

// ---- the whole of the new op ----
unary('hardswish', 'x · relu6(x + 3) / 6 (MobileNetV3)', {}, [{
  reference: (x) => (x * Math.min(Math.max(x + 3, 0), 6)) / 6,
  program: { call: 'hardswish' },
  wgsl: { expr: 'v * clamp(v + 3.0, 0.0, 6.0) / 6.0' },
  wasm: { expr: 'f32x4.div(f32x4.mul(v, f32x4.min(f32x4.max(f32x4.add(v, f32x4.splat(3.0)), f32x4.splat(0.0)), f32x4.splat(6.0))), f32x4.splat(6.0))' },
}]);
// ----

const S = sym('S');
const quiet = { stat: () => {} };

const run = (g: Graph, inputs: Record<string, HostTensor>, params: Record<string, HostTensor> = {}) =>
  interpret(g, { inputs, params: (p) => params[p.name] }).outputs;

describe('a unary activation added through its registry entry alone', () => {
  it('evaluates on the reference interpreter', () => {
    const b = new GraphBuilder('t', ['S']);
    b.output('y', b.op('hardswish', [b.input('x', 'f32', [S])]));
    const y = run(b.finish(), { x: f32([6], [-4, -3, -1, 0, 1, 4]) }).y;
    expect(Array.from(y.data as Float32Array)).toEqual([-0, -0, -1 / 3, 0, 4 / 6, 4].map(Math.fround));
  });

  it('is a function of the program language: parses, prints, verifies in a graph', () => {
    expect(programFunctionNames()).toContain('hardswish');
    expect(findProgramFunction('hardswish')?.op).toBe('hardswish');
    expect(formatProgram(parseProgram(' hardswish( x0 )*x1 '))).toBe('hardswish(x0) * x1');
    const text = [
      'graph @t<S>(%x: f32[S, 4], %y: f32[S, 4]) {',
      '  %h = hardswish(%x) : f32[S, 4]',
      '  %f = fused_elementwise(%h, %y) {program = "hardswish(x0) * x1"} : f32[S, 4]',
      '  output f = %f',
      '}',
      '',
    ].join('\n');
    const g = parseGraph(text);
    verifyGraph(g);
    expect(printGraph(g)).toBe(text);
  });

  it('fuses into a program and a matmul epilogue, computing bit for bit what the unfused graph did', () => {
    const b = new GraphBuilder('t', ['S']);
    const x = b.input('x', 'f32', [S, 8]), y = b.input('y', 'f32', [S, 5]);
    const w = b.param('w', 'f32', [5, 8], 'w');
    b.output('ep', b.op('hardswish', [b.op('matmul', [x, w])]));
    b.output('chain', b.op('mul', [b.op('hardswish', [b.op('scale', [y], { factor: 1.5 })]), y]));
    const g = b.finish();
    fc.assert(fc.property(fc.integer({ min: 1, max: 7 }), fc.nat(), (s, seed) => {
      const inputs = { x: randomF32([s, 8], seed, 5), y: randomF32([s, 5], seed + 1, 5) };
      const params = { w: randomF32([5, 8], seed + 2, 1) };
      const want = run(g, inputs, params);
      const fused = parseGraph(printGraph(g));
      expect(fuseElementwise(fused, quiet)).toBe(true);
      expect(fused.nodes.map((n) => [n.op, n.attrs.epilogue ?? n.attrs.program])).toEqual([
        ['matmul_ep', 'hardswish(acc0)'],
        ['fused_elementwise', 'hardswish(x0 * 1.5) * x0'],
      ]);
      const got = run(fused, inputs, params);
      for (const name of ['ep', 'chain']) expect(Array.from(got[name].data as Float32Array), name).toEqual(Array.from(want[name].data as Float32Array));
    }), { numRuns: 20 });
  });

  it('has a kernel on both code generators, made from its expressions', () => {
    expect(wgslOps()).toContain('hardswish');
    expect(hasWasmKernel('hardswish')).toBe(true);
    const b = new GraphBuilder('t', ['S']);
    b.op('hardswish', [b.input('x', 'f32', [S, 4])]);
    expect(emitWgslKernel(b.graph.nodes[0], WEBGPU_DEFAULT_TARGET).kernels[0].wgsl).toContain('fn f(v: f32) -> f32 { return v * clamp(v + 3.0, 0.0, 6.0) / 6.0; }');
  });
});

// Odd sizes, length-1 edges and a symbolic leading dim; inputs over ±8, past both kinks (±3).
function wasmCases(): OpCase[] {
  const shapes = draw(fc.array(fc.integer({ min: 1, max: 37 }), { minLength: 1, maxLength: 2 }), 4, 31);
  const out: OpCase[] = [[1], [7], ...shapes].map((shape, k): OpCase => ({
    label: `hardswish [${shape}]`, op: 'hardswish', operands: [{ t: randomF32(shape, k, 8), shape: shape.length === 2 ? [WS, shape[1]] : undefined }], attrs: {},
  }));
  out.push({ label: 'fused hardswish(x0) * x1', op: 'fused_elementwise', operands: [{ t: randomF32([3, 9], 7, 8) }, { t: randomF32([9], 8, 2) }], attrs: { program: 'hardswish(x0) * x1' } });
  out.push({ label: 'matmul_ep hardswish(acc0)', op: 'matmul_ep', operands: [{ t: randomF32([5, 12], 9, 2) }, { t: randomF32([7, 12], 10, 1) }], attrs: { epilogue: 'hardswish(acc0)' } });
  return out;
}

describe('hardswish on the wasm target', () => {
  let suite: Suite;
  beforeAll(async () => { suite = await setupSuite(wasmCases()); }, 180_000);
  afterAll(async () => { await suite?.pool.dispose(); });
  it('standalone, in a program and in an epilogue, matches the reference at 1 and 2 threads', () => checkAll(suite));
});

const gpu = await openGpu();
expectAdapter(gpu);

describe.runIf(gpu.ctx)('hardswish on WebGPU', () => {
  afterAll(() => closeGpu(gpu));
  it('standalone and in a program matches the reference (odd lengths, f32/f16 inputs)', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 700 }), fc.constantFrom('f32', 'f16'), fc.integer(), async (n, dtype, seed) => {
      await checkOp(gpu, { op: 'hardswish', operands: [{ t: randomTensor(dtype, [n], seed, 1e-3, 8) }] });
      await checkOp(gpu, { op: 'fused_elementwise', attrs: { program: 'hardswish(x0) * x1' }, operands: [{ t: randomTensor('f32', [n], seed, 1e-3, 8) }, { t: randomTensor('f32', [n], seed + 1, 0.1, 2) }] });
    }), { numRuns: 8 });
  });
});
