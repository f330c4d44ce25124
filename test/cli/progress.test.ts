// Progress on slow loading steps (src/progress.ts): the line drawn on a terminal (silent for quick
// steps and off a terminal), the API's `progress` option, and the events Model.open and
// Encoder.open report.
import { describe, expect, it } from 'vitest';
import { OptionError } from '../../runtime/options.js';
import { Encoder } from '../../src/encoder.js';
import { Model } from '../../src/model.js';
import { formatProgress, type ProgressEvent, progressLine } from '../../src/progress.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

/** A fake terminal (or pipe) and a clock the test moves. */
function fakeStderr(isTTY: boolean) {
  const writes: string[] = [];
  let t = 0;
  return { stream: { isTTY, write: (s: string) => writes.push(s) }, writes, now: () => t, advance: (ms: number) => { t += ms; } };
}

const MiB = 2 ** 20;
const weights = (done: number, total = 100 * MiB): ProgressEvent => ({ phase: 'weights', done, total, unit: 'bytes' });

describe('progress line', () => {
  it('says done/total, rate and ETA, and how long a finished step took', () => {
    expect(formatProgress(weights(25 * MiB), 1000)).toBe('loading weights 25.0/100.0 MiB · 25.0 MiB/s · ETA 3.0 s');
    expect(formatProgress(weights(100 * MiB), 4000)).toBe('loading weights 100.0/100.0 MiB in 4.0 s');
    expect(formatProgress({ phase: 'compile', done: 0, total: 40, unit: 'kernels' }, 700)).toBe('compiling kernels 0/40 kernels · 0.7 s');
    expect(formatProgress({ phase: 'compile', done: 10, total: 40, unit: 'kernels' }, 2000)).toBe('compiling kernels 10/40 kernels · 5.0 kernels/s · ETA 6.0 s');
  });

  it('draws nothing off a terminal', () => {
    expect(progressLine(fakeStderr(false).stream)).toBeUndefined();
  });

  it('stays silent for a step that ends within the delay', () => {
    const f = fakeStderr(true);
    const report = progressLine(f.stream, { now: f.now })!;
    report(weights(0));
    f.advance(400);
    report(weights(100 * MiB));
    expect(f.writes).toEqual([]);
  });

  it('redraws a slow step in place and ends its line', () => {
    const f = fakeStderr(true);
    const report = progressLine(f.stream, { now: f.now, redrawMs: 100 })!;
    report(weights(0));
    f.advance(600);
    report(weights(30 * MiB));
    f.advance(50);
    report(weights(35 * MiB)); // within the redraw interval: skipped
    f.advance(600);
    report(weights(100 * MiB));
    expect(f.writes).toHaveLength(2);
    expect(f.writes[0]).toMatch(/^\rloading weights 30\.0\/100\.0 MiB · .* ETA /);
    expect(f.writes[1]).toMatch(/^\rloading weights 100\.0\/100\.0 MiB in 1\.3 s\s*\n$/);
  });
});

describe('Model.open progress option', () => {
  it('refuses a progress that is not a function, naming the option', async () => {
    await expect(Model.open('/nonexistent', { progress: 5 as never })).rejects.toThrow(OptionError);
    await expect(Model.open('/nonexistent', { progress: 5 as never })).rejects.toThrow(/progress must be a function/);
  });

  it.skipIf(!hasShared('models', 'stories260K'))('reports compiling and every weight byte on the wasm backend', async () => {
    const events: ProgressEvent[] = [];
    const model = await Model.open(sharedPath('models', 'stories260K', 'stories260K.bin'), { backend: 'wasm', threads: 1, progress: (e) => events.push(e) });
    try {
      const compile = events.filter((e) => e.phase === 'compile');
      expect(compile.map((e) => e.done)).toEqual([0, compile[0].total]);
      expect(compile[0].total).toBeGreaterThan(0);
      const w = events.filter((e) => e.phase === 'weights');
      expect(w.length).toBeGreaterThan(1);
      for (let i = 1; i < w.length; i++) expect(w[i].done).toBeGreaterThan(w[i - 1].done);
      expect(w.at(-1)!.done).toBe(w[0].total);
      // stories260K holds 260K f32 parameters (≈1 MiB); the total counts each distinct weight once.
      expect(w[0].total).toBeGreaterThan(0.9 * MiB);
      expect(w[0].total).toBeLessThan(1.2 * MiB);
    } finally {
      await model.dispose();
    }
  }, 300_000);
});

describe('Encoder.open progress option', () => {
  it.skipIf(!hasShared('refs', 'bert'))('reports compiling and every weight byte on the wasm backend', async () => {
    const events: ProgressEvent[] = [];
    const encoder = await Encoder.open(sharedPath('refs', 'bert'), { backend: 'wasm', threads: 1, progress: (e) => events.push(e) });
    try {
      const compile = events.filter((e) => e.phase === 'compile');
      expect(compile.map((e) => e.done)).toEqual([0, compile[0].total]);
      expect(compile[0].total).toBeGreaterThan(0);
      const w = events.filter((e) => e.phase === 'weights');
      expect(w.length).toBeGreaterThan(1);
      for (let i = 1; i < w.length; i++) expect(w[i].done).toBeGreaterThan(w[i - 1].done);
      expect(w.at(-1)!.done).toBe(w[0].total);
    } finally {
      await encoder.dispose();
    }
  }, 300_000);
});
