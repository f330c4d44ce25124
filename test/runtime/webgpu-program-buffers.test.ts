// Both WebGPU executors bind a program through runtime/webgpu/program-buffers.ts: a node's scratch
// buffer is as large as the largest of its kernels asks, not the first. The program here is one
// node with two hand-written kernels sharing scratch 0: the first names 4 bytes of it, the second
// S floats, and the result goes through the scratch, so a buffer sized by the first kernel gives
// wrong values (WebGPU clamps the out-of-range indices onto element 0).
import { afterAll, describe, expect, it } from 'vitest';
import { dimsKernel } from '../../codegen/wgsl/dims-kernel.js';
import { KernelBuilder } from '../../codegen/wgsl/builder.js';
import { lowerGraphToWgsl, type WgslProgram } from '../../codegen/wgsl/program.js';
import { ResourceError } from '../../ir/errors.js';
import { dimMul, GraphBuilder, type Node, planMemory, storageBytes, sym, tensor } from '../../ir/index.js';
import { WebGpuBatchExecutor } from '../../runtime/batch/webgpu.js';
import { WebGpuExecutor } from '../../runtime/webgpu/executor.js';
import { closeGpu, expectAdapter, openGpu } from '../codegen/wgsl/harness.js';

const gpu = await openGpu();
expectAdapter(gpu);
const S = sym('S');
const BOUNDS = { S: 16, P: 16 };

/** logits = 2·tokens + 1 through scratch: a first kernel naming 4 bytes of it, a second S floats. */
function program(): WgslProgram {
  const b = new GraphBuilder('step', ['S', 'P']);
  const tokens = b.input('tokens', 'i32', [S]);
  b.input('pos', 'i32', [S]);
  b.output('logits', b.op('cast', [tokens], { dtype: 'f32' }));
  const graph = b.finish();
  const node = graph.nodes[0];
  const kernel = (entry: string, scratchBytes: ReturnType<typeof dimMul> | number, body: (n: string) => string) => {
    const k = new KernelBuilder(node, gpu.target!, entry);
    k.operand(0, 't', 'i32');
    k.scratch(0, scratchBytes, 'tmp', 'f32');
    k.result(0, 'y', 'f32');
    return k.build({ body: body(k.dim(S)), grid: [1, 1, 1], label: `scratch test ${entry}` });
  };
  const first = kernel('first', 4, () => `@compute @workgroup_size(1)\nfn first() {\n  tmp[0] = 0.0;\n  _ = t[0];\n  _ = y[0];\n}`);
  const second = kernel('second', dimMul(S, 4), (n) => `@compute @workgroup_size(64)
fn second(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i < ${n}) { tmp[i] = 2.0 * f32(t[i]); }
  storageBarrier();
  if (i < ${n}) { y[i] = tmp[i] + 1.0; }
}`);
  const nodes: WgslProgram['nodes'] = [{ node: node as Node, lowering: { kernels: [first, second] } }];
  return { graph, plan: planMemory(graph, BOUNDS), bounds: BOUNDS, nodes, dims: dimsKernel([first, second], graph.symbols) };
}

// A full step of 16 tokens, read back by the step executor as one row of 16 'logits'.
const TOKENS = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3];
const WANT = TOKENS.map((t) => 2 * t + 1);
const noParams = () => { throw new Error('the program has no weights'); };

describe.runIf(gpu.ctx)('WebGPU executors size a node\'s scratch by its largest kernel', () => {
  afterAll(() => closeGpu(gpu));

  it('the step executor', async () => {
    const p = program();
    const ex = await WebGpuExecutor.create(gpu.ctx!, { last: p, all: p }, noParams, { contextLength: 32, vocabSize: TOKENS.length });
    try {
      expect(Array.from(await ex.forward(TOKENS, 'last'))).toEqual(WANT);
    } finally {
      await ex.dispose();
    }
  });

  it('the batch executor', async () => {
    const ex = await WebGpuBatchExecutor.create(gpu.ctx!, program(), noParams);
    try {
      const out = await ex.run({ tokens: tensor('i32', [TOKENS.length], Int32Array.from(TOKENS)), pos: tensor('i32', [TOKENS.length], new Int32Array(TOKENS.length)) }, ['logits']);
      expect(Array.from(out.logits.data as Float32Array)).toEqual(WANT);
    } finally {
      await ex.dispose();
    }
  });

  // A weight over the device's binding limit is split into row ranges, which only the decoder
  // step executor binds: the batch executor says so with a typed error naming the way out.
  it('the batch executor refuses a split weight with a ResourceError', async () => {
    const b = new GraphBuilder('batch', ['S']);
    const x = b.input('x', 'f32', [S, 8]);
    b.output('y', b.op('matmul', [x, b.param('w', 'f32', [10, 8], 'w')]));
    const target = { ...gpu.target!, maxStorageBindingSize: 3 * storageBytes('f32', [1, 8]) };
    const p = lowerGraphToWgsl(b.finish(), target, { S: 4 });
    const weights = () => tensor('f32', [10, 8], new Float32Array(80));
    await expect(WebGpuBatchExecutor.create(gpu.ctx!, p, weights)).rejects.toThrow(ResourceError);
    await expect(WebGpuBatchExecutor.create(gpu.ctx!, p, weights)).rejects.toThrow(/larger than this device binds at once.*--backend wasm/);
  });
});
