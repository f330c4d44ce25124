// Progress on slow loading steps: the events the API reports (Model.open's `progress` option) and
// the one-line renderer the CLI draws on a terminal. A step that ends within `delayMs` draws
// nothing, so a warm start stays silent; a slower one shows done/total, rate and ETA, redrawn in
// place, and a final line when it ends.
import { storageBytes } from '../ir/dtype.js';
import type { Graph, Value } from '../ir/graph.js';
import { formatWeight } from '../ir/printer.js';
import type { ParamResolver } from '../runtime/reference/interpreter.js';

/** Which step: weights are read, quantized where the passes ask, and uploaded in one streaming pass. */
export type ProgressPhase = 'weights' | 'compile';

export interface ProgressEvent {
  readonly phase: ProgressPhase;
  readonly done: number;
  readonly total: number;
  /** What `done` and `total` count. */
  readonly unit: 'bytes' | 'kernels';
}

export type ProgressCallback = (event: ProgressEvent) => void;

export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

export interface ProgressLineOptions {
  /** Steps that end sooner draw nothing (default 500 ms). */
  readonly delayMs?: number;
  /** Least time between redraws of one step (default 100 ms). */
  readonly redrawMs?: number;
  /** The clock in ms (tests pass their own). */
  readonly now?: () => number;
}

const LABELS: Readonly<Record<ProgressPhase, string>> = { weights: 'loading weights', compile: 'compiling kernels' };

/** The byte scale a count is shown in, chosen by its size: [divisor, suffix, decimals]. */
function byteScale(n: number): readonly [number, string, number] {
  if (n >= 2 ** 30) return [2 ** 30, 'GiB', 2];
  if (n >= 2 ** 20) return [2 ** 20, 'MiB', 1];
  return [2 ** 10, 'KiB', 0];
}

const bytes = (n: number, [div, , digits] = byteScale(n)): string => (n / div).toFixed(digits);

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** One progress line (no newline): `loading weights 12.0/93.0 MiB · 41.2 MiB/s · ETA 1.9 s`. */
export function formatProgress(e: ProgressEvent, elapsedMs: number): string {
  const scale = byteScale(e.total);
  const head = e.unit === 'kernels'
    ? `${LABELS[e.phase]} ${e.done}/${e.total} kernels`
    : `${LABELS[e.phase]} ${bytes(e.done, scale)}/${bytes(e.total, scale)} ${scale[1]}`;
  if (e.done >= e.total) return `${head} in ${seconds(elapsedMs)}`;
  if (e.done === 0 || elapsedMs <= 0) return `${head} · ${seconds(elapsedMs)}`;
  const rate = (e.done / elapsedMs) * 1000;
  const eta = ((e.total - e.done) / rate) * 1000;
  const speed = e.unit === 'kernels' ? `${rate.toFixed(1)} kernels/s` : `${bytes(rate)} ${byteScale(rate)[1]}/s`;
  return `${head} · ${speed} · ETA ${seconds(eta)}`;
}

/**
 * A callback that draws progress on `stream` when it is a terminal, or undefined when it is not
 * (piped output and logs get no carriage-return noise). Each phase starts at its first event.
 */
export function progressLine(stream: ProgressStream, opts: ProgressLineOptions = {}): ProgressCallback | undefined {
  if (stream.isTTY !== true) return undefined;
  const delay = opts.delayMs ?? 500;
  const redraw = opts.redrawMs ?? 100;
  const now = opts.now ?? (() => performance.now());
  let phase: ProgressPhase | undefined;
  let started = 0;
  let drawn = -Infinity;
  let width = 0;
  return (e) => {
    const t = now();
    if (e.phase !== phase) {
      phase = e.phase;
      started = t;
      drawn = -Infinity;
      width = 0;
    }
    const elapsed = t - started;
    const end = e.done >= e.total;
    if (elapsed < delay || (!end && t - drawn < redraw)) {
      if (end) phase = undefined;
      return;
    }
    const text = formatProgress(e, elapsed);
    // Pad over a longer previous line; the last draw of a step ends the line.
    stream.write(`\r${text.padEnd(width)}${end ? '\n' : ''}`);
    width = text.length;
    drawn = t;
    if (end) phase = undefined;
  };
}

/**
 * The resolver, reporting weight progress as the runtime pulls each distinct weight (by source)
 * of the graphs: bytes done of the graphs' total, whether it streams or evaluates the tensor.
 */
export function withWeightProgress(resolve: ParamResolver, graphs: Iterable<Graph>, progress: ProgressCallback | undefined): ParamResolver {
  if (!progress) return resolve;
  const sizes = new Map<string, number>();
  for (const g of graphs) {
    for (const p of g.params) if (p.def.kind === 'param') sizes.set(formatWeight(p.def.source), storageBytes(p.type.dtype, p.type.shape.map((d) => (typeof d === 'number' ? d : 0))));
  }
  const total = [...sizes.values()].reduce((a, b) => a + b, 0);
  const seen = new Set<string>();
  let done = 0;
  const count = (p: Value) => {
    if (p.def.kind !== 'param') return;
    const key = formatWeight(p.def.source);
    if (seen.has(key)) return;
    seen.add(key);
    done += sizes.get(key) ?? 0;
    progress({ phase: 'weights', done: Math.min(done, total), total, unit: 'bytes' });
  };
  const wrapped: ParamResolver = (p) => {
    const t = resolve(p);
    count(p);
    return t;
  };
  if (resolve.streamer) {
    const streamer = resolve.streamer.bind(resolve);
    wrapped.streamer = (p) => {
      const s = streamer(p);
      return s && { bytes: s.bytes, write: (dest) => { s.write(dest); count(p); } };
    };
  }
  if (resolve.placed) wrapped.placed = resolve.placed.bind(resolve);
  return wrapped;
}
