// WebGPU groundwork: a device can be acquired (Dawn on lavapipe in CI), a WGSL kernel runs and
// reads back exactly, f16 works where the adapter has it, shader errors are readable, and a
// Node process that used the GPU exits cleanly.
//
// Without an adapter: under CI this FAILS with the reason (CI must have lavapipe, see
// .ci/install-webgpu.sh); elsewhere it warns loudly and the GPU tests do not run.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyGpu, probeGpu, type GpuErrorEvent } from '../../runtime/webgpu/device.js';
import { getPipeline, KernelError, runKernel } from '../../runtime/webgpu/run-kernel.js';
import { isCI } from '../helpers/shared.js';

const probe = await probeGpu();
const ctx = probe.ok ? probe.ctx : undefined;

it('finds a WebGPU adapter (required under CI)', (t) => {
  if (probe.ok) {
    const { adapterInfo: a, limits } = probe.ctx;
    console.log(`[tessera tests] WebGPU adapter: ${a.description} (vendor ${a.vendor}, ${a.architecture}` +
      `${a.isSoftware ? ', software' : ''}); features: ${probe.ctx.features.join(' ')}; ` +
      `maxStorageBufferBindingSize ${limits.maxStorageBufferBindingSize}, ` +
      `maxComputeWorkgroupStorageSize ${limits.maxComputeWorkgroupStorageSize}, ` +
      `maxComputeInvocationsPerWorkgroup ${limits.maxComputeInvocationsPerWorkgroup}, ` +
      `maxStorageBuffersPerShaderStage ${limits.maxStorageBuffersPerShaderStage}`);
    return;
  }
  if (isCI()) throw new Error(`no WebGPU device under CI: ${probe.reason}`);
  console.warn(`\n${'!'.repeat(78)}\n[tessera tests] SKIPPING ALL WEBGPU TESTS: ${probe.reason}\n${'!'.repeat(78)}\n`);
  t.skip();
});

describe.runIf(probe.ok)('webgpu device (Dawn)', () => {
  // vitest still runs this body when the suite is skipped, so touch the device only in hooks
  // and tests.
  const gpu = ctx!;
  const events: GpuErrorEvent[] = [];
  beforeAll(() => {
    gpu.onError((e) => events.push(e));
  });

  afterAll(async () => {
    await destroyGpu(gpu);
    // Our own destroy is an expected loss: reported through ctx.lost, not as an error event.
    expect((await gpu.lost).reason).toBe('destroyed');
    expect(events.filter((e) => e.kind === 'lost')).toEqual([]);
  });

  it('raised the limits kernels need to the adapter maxima', () => {
    // The WebGPU defaults are 128 MiB, 16 KiB, 256 and 8; every real adapter (and lavapipe) does
    // at least this much, so a lower value means acquireGpu did not ask for the maximum.
    expect(gpu.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 << 20);
    expect(gpu.limits.maxComputeWorkgroupStorageSize).toBeGreaterThan(16384);
    expect(gpu.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThan(256);
    expect(gpu.limits.maxStorageBuffersPerShaderStage).toBeGreaterThan(8);
  });

  const mulAdd = /* wgsl */ `
    @group(0) @binding(0) var<storage, read> a: array<f32>;
    @group(0) @binding(1) var<storage, read> b: array<f32>;
    @group(0) @binding(2) var<storage, read_write> c: array<f32>;
    @compute @workgroup_size(256)
    fn main(@builtin(global_invocation_id) id: vec3u) {
      let i = id.x;
      if (i < arrayLength(&c)) { c[i] = a[i] * b[i] + f32(i); }
    }`;

  it('computes c[i] = a[i]*b[i] + i over an odd length, every element exact', async () => {
    const n = 100_003;
    // Small integers keep every product and sum exact in f32, so a fused multiply-add on the
    // device and separate rounding here give identical results: we can compare with ===.
    const a = Float32Array.from({ length: n }, (_, i) => ((i * 7) % 201) - 100);
    const b = Float32Array.from({ length: n }, (_, i) => ((i * 13) % 97) - 48);
    const [, , c] = await runKernel(gpu, {
      wgsl: mulAdd,
      buffers: [a, b, { output: Float32Array, length: n }],
      workgroups: Math.ceil(n / 256),
    });
    expect(c.length).toBe(n);
    let bad = -1;
    for (let i = 0; i < n && bad < 0; i++) if (c[i] !== a[i] * b[i] + i) bad = i;
    expect(bad, `first mismatch at ${bad}: got ${c[bad]}, want ${a[bad] * b[bad] + bad}`).toBe(-1);
  });

  it('caches pipelines by WGSL source', async () => {
    const p1 = await getPipeline(gpu, mulAdd);
    const p2 = await getPipeline(gpu, mulAdd);
    expect(p2).toBe(p1);
  });

  it.runIf(gpu?.features.includes('shader-f16'))('runs an f16 kernel (shader-f16)', async () => {
    const n = 1001; // odd: the f16 buffer is padded to 4 bytes, so the length comes in a uniform
    const ints = (k: number, m: number, o: number) => Array.from({ length: n }, (_, i) => ((i * k) % m) - o);
    const a = ints(5, 31, 15), b = ints(11, 29, 14);
    const wgsl = /* wgsl */ `
      enable f16;
      @group(0) @binding(0) var<storage, read> a: array<f16>;
      @group(0) @binding(1) var<storage, read> b: array<f16>;
      @group(0) @binding(2) var<storage, read_write> c: array<f16>;
      @group(0) @binding(3) var<uniform> n: vec4u;
      @compute @workgroup_size(64)
      fn main(@builtin(global_invocation_id) id: vec3u) {
        let i = id.x;
        if (i < n.x) { c[i] = a[i] * b[i] + f16(i % 64u); }
      }`;
    const [, , c] = await runKernel(gpu, {
      wgsl,
      buffers: [
        Uint16Array.from(a, f16Bits), Uint16Array.from(b, f16Bits),
        { output: Uint16Array, length: n }, { uniform: new Uint32Array([n, 0, 0, 0]) },
      ],
      workgroups: Math.ceil(n / 64),
    });
    // |a*b| <= 225 and i%64 < 64: integers below 2048 are exact in f16.
    const got = Array.from(c, f16Value);
    expect(got).toEqual(a.map((x, i) => x * b[i] + (i % 64)));
  });

  it('reports invalid WGSL with the compiler message, line and column', async () => {
    const bad = `@compute @workgroup_size(1)\nfn main() {\n  let x: f32 = undefined_thing;\n}`;
    const before = events.length;
    const err = await runKernel(gpu, { wgsl: bad, buffers: [], workgroups: 1 }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(KernelError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/WGSL compilation failed/);
    expect(msg).toMatch(/3:\d+: error: .*undefined_thing/);
    expect(msg).toContain('let x: f32 = undefined_thing;'); // the offending line is quoted
    expect(events.length, 'the error went to the caller only, not also to onError').toBe(before);
  });

  it('turns a validation error at dispatch into a KernelError, and the device stays usable', async () => {
    // Two buffers for a shader that declares three bindings: the bind group is invalid.
    const before = events.length;
    const err = await runKernel(gpu, {
      wgsl: mulAdd, buffers: [new Float32Array(4), new Float32Array(4)], workgroups: 1,
    }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect((err as Error).message).toMatch(/running the kernel failed: .+/);
    expect(events.length).toBe(before);
    const [, , c] = await runKernel(gpu, {
      wgsl: mulAdd, buffers: [new Float32Array([2]), new Float32Array([3]), { output: Float32Array, length: 1 }], workgroups: 1,
    });
    expect(Array.from(c)).toEqual([6]);
  });

  it('delivers uncaptured errors to onError with a readable message', async () => {
    const before = events.length;
    // MAP_READ may only be combined with COPY_DST: a validation error no scope catches.
    gpu.device.createBuffer({ size: 16, usage: 0x0001 | 0x0080 });
    await gpu.device.queue.onSubmittedWorkDone(); // lets Dawn's event pump run
    const got = events.slice(before);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ kind: 'uncaptured', type: 'validation' });
    expect((got[0] as { message: string }).message).toMatch(/usage/i);
  });

  it('lets a node process that used the GPU exit by itself', () => {
    const dir = buildChildModules();
    try {
      for (const destroy of [true, false]) {
        // With destroyGpu, and without it: a forgotten destroy must not hang the process either.
        const script = `
          import { acquireGpu, destroyGpu } from './runtime/webgpu/device.js';
          import { runKernel } from './runtime/webgpu/run-kernel.js';
          const ctx = await acquireGpu();
          const [c] = await runKernel(ctx, {
            wgsl: '@group(0) @binding(0) var<storage, read_write> c: array<u32>;' +
                  '@compute @workgroup_size(1) fn main() { c[0] = 42u; }',
            buffers: [{ output: Uint32Array, length: 1 }], workgroups: 1 });
          ${destroy ? 'await destroyGpu(ctx);' : ''}
          console.log('result', c[0]);`;
        writeFileSync(join(dir, 'child.js'), script);
        const t0 = Date.now();
        const r = spawnSync(process.execPath, [join(dir, 'child.js')], { encoding: 'utf8', timeout: 30_000 });
        const ms = Date.now() - t0;
        expect(r.error, `child did not exit within 30 s (destroy=${destroy})`).toBeUndefined();
        expect(r.status, `child failed (destroy=${destroy}): ${r.stderr}`).toBe(0);
        expect(r.stdout).toContain('result 42');
        expect(ms).toBeLessThan(20_000);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Transpiles device.ts and run-kernel.ts, and the modules they load, into a temporary ESM tree
 *  that plain `node` can run (Node 20 cannot import .ts), pointing the `webgpu` import at this
 *  checkout's package. */
function buildChildModules(): string {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const webgpuUrl = pathToFileURL(createRequire(import.meta.url).resolve('webgpu')).href;
  const dir = mkdtempSync(join(tmpdir(), 'tessera-webgpu-'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  const todo = ['runtime/webgpu/device.ts', 'runtime/webgpu/run-kernel.ts'];
  const done = new Set<string>();
  for (let file; (file = todo.pop()) !== undefined;) {
    if (done.has(file)) continue;
    done.add(file);
    const js = ts.transpileModule(readFileSync(join(root, file), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText.replace(`import('webgpu')`, `import(${JSON.stringify(webgpuUrl)})`);
    // Type-only imports are gone from the output: what is left is what the module loads.
    for (const m of js.matchAll(/(?:from|import)\s+'(\.[^']+)\.js'/g)) todo.push(join(dirname(file), `${m[1]}.ts`));
    mkdirSync(join(dir, dirname(file)), { recursive: true });
    writeFileSync(join(dir, file.replace(/\.ts$/, '.js')), js);
  }
  return dir;
}

// f16 <-> number, enough for the exact small integers used above (normal range, round to
// nearest even). Node 20 has no Float16Array.
function f16Bits(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  if (x === 0) return sign;
  if (exp <= 0 || exp >= 31) throw new RangeError(`${x} is outside the normal f16 range`);
  let bits = (exp << 10) | ((u >>> 13) & 0x3ff);
  const rest = u & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (bits & 1))) bits++;
  return sign | bits;
}

function f16Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}
