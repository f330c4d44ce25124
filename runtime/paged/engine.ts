// Continuous batching: many sequences share one paged step executor. Each sequence is an
// Executor (so generateTokens drives it unchanged: sampling, grammars, stop texts, streaming); its
// forward() queues the tokens, and the scheduler runs every queued sequence through one step:
// decode tokens first (one row each), then prompt tokens in arrival order, in chunks that fill
// the step's rows. Between steps it admits whatever was queued meanwhile, so a new request starts
// prefilling at the next step while the others keep decoding.
//
// KV blocks: a sequence takes blocks from the pool as its positions reach them and gives them
// back when it is cut back or reset. A request whose blocks are not free waits; when nothing can
// run because every queued request waits for blocks, the newest is refused (KvCacheFullError) and
// its sequence's blocks are freed, so the others go on.
//
// Run-time LoRA: each sequence holds its adapters' scales (setLora), which the scheduler copies
// into every row it runs for that sequence; the step applies each row's own (runtime/paged/lora-rows.ts).
import { StateError } from '../../ir/errors.js';
import { checkStep, type Executor, type LogitsWanted } from '../executor.js';
import { checkPicked } from '../sampler.js';
import { BlockAllocator, KvCacheFullError } from './block-allocator.js';
import type { PagedRows, PagedStepExecutor } from './step.js';

type Want = LogitsWanted | 'greedy';

/** After pending I/O and promise callbacks: setImmediate where there is one (Node), else a timer. */
const soon: (f: () => void) => void = typeof globalThis.setImmediate === 'function' ? (f) => globalThis.setImmediate(f) : (f) => setTimeout(f, 0);

interface Request {
  readonly seq: PagedSequence;
  readonly tokens: readonly number[];
  readonly want: Want;
  /** Tokens already run. */
  done: number;
  /** want 'all': every row's logits, filled as chunks run. */
  readonly all?: Float32Array;
  readonly resolve: (value: Float32Array | number) => void;
  readonly reject: (e: unknown) => void;
}

/** Counters for /metrics and benchmarks. */
export interface EngineStats {
  readonly steps: number;
  readonly rows: number;
  readonly sequences: number;
  readonly blocksInUse: number;
  readonly blocksTotal: number;
}

export class PagedEngine {
  readonly allocator: BlockAllocator;
  private readonly queue: Request[] = [];
  private readonly sequences = new Set<PagedSequence>();
  private scheduled = false;
  private running = false;
  private broken: unknown;
  private steps = 0;
  private rowsRun = 0;
  private readonly rows: PagedRows & { count: number };

  constructor(readonly exec: PagedStepExecutor, blocks = exec.geometry.blocks) {
    if (blocks > exec.geometry.blocks) throw new RangeError(`the pool holds ${exec.geometry.blocks} blocks, not ${blocks}`);
    this.allocator = new BlockAllocator(blocks);
    const n = exec.maxRows, width = exec.geometry.tableWidth;
    this.rows = { count: 0, tokens: new Int32Array(n), pos: new Int32Array(n), lens: new Int32Array(n), blocks: new Int32Array(n * width), lora: new Float32Array(n * exec.geometry.adapters) };
  }

  get stats(): EngineStats {
    return { steps: this.steps, rows: this.rowsRun, sequences: this.sequences.size, blocksInUse: this.allocator.inUse, blocksTotal: this.allocator.total };
  }

  /** A new, empty sequence; dispose() it (or reset()) to give its blocks back. */
  sequence(): PagedSequence {
    const seq = new PagedSequence(this);
    this.sequences.add(seq);
    return seq;
  }

  /** @internal PagedSequence's forward. */
  submit(seq: PagedSequence, tokens: readonly number[], want: Want): Promise<Float32Array | number> {
    if (this.broken) return Promise.reject(new StateError(`the batched model failed in an earlier step and cannot run more: ${String(this.broken)}`));
    if (this.queue.some((r) => r.seq === seq)) return Promise.reject(new StateError('a sequence runs one forward() at a time; await the one in flight'));
    checkStep(tokens, seq.position, seq.contextLength, seq.vocabSize);
    return new Promise((resolve, reject) => {
      const all = want === 'all' ? new Float32Array(tokens.length * this.exec.geometry.vocabSize) : undefined;
      this.queue.push({ seq, tokens, want, done: 0, ...(all ? { all } : {}), resolve, reject });
      this.kick();
    });
  }

  /** @internal Cuts a sequence back to `length` positions, giving back the blocks past them. */
  cut(seq: PagedSequence, length: number): void {
    if (this.queue.some((r) => r.seq === seq)) throw new StateError('a sequence cannot be cut back while its forward() is in flight');
    const keep = Math.ceil(length / this.exec.geometry.blockSize);
    this.allocator.give(seq.blocks.splice(keep));
    seq.length = length;
  }

  /** @internal Whether `seq` has a forward() queued or running. */
  busy(seq: PagedSequence): boolean {
    return this.queue.some((r) => r.seq === seq);
  }

  /** @internal */
  forget(seq: PagedSequence): void {
    this.sequences.delete(seq);
  }

  /** Runs a step soon: after the awaiting generators have queued their next tokens. */
  private kick(): void {
    if (this.scheduled || this.running || this.queue.length === 0) return;
    this.scheduled = true;
    soon(() => {
      this.scheduled = false;
      void this.step();
    });
  }

  private async step(): Promise<void> {
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    const { blockSize, tableWidth, vocabSize, adapters } = this.exec.geometry;
    const rows = this.rows;
    rows.count = 0;
    const taken: { req: Request; first: number; count: number }[] = [];
    // Decode rows first (one token left), then prompts in arrival order.
    const order = [...this.queue.filter((r) => r.tokens.length - r.done === 1), ...this.queue.filter((r) => r.tokens.length - r.done > 1)];
    const waiting: Request[] = [];
    for (const req of order) {
      const room = this.exec.maxRows - rows.count;
      if (room === 0) break;
      const seq = req.seq;
      const count = Math.min(req.tokens.length - req.done, room);
      const need = Math.ceil((seq.length + count) / blockSize) - seq.blocks.length;
      if (need > 0) {
        const got = this.allocator.take(need);
        if (!got) {
          waiting.push(req);
          continue;
        }
        seq.blocks.push(...got);
      }
      const first = rows.count;
      for (let i = 0; i < count; i++) {
        const r = rows.count++, p = seq.length + i;
        rows.tokens[r] = req.tokens[req.done + i];
        rows.pos[r] = p;
        rows.lens[r] = p + 1;
        const table = rows.blocks.subarray(r * tableWidth, (r + 1) * tableWidth);
        table.fill(0);
        table.set(seq.blocks);
        if (adapters) rows.lora.set(seq.lora, r * adapters);
      }
      taken.push({ req, first, count });
    }
    if (taken.length === 0) {
      this.running = false;
      // Every queued request waits for blocks that nothing running will free: refuse the newest.
      const newest = waiting[waiting.length - 1];
      if (newest) this.fail(newest, new KvCacheFullError(Math.ceil((newest.seq.length + newest.tokens.length - newest.done) / blockSize) - newest.seq.blocks.length, this.allocator.total));
      this.kick();
      return;
    }
    let out;
    try {
      out = await this.exec.step(rows);
    } catch (e) {
      this.broken = e;
      for (const req of this.queue.splice(0)) req.reject(e);
      this.running = false;
      return;
    }
    this.steps++;
    this.rowsRun += rows.count;
    for (const { req, first, count } of taken) {
      const seq = req.seq;
      seq.length += count;
      if (req.all) req.all.set(out.logits.subarray(first * vocabSize, (first + count) * vocabSize), req.done * vocabSize);
      req.done += count;
      if (req.done < req.tokens.length) continue;
      this.queue.splice(this.queue.indexOf(req), 1);
      const last = first + count - 1;
      try {
        if (req.want === 'all') req.resolve(req.all!);
        else if (req.want === 'last') req.resolve(out.logits.slice(last * vocabSize, (last + 1) * vocabSize));
        else req.resolve(checkPicked(out.next[last], out.logits[last * vocabSize + out.next[last]]));
      } catch (e) {
        req.reject(e);
      }
    }
    this.running = false;
    this.kick();
  }

  private fail(req: Request, e: Error): void {
    this.queue.splice(this.queue.indexOf(req), 1);
    this.allocator.give(req.seq.blocks.splice(0));
    req.seq.length = 0;
    req.reject(e);
  }

  /** Refuses what is queued and frees the executor. */
  async dispose(): Promise<void> {
    for (const req of this.queue.splice(0)) req.reject(new StateError('the batched model was disposed'));
    this.broken ??= 'disposed';
    await this.exec.dispose();
  }
}

/** One sequence of a PagedEngine, as an Executor: its own positions and block table. */
export class PagedSequence implements Executor {
  /** @internal Positions written; the engine moves it. */
  length = 0;
  /** @internal The block table: the blocks holding positions 0…BS−1, BS…2BS−1, … */
  readonly blocks: number[] = [];
  private disposed = false;
  /** The run-time adapters' scales every row of this sequence runs with (all 0: none). */
  private scales: Float32Array;

  constructor(private readonly engine: PagedEngine) {
    this.scales = new Float32Array(engine.exec.geometry.adapters);
  }

  /** @internal What the scheduler copies into this sequence's rows. */
  get lora(): Float32Array {
    return this.scales;
  }

  /**
   * Runs this sequence's next steps with these adapter scales (one per run-time adapter of the
   * step graph; 0 turns one off). Its KV cache was computed with the old ones, so a change is
   * refused while the sequence holds positions: reset() first.
   */
  setLora(scales: Float32Array): void {
    const adapters = this.engine.exec.geometry.adapters;
    if (scales.length !== adapters) throw new RangeError(`setLora: the batched step has ${adapters} run-time adapter(s), got ${scales.length} scale(s)`);
    if (scales.every((s, i) => Object.is(s, this.scales[i]))) return;
    if (this.length > 0 || this.live().busy(this)) throw new StateError('setLora: this sequence holds positions computed with other adapters; reset() it first');
    this.scales = scales.slice();
  }

  get backend(): string {
    return this.engine.exec.backend;
  }

  get contextLength(): number {
    const g = this.engine.exec.geometry;
    return g.tableWidth * g.blockSize;
  }

  get vocabSize(): number {
    return this.engine.exec.geometry.vocabSize;
  }

  get position(): number {
    return this.length;
  }

  /** KV blocks this sequence holds. */
  get blockCount(): number {
    return this.blocks.length;
  }

  forward(tokens: readonly number[], want: LogitsWanted): Promise<Float32Array> {
    return this.live().submit(this, tokens, want) as Promise<Float32Array>;
  }

  forwardGreedy(tokens: readonly number[]): Promise<number> {
    return this.live().submit(this, tokens, 'greedy') as Promise<number>;
  }

  truncate(length: number): void {
    if (length < 0 || length > this.length) throw new RangeError(`truncate: ${length} is outside [0, ${this.length}]`);
    this.live().cut(this, length);
  }

  reset(): void {
    this.live().cut(this, 0);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.engine.cut(this, 0);
    this.engine.forget(this);
    this.disposed = true;
  }

  private live(): PagedEngine {
    if (this.disposed) throw new StateError('this sequence was disposed');
    return this.engine;
  }
}
