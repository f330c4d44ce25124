#!/usr/bin/env bash
# Tessera beside its peers (llama2.c, llama.cpp) on the same synthetic checkpoints, in one run,
# printed as one table with Tessera/peer ratios. It only RUNS peers that are already built; it
# never fetches or builds anything, and none of the peers' code lives in this repository.
#
# Environment (defaults in brackets):
#   PEERS_DIR  [/tmp/peers]  where the peers were built:
#                $PEERS_DIR/llama2.c/runomp                   llama2.c's run.c built with OpenMP
#                $PEERS_DIR/llama.cpp/build/bin/llama-bench   llama.cpp's CPU benchmark tool
#   BENCH_DIR  [/tmp/bench]  the checkpoints: <model>.bin (llama2.c format), tokenizer.bin, and
#                <model>-f32.gguf / -q8_0.gguf / -q4_0.gguf for llama.cpp
#   MODELS     [synth15M synth110M]   checkpoint names in BENCH_DIR (synth1.1B: the TinyLlama-1.1B shape)
#   THREADS    [2]        thread counts to try, e.g. "1 2"
#   PROMPT [128] GEN [128] RUNS [3]   prompt and generated tokens, repetitions
#   DECODE_DEPTH [0]      Tessera's --decode-depth: 0 decodes at positions 0…GEN−1 from a fresh
#                cache, as llama-bench's tg test does; empty decodes after the prompt instead
#   ROUNDS     [1]        times every engine is run in turn; each round gives its own ratios and
#                the table shows medians over rounds (on a shared machine, where speed drifts
#                by tens of percent over minutes, interleaved rounds compare like with like)
#   QUANTS     [f32 q8_0 q4_0]        llama.cpp weight types
#   BACKENDS   [every backend `tessera bench` offers, but auto]
#   SKIP       ["reference:synth110M"] backend:model pairs to leave out (the interpreter is slow)
#   PASSES     [default]  Tessera's --passes pipeline
#   TESSERA_QUANTS [f32 q8_0 q4_0]  Tessera weight types: f32 as read; q8_0/q4_0 through Tessera's
#                own quantize pass appended to PASSES (every matmul weight, the classifier and the
#                embedding table, as llama-quantize --pure does), on the same <model>.bin
#   TESSERA_FROM [bin]   bin: Tessera reads <model>.bin (quantizing it itself, as above); gguf: it
#                reads llama.cpp's own <model>-<q>.gguf, the same file as the peer (for peak RSS
#                on the same weights); f32 rows then read <model>-f32.gguf
# Tessera's KV cache is sized to the test (--ctx: the prompt, or the decode depth plus GEN), as
# llama-bench sizes its context to each test, so peak RSS compares like with like.
#
# How the peers and checkpoints were made (see BENCHMARKS.md for the exact versions):
#   1. Checkpoints: run ../shared/bench/make-synthetic.mjs for stories15M and stories110M into
#      BENCH_DIR as synth15M.bin and synth110M.bin, and copy ../shared/models/llama2c-vocab/
#      tokenizer.bin beside them.
#   2. llama2.c: take a copy of karpathy/llama2.c into PEERS_DIR/llama2.c and compile run.c with
#      gcc at -Ofast, -march=native and -fopenmp into an executable named runomp (link libm).
#   3. llama.cpp: take a copy of ggml-org/llama.cpp into PEERS_DIR/llama.cpp, configure it with
#      CMake for a Release CPU-only build (native CPU flags on, no GPU backends, no curl) in
#      build/, and build the targets llama-bench, llama-quantize and
#      llama-convert-llama2c-to-ggml.
#   4. GGUF files: run llama-convert-llama2c-to-ggml on each <model>.bin with tokenizer.bin as the
#      vocabulary source, writing <model>-f32.gguf; then llama-quantize with --pure (every tensor
#      in the one type) to Q8_0 and Q4_0, writing <model>-q8_0.gguf and <model>-q4_0.gguf. For
#      synth1.1B (make-synthetic.mjs tinyllama-1.1B), whose 4 GB the converter cannot hold, write
#      the F32 file with bench/llama2c-to-gguf.mjs (--vocab-from synth110M-f32.gguf) instead.
#   Build Tessera itself first (npm run build) so that bin/tessera.js finds dist/.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEERS_DIR=${PEERS_DIR:-/tmp/peers}
BENCH_DIR=${BENCH_DIR:-/tmp/bench}
MODELS=${MODELS:-"synth15M synth110M"}
THREADS=${THREADS:-2}
PROMPT=${PROMPT:-128}
GEN=${GEN:-128}
RUNS=${RUNS:-3}
ROUNDS=${ROUNDS:-1}
DECODE_DEPTH=${DECODE_DEPTH-0}
QUANTS=${QUANTS:-"f32 q8_0 q4_0"}
SKIP=${SKIP:-"reference:synth110M"}
PASSES=${PASSES:-default}
TESSERA_QUANTS=${TESSERA_QUANTS:-"f32 q8_0 q4_0"}
TESSERA_FROM=${TESSERA_FROM:-bin}
if [[ -n "$DECODE_DEPTH" ]]; then CTX=$((DECODE_DEPTH + GEN > PROMPT ? DECODE_DEPTH + GEN : PROMPT)); else CTX=$((PROMPT + GEN)); fi
TESSERA="node $ROOT/bin/tessera.js"
RUNOMP=$PEERS_DIR/llama2.c/runomp
LLAMA_BENCH=$PEERS_DIR/llama.cpp/build/bin/llama-bench

# The backends `tessera bench --backend` accepts, read from its help so new ones (wasm) join by
# themselves; auto is left out because it is one of the others under another name.
if [[ -z "${BACKENDS:-}" ]]; then
  BACKENDS=$($TESSERA help bench 2>/dev/null | sed -n 's/.*--backend NAME.*(\([a-z|]*\)).*/\1/p' | tr '|' ' ' | sed 's/\bauto\b//g')
fi

RESULTS=$(mktemp)
ERRORS=$(mktemp)
RSS_FILE=$(mktemp)
trap 'rm -f "$RESULTS" "$ERRORS" "$RSS_FILE"' EXIT
# One line per measurement: round, engine, model, weights, threads, pp tok/s, tg tok/s, peak RSS bytes
ROUND=1
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$ROUND" "$@" >>"$RESULTS"; }
say() { printf '%s\n' "$*" >&2; }

say "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') · $(nproc) cores · load average $(cut -d' ' -f1-3 /proc/loadavg)"
if awk '{ exit !($1 > 0.5) }' /proc/loadavg; then say "warning: the machine is busy (load > 0.5); figures will be low and noisy"; fi

# Runs a command, leaving its peak RSS in kilobytes in $RSS_FILE (empty without GNU time).
with_rss() {
  : >"$RSS_FILE"
  if [[ -x /usr/bin/time ]]; then /usr/bin/time -f '%M' -o "$RSS_FILE" "$@"; else "$@"; fi
}
rss_bytes() { local kb; kb=$(tail -n 1 "$RSS_FILE"); [[ "$kb" =~ ^[0-9]+$ ]] && echo $((kb * 1024)) || echo -; }

have_model() { [[ -f "$BENCH_DIR/$1" ]] || { say "skip: $BENCH_DIR/$1 is missing"; return 1; }; }

# Tessera: bench --json for each backend, model and thread count.
declare -A REF_HEAD=()
run_tessera() {
for backend in $BACKENDS; do
  for m in $MODELS; do
    if [[ " $SKIP " == *" $backend:$m "* ]]; then say "skip: tessera $backend on $m (SKIP)"; continue; fi
    for q in $TESSERA_QUANTS; do
    # The interpreter is the oracle at f32 only; quantized rows are for the fast backends.
    if [[ "$backend" == reference && "$q" != f32 ]]; then continue; fi
    passes=$PASSES
    file=$m.bin
    if [[ "$TESSERA_FROM" == gguf ]]; then file=$m-$q.gguf
    elif [[ "$q" != f32 ]]; then passes="${PASSES/#none/},quantize{dtype=$q,heads=true,tables=true}" && passes=${passes#,}; fi
    have_model "$file" || continue
    for t in $THREADS; do
      say "tessera bench --backend $backend -m $file --threads $t --passes $passes --ctx $CTX${DECODE_DEPTH:+ --decode-depth $DECODE_DEPTH}"
      json=$($TESSERA bench --json -m "$BENCH_DIR/$file" --backend "$backend" --threads "$t" --passes "$passes" --ctx "$CTX" \
        --prompt-tokens "$PROMPT" --gen-tokens "$GEN" ${DECODE_DEPTH:+--decode-depth "$DECODE_DEPTH"} --runs "$RUNS" --warmup 1 2>"$ERRORS" | grep '^{' | tail -n 1)
      if [[ "$json" != \{* ]]; then say "skip: tessera $backend failed on $m: $(grep -v '^Warning' "$ERRORS" | head -n 1)"; continue; fi
      # A backend that computed nothing (failed GPU submissions read back zeros) looks fast: drop it.
      if [[ "$json" == *'"logits_ok":false'* ]]; then say "skip: tessera $backend on $m returned constant or non-finite logits, so its timings mean nothing"; continue; fi
      # Same seed, same prompt: a backend that agrees with the interpreter generates the same
      # greedy tokens. A mismatch keeps the row but marks it, since fast-and-wrong is no result.
      head=$(grep -o '"generated_head":\[[0-9,]*\]' <<<"$json")
      [[ "$backend" == reference ]] && REF_HEAD[$m]=$head
      mark=""
      if [[ "$backend" != reference && "$q" == f32 && -n "${REF_HEAD[$m]:-}" && "${REF_HEAD[$m]}" != "$head" ]]; then
        mark=" ≠ref"
        say "warning: tessera $backend on $m generated other tokens than the reference interpreter"
      fi
      # The threads column holds what every engine was asked for, so rows line up for the ratios;
      # a backend that uses another count (the interpreter's one thread) says so in its name.
      # The weights column is the type asked for: a quantized run keeps its (tied) embedding table
      # float, so weights_dtype alone would not say it.
      node -e 'const [json, model, asked, mark, weights] = process.argv.slice(1), j = JSON.parse(json);
        const engine = `tessera ${j.backend}` + (j.threads !== null && String(j.threads) !== asked ? ` (${j.threads} thr)` : "") + mark;
        console.log([process.argv[6], engine, model, weights, asked, j.prefill_tok_s, j.decode_tok_s, j.peak_rss_bytes].join("\t"));' "$json" "$m" "$t" "$mark" "$q" "$ROUND" >>"$RESULTS"
    done
    done
  done
done
}

# llama2.c: no batched prefill (the prompt goes through one token at a time), so only decode.
# run.c prints "achieved tok/s" over every step after the first, prompt steps included. It runs
# PROMPT + GEN steps, twice the depth of Tessera's default decode, on purpose: a run of GEN + 1
# steps (the same depths) measured slower for llama2.c, not faster (its first steps, unwarmed,
# weigh more), so the longer run is the one that flatters the peer (session 6).
run_llama2c() {
if [[ -x "$RUNOMP" ]]; then
  for m in $MODELS; do
    have_model "$m.bin" || continue
    for t in $THREADS; do
      say "OMP_NUM_THREADS=$t runomp $m.bin -t 0 -n $((PROMPT + GEN))"
      runs=""
      for ((r = 0; r < RUNS; r++)); do
        out=$(OMP_NUM_THREADS=$t with_rss "$RUNOMP" "$BENCH_DIR/$m.bin" -z "$BENCH_DIR/tokenizer.bin" -t 0 -n $((PROMPT + GEN)) -i "Once upon a time" 2>&1 >/dev/null)
        tok=$(sed -n 's/.*achieved tok\/s: \([0-9.]*\).*/\1/p' <<<"$out")
        [[ -n "$tok" ]] && runs+="$tok $(rss_bytes)"$'\n'
      done
      # The median run by tok/s, as Tessera reports medians.
      med=$(sort -n <<<"${runs%$'\n'}" | awk '{ a[NR] = $0 } END { if (NR) print a[int((NR + 1) / 2)] }')
      if [[ -z "$med" ]]; then say "skip: llama2.c printed no tok/s on $m"; continue; fi
      record "llama2.c runomp" "$m" f32 "$t" "-" "${med% *}" "${med#* }"
    done
  done
else
  say "skip: llama2.c: $RUNOMP is missing (build it as the comments at the top of this script say)"
fi
}

# llama.cpp: llama-bench's pp (one batch of PROMPT tokens) and tg (GEN single-token steps), mean
# of RUNS repetitions, JSON output.
run_llamacpp() {
if [[ -x "$LLAMA_BENCH" ]]; then
  for m in $MODELS; do
    for q in $QUANTS; do
      have_model "$m-$q.gguf" || continue
      for t in $THREADS; do
        say "llama-bench -m $m-$q.gguf -t $t -p $PROMPT -n $GEN -r $RUNS"
        json=$(with_rss "$LLAMA_BENCH" -m "$BENCH_DIR/$m-$q.gguf" -t "$t" -p "$PROMPT" -n "$GEN" -r "$RUNS" -o json 2>/dev/null)
        line=$(node -e '
          const rows = JSON.parse(process.argv[1]);
          const pp = rows.find((r) => r.n_prompt > 0 && r.n_gen === 0), tg = rows.find((r) => r.n_gen > 0 && r.n_prompt === 0);
          console.log([pp ? pp.avg_ts.toFixed(2) : "-", tg ? tg.avg_ts.toFixed(2) : "-"].join("\t"));' "$json" 2>/dev/null)
        if [[ -z "$line" ]]; then say "skip: llama-bench failed on $m-$q.gguf"; continue; fi
        record "llama.cpp" "$m" "$q" "$t" "${line%%$'\t'*}" "${line#*$'\t'}" "$(rss_bytes)"
      done
    done
  done
else
  say "skip: llama.cpp: $LLAMA_BENCH is missing (build it as the comments at the top of this script say)"
fi
}

for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
  ((ROUNDS > 1)) && say "round $ROUND of $ROUNDS"
  run_tessera
  run_llama2c
  run_llamacpp
done

# The table: every engine's median over rounds, then each Tessera row divided by the peers on the
# same model, thread count and weight type (llama.cpp at the same weights; llama2.c, f32 only, for
# decode): with several rounds, the median of the per-round ratios, then each round's.
node - "$RESULTS" <<'EOF'
const all = require('fs').readFileSync(process.argv[2], 'utf8').trim().split('\n').filter(Boolean)
  .map((l) => { const [round, engine, model, weights, threads, pp, tg, rss] = l.split('\t'); return { round, engine, model, weights, threads, pp, tg, rss }; });
const num = (s) => (s === '-' || s === undefined ? NaN : Number(s));
const median = (xs) => {
  const v = xs.filter((x) => !isNaN(x)).sort((a, b) => a - b);
  return !v.length ? NaN : v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
const fixed = (x) => (isNaN(x) ? '-' : x.toFixed(1));
const mib = (x) => (isNaN(x) || !isFinite(x) ? '-' : `${(x / 2 ** 20).toFixed(0)} MiB`);
const print = (table) => {
  const w = table[0].map((_, c) => Math.max(...table.map((r) => String(r[c]).length)));
  for (const r of table) console.log(r.map((x, c) => (c < 2 ? String(x).padEnd(w[c]) : String(x).padStart(w[c]))).join('  '));
};
const groups = new Map();
for (const r of all) {
  const k = [r.engine, r.model, r.weights, r.threads].join('\t');
  if (!groups.has(k)) groups.set(k, []);
  groups.get(k).push(r);
}
const rows = [...groups.values()].map((g) => ({
  ...g[0], runs: g, pp: median(g.map((r) => num(r.pp))), tg: median(g.map((r) => num(r.tg))),
  rss: Math.max(-Infinity, ...g.map((r) => num(r.rss)).filter((x) => !isNaN(x))),
}));
const rounds = new Set(all.map((r) => r.round)).size;
print([['engine', 'model', 'weights', 'threads', 'pp tok/s', 'tg tok/s', 'peak RSS'],
  ...rows.map((r) => [r.engine, r.model, r.weights, r.threads, fixed(r.pp), fixed(r.tg), mib(r.rss)])]);
const ratios = [];
for (const t of rows.filter((r) => r.engine.startsWith('tessera'))) {
  // Like with like: llama.cpp at Tessera's weight type; llama2.c (f32 only) for f32 rows.
  for (const p of rows.filter((r) => !r.engine.startsWith('tessera') && r.model === t.model && r.threads === t.threads && r.weights === t.weights)) {
    // Each round's Tessera figure over the peer's from the same round.
    const per = (f) => t.runs.map((tr) => {
      const pr = p.runs.find((x) => x.round === tr.round);
      return pr ? num(tr[f]) / num(pr[f]) : NaN;
    }).filter((x) => isFinite(x));
    const cell = (xs) => (!xs.length ? '-' : `${median(xs).toFixed(3)}×` + (rounds > 1 ? ` (${xs.map((x) => x.toFixed(2)).join(' ')})` : ''));
    ratios.push([`${t.engine} / ${p.engine} ${p.weights}`, t.model, t.threads, cell(per('pp')), cell(per('tg'))]);
  }
}
if (ratios.length) {
  console.log('');
  print([['tessera / peer', 'model', 'threads', 'pp ratio', 'tg ratio'], ...ratios]);
}
EOF
