// `tessera bench`: prefill and decode throughput of one model on one backend, as the median of
// several runs, with peak memory and (for WebGPU) dispatches per token. `--json` prints one
// object that bench/peers.sh reads to set Tessera beside llama2.c and llama.cpp.
import { basename, resolve } from 'node:path';
import { useMap } from '../../ir/graph.js';
import { formatWeight } from '../../ir/printer.js';
import { storageBytes } from '../../ir/dtype.js';
import type { BackendName } from '../backends.js';
import { benchmark, type BenchSummary, peakRssBytes } from '../bench.js';
import type { ProfileRow } from '../../runtime/profile.js';
import { LOAD_RANGES, type LoadOptions, Model } from '../model.js';
import { CliError, EXIT_FAILURE, EXIT_OK, flagOpt, stringOpt } from './command.js';
import { contextLengthOpt, CTX_OPTION, MODEL_OPTIONS, numberOpt, requireString } from './model-options.js';
import { registerCommand } from './registry.js';
import { packageVersion } from './version.js';

registerCommand({
  name: 'bench',
  summary: 'measure prefill and decode tokens/s, peak memory and dispatches on a backend',
  args: '',
  positionals: { min: 0, max: 0 },
  description: `Runs a seeded random prompt of --prompt-tokens ids through the model in one forward pass
(prefill), then --gen-tokens single-token forward passes, each feeding back the greedy token
(greedy decode, as generate does it: wasm and WebGPU take the argmax in the graph), at positions
--prompt-tokens onwards, or from --decode-depth in a fresh cache. After --warmup unmeasured runs it
measures --runs runs, each from an empty KV cache, and reports the median tokens/s of each phase. No tokenizer is needed. Peak RSS is
the process's high-water mark, so it includes loading the weights.`,
  options: {
    model: MODEL_OPTIONS.model,
    backend: MODEL_OPTIONS.backend,
    passes: MODEL_OPTIONS.passes,
    threads: { type: 'string', value: 'N', help: 'CPU threads for backends that use several (passed to Model.open)' },
    'spin-micros': MODEL_OPTIONS['spin-micros'],
    ctx: CTX_OPTION,
    'prompt-tokens': { type: 'string', value: 'N', help: 'prompt length of the prefill pass (default 128)' },
    'gen-tokens': { type: 'string', value: 'N', help: 'decode steps after the prefill (default 128)' },
    'decode-depth': { type: 'string', value: 'N', help: 'decode from a fresh cache holding the prompt\'s first N tokens instead of after the whole prompt (0: positions 0…, as llama-bench\'s tg)' },
    runs: { type: 'string', value: 'N', help: 'measured runs; medians are reported (default 3)' },
    warmup: { type: 'string', value: 'N', help: 'unmeasured runs first (default 1; with 0 the first run also pays for lazy weight loading)' },
    seed: { type: 'string', value: 'N', help: 'seed of the prompt token ids (default 1)' },
    json: { type: 'boolean', help: 'print one JSON object instead of the table' },
    profile: { type: 'boolean', help: 'one more run timing every kernel launch: where the time goes, per kernel family (wasm: thread 0 reads the clock; WebGPU: timestamp queries, one pass per dispatch)' },
  },
  examples: [
    { command: 'tessera bench -m synth15M.bin --backend reference --runs 1 --gen-tokens 16', says: 'a quick look at the interpreter' },
    { command: 'tessera bench -m synth110M.bin --backend webgpu --passes default --json', says: 'one JSON object, with dispatches per token' },
    { command: 'tessera bench -m synth15M.bin --backend wasm --profile', says: 'the figures, then time per kernel family in prefill and decode' },
  ],
  async run(inv, io) {
    const promptTokens = numberOpt(inv, 'prompt-tokens', { min: 1, integer: true }) ?? 128;
    const genTokens = numberOpt(inv, 'gen-tokens', { min: 0, integer: true }) ?? 128;
    const decodeDepth = numberOpt(inv, 'decode-depth', { min: 0, integer: true });
    if (decodeDepth !== undefined && decodeDepth > promptTokens) throw new CliError(`--decode-depth ${decodeDepth} is longer than the prompt (--prompt-tokens ${promptTokens})`);
    const runs = numberOpt(inv, 'runs', { min: 1, integer: true }) ?? 3;
    const warmup = numberOpt(inv, 'warmup', { min: 0, integer: true }) ?? 1;
    const seed = numberOpt(inv, 'seed', { integer: true }) ?? 1;
    const threads = numberOpt(inv, 'threads', { min: 1, integer: true });
    const spinMicros = numberOpt(inv, 'spin-micros', LOAD_RANGES.spinMicros);
    const backend = (stringOpt(inv, 'backend') ?? 'auto') as BackendName;
    const passes = stringOpt(inv, 'passes');
    const contextLength = contextLengthOpt(inv);
    const path = resolve(io.cwd, requireString(inv, 'model'));

    const opts: LoadOptions = {
      backend,
      // One compiled step must take the whole prompt, or prefill would be timed in chunks.
      maxChunk: promptTokens,
      passes,
      ...(threads !== undefined ? { threads } : {}),
      ...(spinMicros !== undefined ? { spinMicros } : {}),
      ...(contextLength !== undefined ? { contextLength } : {}),
    };
    const t0 = performance.now();
    const model = await Model.open(path, opts);
    const openMs = performance.now() - t0;
    try {
      const ex = model.executor;
      if (Math.max(promptTokens, (decodeDepth ?? promptTokens) + genTokens) > ex.contextLength) {
        const from = decodeDepth === undefined ? `--prompt-tokens ${promptTokens}` : `--decode-depth ${decodeDepth}`;
        throw new CliError(`${from} + --gen-tokens ${genTokens} exceed the model's context of ${ex.contextLength}`);
      }
      const profile = flagOpt(inv, 'profile');
      const summary = await benchmark(ex, { promptTokens, genTokens, runs, warmup, seed, profile, ...(decodeDepth !== undefined ? { decodeDepth } : {}) });
      if (profile && !summary.profile) io.stderr.write(`tessera bench: the ${ex.backend} backend cannot profile its launches; --profile ignored\n`);
      const weights = weightsInfo(model);
      const report = {
        backend: ex.backend,
        backend_reason: model.backendReason,
        threads: reportedThreads(ex, threads),
        threads_requested: threads ?? null,
        prefill_tok_s: round(summary.prefillTokensPerSecond),
        decode_tok_s: round(summary.decodeTokensPerSecond),
        prefill_ms: round(summary.prefillMs),
        decode_ms: round(summary.decodeMs),
        prefill_tok_s_runs: summary.runs.map((r) => round((promptTokens * 1000) / r.prefillMs)),
        decode_tok_s_runs: summary.runs.map((r) => round(r.decodeMs > 0 ? (genTokens * 1000) / r.decodeMs : 0)),
        peak_rss_bytes: peakRssBytes(),
        // The backend's own linear memory (wasm: weights, KV cache, activations), null elsewhere.
        wasm_memory_bytes: backendMemoryBytes(ex),
        prompt_tokens: promptTokens,
        gen_tokens: genTokens,
        // Position of the first decode step.
        decode_from: decodeDepth ?? promptTokens,
        runs,
        warmup,
        seed,
        model: path,
        weights_bytes: weights.bytes,
        weights_dtype: weights.dtype,
        // Weight bytes one decode step reads (an embedding table: one row), and the rate they
        // are read at in decode.
        decode_weight_bytes_per_token: weights.perTokenBytes,
        decode_weight_gb_s: round((weights.perTokenBytes * summary.decodeTokensPerSecond) / 1e9),
        // Model.open time only: backends that read weights lazily pay the rest in the first forward.
        open_ms: round(openMs),
        passes: passes ?? 'none',
        context_length: ex.contextLength,
        vocab_size: ex.vocabSize,
        prefill_dispatches: summary.prefillDispatches ?? null,
        decode_dispatches_per_token: summary.decodeDispatchesPerToken ?? null,
        decode_us_per_dispatch: summary.decodeMicrosPerDispatch === undefined ? null : round(summary.decodeMicrosPerDispatch),
        logits_ok: summary.logitsOk,
        profile: summary.profile?.map((r) => ({ phase: r.phase, kernel: r.kernel, ms_per_step: round(r.ms / r.steps), launches_per_step: round(r.launches / r.steps) })) ?? null,
        generated_head: summary.generated.slice(0, 16),
        tessera_version: packageVersion(),
        node: process.version,
        date: new Date().toISOString(),
      };
      io.stdout.write(flagOpt(inv, 'json') ? `${JSON.stringify(report)}\n` : table(report, summary));
      if (!summary.logitsOk) {
        io.stderr.write(`tessera bench: the ${ex.backend} backend returned non-finite or constant logits; its timings are not valid\n`);
        return EXIT_FAILURE;
      }
    } finally {
      await model.dispose();
    }
    return EXIT_OK;
  },
});

/**
 * Bytes of the distinct weights the (transformed) step graph reads, tied embeddings counted once,
 * and the dtype that holds most of them (f32 as read; q8_0/q4_0 once a quantize pass ran).
 * `perTokenBytes` is what one decode step must read of them: a weight that is only gathered
 * from (an embedding table) costs one row, every other weight all of its bytes; with the decode
 * rate it gives the achieved weight bandwidth.
 */
function weightsInfo(model: Model): { bytes: number; dtype: string; perTokenBytes: number } {
  const g = model.graph({ logits: 'last' });
  const uses = useMap(g);
  const seen = new Set<string>();
  const byDtype = new Map<string, number>();
  let perTokenBytes = 0;
  for (const p of g.params) {
    if (p.def.kind !== 'param') continue;
    const key = formatWeight(p.def.source);
    if (seen.has(key)) continue;
    seen.add(key);
    const shape = p.type.shape as number[];
    const bytes = storageBytes(p.type.dtype, shape);
    byDtype.set(p.type.dtype, (byDtype.get(p.type.dtype) ?? 0) + bytes);
    const gatheredOnly = (uses.get(p) ?? []).every((n) => n.op === 'embedding' && n.inputs[0] === p);
    perTokenBytes += gatheredOnly && shape.length === 2 ? storageBytes(p.type.dtype, [1, shape[1]]) : bytes;
  }
  const sorted = [...byDtype].sort((a, b) => b[1] - a[1]);
  return { bytes: sorted.reduce((n, [, b]) => n + b, 0), dtype: sorted[0]?.[0] ?? 'none', perTokenBytes };
}

/** Bytes of linear memory the executor holds, for backends that say (the wasm executor's memoryBytes). */
function backendMemoryBytes(ex: object): number | null {
  const bytes = (ex as { memoryBytes?: unknown }).memoryBytes;
  return typeof bytes === 'number' ? bytes : null;
}

/** What the executor says it uses; otherwise the interpreter's one thread, or what was asked for. */
function reportedThreads(ex: object, requested: number | undefined): number | null {
  const own = (ex as { threads?: unknown }).threads;
  if (typeof own === 'number') return own;
  if ((ex as { backend?: unknown }).backend === 'reference') return 1;
  return requested ?? null;
}

const round = (x: number) => (Number.isFinite(x) ? Math.round(x * 100) / 100 : x);
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

interface TableFacts {
  readonly model: string;
  readonly backend: string;
  readonly backend_reason: string;
  readonly threads: number | null;
  readonly weights_bytes: number;
  readonly weights_dtype: string;
  readonly decode_weight_bytes_per_token: number;
  readonly decode_weight_gb_s: number;
  readonly peak_rss_bytes: number;
  readonly wasm_memory_bytes: number | null;
  readonly open_ms: number;
  readonly prompt_tokens: number;
  readonly gen_tokens: number;
  readonly decode_from: number;
  readonly runs: number;
  readonly warmup: number;
  readonly passes: string;
  readonly logits_ok: boolean;
}

function table(r: TableFacts, s: BenchSummary): string {
  const tokS = (tokens: number, ms: number) => (ms > 0 ? (tokens * 1000) / ms : 0);
  const range = (tokens: number, ms: readonly number[]) => {
    const v = ms.map((m) => tokS(tokens, m));
    return `${Math.min(...v).toFixed(1)}–${Math.max(...v).toFixed(1)}`;
  };
  const rows: string[][] = [
    ['phase', 'tokens', 'positions', 'median ms', 'tok/s', 'range tok/s'],
    ['prefill', String(r.prompt_tokens), `0–${r.prompt_tokens - 1}`, s.prefillMs.toFixed(1), s.prefillTokensPerSecond.toFixed(1), range(r.prompt_tokens, s.runs.map((x) => x.prefillMs))],
    ['decode', String(r.gen_tokens), r.gen_tokens ? `${r.decode_from}–${r.decode_from + r.gen_tokens - 1}` : '-', s.decodeMs.toFixed(1), s.decodeTokensPerSecond.toFixed(1), r.gen_tokens ? range(r.gen_tokens, s.runs.map((x) => x.decodeMs)) : '-'],
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const line = (row: string[]) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  const out = [
    `model    ${basename(r.model)} · weights ${mib(r.weights_bytes)} (${r.weights_dtype}) · passes ${r.passes} · opened in ${(r.open_ms / 1000).toFixed(2)} s`,
    `backend  ${r.backend_reason} · threads ${r.threads ?? 'backend default'}`,
    `runs     ${r.runs} measured (medians) after ${r.warmup} warm-up · peak RSS ${mib(r.peak_rss_bytes)}${r.wasm_memory_bytes === null ? '' : ` (wasm memory ${mib(r.wasm_memory_bytes)})`}`,
    '',
    ...rows.map(line),
  ];
  if (r.gen_tokens) out.push('', `weights  ${mib(r.decode_weight_bytes_per_token)} read per decode token: ${r.decode_weight_gb_s.toFixed(1)} GB/s`);
  if (!r.logits_ok) out.push('', 'warning  the logits were non-finite or all equal: the backend computed nothing, so these timings mean nothing');
  if (s.decodeDispatchesPerToken !== undefined) {
    const per = s.decodeMicrosPerDispatch === undefined ? '' : ` · ${s.decodeMicrosPerDispatch.toFixed(1)} µs/dispatch (decode)`;
    out.push('', `dispatches  prefill ${s.prefillDispatches} · decode ${s.decodeDispatchesPerToken.toFixed(1)}/token${per}`);
  }
  if (s.profile) {
    const measured = { prefill: s.prefillMs, decode: r.gen_tokens ? s.decodeMs / r.gen_tokens : 0 };
    out.push('', ...profileTable(s.profile, measured));
  }
  return `${out.join('\n')}\n`;
}

/**
 * Per phase: kernel families by time per step, with their share of the phase. `measured` is the
 * unprofiled time per step, so the clock reads' own cost (a few µs a launch) shows.
 */
function profileTable(rows: readonly ProfileRow[], measured: Readonly<Record<'prefill' | 'decode', number>>): string[] {
  const out: string[] = ['profile  one extra run, every launch timed (wasm: thread 0, after each barrier; WebGPU: timestamp queries, a pass per dispatch); timing slows short launches'];
  for (const phase of ['prefill', 'decode'] as const) {
    const mine = rows.filter((r) => r.phase === phase);
    if (mine.length === 0) continue;
    const total = mine.reduce((n, r) => n + r.ms, 0);
    const steps = mine[0].steps;
    const table: string[][] = [[`${phase} (${steps} step${steps === 1 ? '' : 's'}, ${(total / steps).toFixed(3)} ms/step profiled, ${measured[phase].toFixed(3)} unprofiled)`, 'ms/step', 'launches/step', 'share']];
    for (const r of mine) table.push([`  ${r.kernel}`, (r.ms / steps).toFixed(4), (r.launches / steps).toFixed(1), `${((100 * r.ms) / total).toFixed(1)} %`]);
    const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
    out.push('', ...table.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')));
  }
  return out;
}
