import { describe, expect, it } from 'vitest';
import { HEAP_START } from '../../../codegen/wasm/abi.js';
import { WasmMemory } from '../../../runtime/wasm/memory.js';

describe('WasmMemory', () => {
  it('hands out aligned, non-overlapping blocks above the reserved region and grows', () => {
    const m = new WasmMemory(1 << 20);
    const a = m.alloc(10, 64);
    const b = m.alloc(3, 16);
    const c = m.alloc(5 << 20, 4096);
    expect(a).toBeGreaterThanOrEqual(HEAP_START);
    expect(a % 64).toBe(0);
    expect(b % 16).toBe(0);
    expect(b).toBeGreaterThanOrEqual(a + 10);
    expect(c % 4096).toBe(0);
    expect(m.memory.buffer.byteLength).toBeGreaterThanOrEqual(c + (5 << 20));
    m.write(c + 100, new Float32Array([1.5, -2]));
    expect(Array.from(m.f32(c + 100, 2))).toEqual([1.5, -2]);
  });

  it('releases back to a mark', () => {
    const m = new WasmMemory();
    const mark = m.mark();
    const a = m.alloc(1000);
    m.release(mark);
    expect(m.alloc(1000)).toBe(a);
    expect(() => m.release(1)).toThrow(/not a mark/);
  });

  it('names the size when a model does not fit in 4 GiB', () => {
    const m = new WasmMemory();
    expect(() => m.alloc(5 * 2 ** 30, 64, 'weights')).toThrow(/needs 5\.00 GiB of WebAssembly memory \(weights: 5\.00 GiB.*at most 4 GiB/);
    expect(() => m.alloc(-1)).toThrow(RangeError);
    expect(() => m.alloc(8, 3)).toThrow(/power of two/);
  });
});
