// The kernel that starts every WebGPU step computes each launch's dims from S and P on the GPU:
// random dim expressions (sums, products, ceildiv, floordiv, min, max of symbols and constants)
// must give evalDim's values, and the positions P … P+S−1 must be written. It is written at
// compile time with the program, and the runtime indexes every launch's dims into its table.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { DIMS_BINDINGS, DIMS_ENTRY, DIMS_WORKGROUP } from '../../../codegen/wgsl/contract.js';
import { dimsKernelWgsl } from '../../../codegen/wgsl/dims-kernel.js';
import { lowerGraphToWgsl } from '../../../codegen/wgsl/program.js';
import { programFromData, programToData } from '../../../codegen/wgsl/serialize.js';
import { WEBGPU_DEFAULT_TARGET } from '../../../codegen/wgsl/target.js';
import { type Dim, dimAdd, dimFn, dimMul, dimSub, dimToString, evalDim, sym } from '../../../ir/dim.js';
import { parseGraph } from '../../../ir/parser.js';
import { BufferUsage, MapMode } from '../../../runtime/webgpu/device.js';
import { getPipeline } from '../../../runtime/webgpu/run-kernel.js';
import { StepDims } from '../../../runtime/webgpu/step-dims.js';
import { closeGpu, expectAdapter, openGpu } from './harness.js';

const gpu = await openGpu();
expectAdapter(gpu);

const dimArb: fc.Arbitrary<Dim> = fc.letrec<{ dim: Dim }>((tie) => ({
  dim: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer({ min: -40, max: 300 }),
    fc.constantFrom<Dim>(sym('S'), sym('P')),
    fc.tuple(tie('dim'), tie('dim')).map(([a, b]) => dimAdd(a, b)),
    fc.tuple(tie('dim'), tie('dim')).map(([a, b]) => dimSub(a, b)),
    fc.tuple(tie('dim'), fc.integer({ min: -3, max: 7 })).map(([a, k]) => dimMul(a, k)),
    // Products of two symbols at most, so that nothing overflows an i32 on the way.
    fc.tuple(fc.constantFrom<Dim>(sym('S'), sym('P')), fc.oneof(fc.integer({ min: -9, max: 9 }), fc.constantFrom<Dim>(sym('S'), sym('P')))).map(([a, b]) => dimMul(a, b)),
    fc.tuple(fc.constantFrom('ceildiv', 'floordiv') as fc.Arbitrary<'ceildiv' | 'floordiv'>, tie('dim'), fc.integer({ min: 1, max: 70 })).map(([f, a, k]) => dimFn(f, a, k)),
    fc.tuple(fc.constantFrom('min', 'max') as fc.Arbitrary<'min' | 'max'>, tie('dim'), tie('dim')).map(([f, a, b]) => dimFn(f, a, b)),
  ),
})).dim;

describe('the step dims kernel comes with the program', () => {
  const graph = parseGraph(`graph @step<S, P>(%tokens: i32[S], %pos: i32[S], %x: f32[S, 12]) {
  %a = silu(%x) : f32[S, 12]
  %b = softmax(%a) {axis = 1} : f32[S, 12]
  output logits = %b
}`);
  const program = lowerGraphToWgsl(graph, { ...WEBGPU_DEFAULT_TARGET, rollLoops: true }, { S: 8, P: 24 });
  const launches = program.nodes.flatMap(({ lowering }) => lowering.kernels).map((kernel, i) => ({ kernel, uniformOffset: 256 * i }));

  it('its table holds every launch dim once, and its WGSL evaluates the table', () => {
    const { table, symbols, wgsl } = program.dims;
    expect(symbols).toEqual(['S', 'P']);
    const keys = table.map(dimToString);
    expect(new Set(keys).size).toBe(keys.length);
    for (const { kernel } of launches) {
      for (const d of [...kernel.uniformDims, ...kernel.grid]) expect(keys).toContain(dimToString(d));
    }
    expect(wgsl).toBe(dimsKernelWgsl(table, symbols));
  });

  it('survives the artifact round trip, and the runtime refuses a table without a launch dim', () => {
    const { data, files } = programToData(program);
    const back = programFromData(JSON.parse(JSON.stringify(data)), graph, (f) => files.get(f)!, 65535);
    expect(back.dims.wgsl).toBe(program.dims.wgsl);
    expect(back.dims.table.map(dimToString)).toEqual(program.dims.table.map(dimToString));
    expect(() => new StepDims(back.dims.table, launches, 65535)).not.toThrow();
    const short = program.dims.table.filter((d) => typeof d === 'number');
    expect(() => new StepDims(short, launches, 65535)).toThrow(/is not in the program's dims table/);
  });
});

describe.runIf(gpu.ctx)('WGSL step dims kernel', () => {
  afterAll(() => closeGpu(gpu));

  it('evaluates random dims as evalDim does, and writes the positions', async () => {
    const ctx = gpu.ctx!;
    const device = ctx.device;
    await fc.assert(fc.asyncProperty(
      fc.array(dimArb, { minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 0, max: 1000 }),
      async (dims, S, P) => {
        const want = dims.map((d) => evalDim(d, { S, P }) + 0); // + 0: -0 is 0 on the GPU
        // Words in a scattered order, some dims used twice, as launches share them.
        const pairs = want.flatMap((_, i) => [[3 * i + 1, i], [3 * (dims.length + i), i]]);
        const words = 3 * 2 * dims.length + 1;
        const pipeline = await getPipeline(ctx, dimsKernelWgsl(dims, ['S', 'P']), DIMS_ENTRY);
        const buf = (data: Int32Array<ArrayBuffer> | Uint32Array<ArrayBuffer> | number, usage: number) => {
          const size = typeof data === 'number' ? data : data.byteLength;
          const b = device.createBuffer({ size, usage: usage | BufferUsage.COPY_SRC | BufferUsage.COPY_DST });
          if (typeof data !== 'number') device.queue.writeBuffer(b, 0, data);
          return b;
        };
        const symbols = buf(Int32Array.of(S, P), BufferUsage.STORAGE);
        const map = buf(Uint32Array.from(pairs.flat()), BufferUsage.STORAGE);
        const out = buf(4 * words, BufferUsage.STORAGE);
        const pos = buf(4 * S, BufferUsage.STORAGE);
        const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [
          { binding: DIMS_BINDINGS.symbols, resource: { buffer: symbols } },
          { binding: DIMS_BINDINGS.map, resource: { buffer: map } },
          { binding: DIMS_BINDINGS.words, resource: { buffer: out } },
          { binding: DIMS_BINDINGS.pos, resource: { buffer: pos } },
        ] });
        const read = device.createBuffer({ size: 4 * (words + S), usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
        const encoder = device.createCommandEncoder();
        const pass = encoder.beginComputePass();
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, group);
        pass.dispatchWorkgroups(Math.ceil(Math.max(pairs.length, S) / DIMS_WORKGROUP));
        pass.end();
        encoder.copyBufferToBuffer(out, 0, read, 0, 4 * words);
        encoder.copyBufferToBuffer(pos, 0, read, 4 * words, 4 * S);
        device.queue.submit([encoder.finish()]);
        await read.mapAsync(MapMode.READ);
        const got = new Int32Array(read.getMappedRange().slice(0));
        read.unmap();
        for (const b of [symbols, map, out, pos, read]) b.destroy();
        for (const [word, i] of pairs) expect(got[word], `dim ${String(dims[i])} at S=${S}, P=${P}`).toBe(want[i]);
        expect(Array.from(got.subarray(words))).toEqual(Array.from({ length: S }, (_, i) => P + i));
      }), { numRuns: 25 });
  });
});
