// Counters and gauges for GET /metrics in the Prometheus text format (version 0.0.4).
// docs/serving.md says how to size replicas from them.

/** Upper bounds (seconds) of the time-to-first-token histogram. */
const TTFT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface Gauges {
  readonly queued: number;
  readonly busy: number;
  readonly slots: number;
  readonly maxQueue: number;
  /** Tokens held in each slot's KV cache. */
  readonly kvTokens: readonly number[];
  readonly contextLength: number;
  readonly draining: boolean;
  /** Continuous batching: KV blocks (pages) of the shared pool, and steps run. */
  readonly kvPages?: { readonly inUse: number; readonly total: number; readonly blockSize: number };
  readonly batchSteps?: number;
  readonly batchRows?: number;
}

export class Metrics {
  private readonly requests = new Map<string, number>();
  promptTokens = 0;
  cachedPromptTokens = 0;
  generatedTokens = 0;
  /** Seconds spent decoding, summed over requests (generated / this = throughput while busy). */
  decodeSeconds = 0;
  cancelled = 0;
  private readonly ttft = new Array<number>(TTFT_BUCKETS.length).fill(0);
  private ttftSum = 0;
  private ttftCount = 0;
  private readonly started = Date.now();
  /** Generated tokens in the last minute, for a tokens/s gauge. */
  private recent: { at: number; tokens: number }[] = [];

  request(endpoint: string, status: number): void {
    const key = `endpoint="${endpoint}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  firstToken(seconds: number): void {
    TTFT_BUCKETS.forEach((b, i) => { if (seconds <= b) this.ttft[i]++; });
    this.ttftSum += seconds;
    this.ttftCount++;
  }

  generation(s: { promptTokens: number; cachedPromptTokens: number; generatedTokens: number; decodeMs: number }): void {
    this.promptTokens += s.promptTokens;
    this.cachedPromptTokens += s.cachedPromptTokens;
    this.generatedTokens += s.generatedTokens;
    this.decodeSeconds += s.decodeMs / 1000;
    this.recent.push({ at: Date.now(), tokens: s.generatedTokens });
  }

  private tokensPerSecond(): number {
    const since = Date.now() - 60_000;
    this.recent = this.recent.filter((r) => r.at >= since);
    const window = Math.min(60, (Date.now() - this.started) / 1000);
    return window > 0 ? this.recent.reduce((n, r) => n + r.tokens, 0) / window : 0;
  }

  render(g: Gauges): string {
    const lines: string[] = [];
    const metric = (name: string, type: 'counter' | 'gauge' | 'histogram', help: string, samples: [string, number][]) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, v] of samples) lines.push(`${name}${labels ? `{${labels}}` : ''} ${Number.isFinite(v) ? v : 0}`);
    };
    metric('tessera_requests_total', 'counter', 'HTTP requests answered, by endpoint and status.', [...this.requests].map(([k, v]) => [k, v]));
    metric('tessera_requests_cancelled_total', 'counter', 'Generations stopped because the client went away.', [['', this.cancelled]]);
    metric('tessera_prompt_tokens_total', 'counter', 'Prompt tokens of finished generations.', [['', this.promptTokens]]);
    metric('tessera_prompt_tokens_cached_total', 'counter', 'Prompt tokens whose KV cache was reused, not prefilled.', [['', this.cachedPromptTokens]]);
    metric('tessera_generated_tokens_total', 'counter', 'Tokens generated.', [['', this.generatedTokens]]);
    metric('tessera_decode_seconds_total', 'counter', 'Seconds spent decoding, summed over generations.', [['', this.decodeSeconds]]);
    metric('tessera_generated_tokens_per_second', 'gauge', 'Tokens generated per second over the last minute, all slots together.', [['', this.tokensPerSecond()]]);
    metric('tessera_queue_depth', 'gauge', 'Requests waiting for a slot.', [['', g.queued]]);
    metric('tessera_queue_capacity', 'gauge', 'Requests the queue holds before refusing with 429.', [['', g.maxQueue]]);
    metric('tessera_slots_busy', 'gauge', 'Slots (batched sequences, or loaded model copies) running a request.', [['', g.busy]]);
    metric('tessera_slots', 'gauge', 'Slots (--parallel).', [['', g.slots]]);
    if (g.kvPages) {
      metric('tessera_kv_pages_in_use', 'gauge', 'KV cache blocks (pages) held by running sequences.', [['', g.kvPages.inUse]]);
      metric('tessera_kv_pages', 'gauge', 'KV cache blocks (pages) in the shared pool.', [['', g.kvPages.total]]);
      metric('tessera_kv_page_tokens', 'gauge', 'Positions one KV page holds.', [['', g.kvPages.blockSize]]);
      metric('tessera_batch_steps_total', 'counter', 'Batched steps run (one token of every running sequence, plus prompt chunks).', [['', g.batchSteps ?? 0]]);
      metric('tessera_batch_rows_total', 'counter', 'Rows (tokens) run by batched steps: divided by steps, the mean batch size.', [['', g.batchRows ?? 0]]);
    } else {
      metric('tessera_kv_cache_tokens', 'gauge', 'Tokens held in each slot\'s KV cache (one preallocated cache per model copy).', g.kvTokens.map((t, i) => [`slot="${i}"`, t]));
    }
    metric('tessera_kv_cache_capacity_tokens', 'gauge', 'Tokens one sequence\'s KV cache holds at most (the context length).', [['', g.contextLength]]);
    metric('tessera_draining', 'gauge', '1 once SIGTERM was received: no new requests are taken.', [['', g.draining ? 1 : 0]]);
    // firstToken() counts each observation in every bucket it fits, so the counts are cumulative.
    const buckets: [string, number][] = TTFT_BUCKETS.map((b, i) => [`le="${b}"`, this.ttft[i]]);
    buckets.push(['le="+Inf"', this.ttftCount]);
    lines.push('# HELP tessera_time_to_first_token_seconds From the request arriving to its first generated token, queueing included.', '# TYPE tessera_time_to_first_token_seconds histogram');
    for (const [l, v] of buckets) lines.push(`tessera_time_to_first_token_seconds_bucket{${l}} ${v}`);
    lines.push(`tessera_time_to_first_token_seconds_sum ${this.ttftSum}`, `tessera_time_to_first_token_seconds_count ${this.ttftCount}`);
    return `${lines.join('\n')}\n`;
  }
}
