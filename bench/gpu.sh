#!/usr/bin/env bash
# Tessera's WebGPU backend on a real GPU: prefill and decode of synthetic checkpoints with the
# shapes of stories110M and TinyLlama-1.1B, f32 and through Tessera's own quantize pass, printed as
# one table with the decode's share of the GPU's memory bandwidth (weight bytes read per token × tokens/s,
# over the datasheet's BANDWIDTH_GBS and over the read bandwidth bench/webgpu-bandwidth.mjs
# measures through WebGPU first) and prefill/decode throughput. It makes missing checkpoints with
# ../shared/bench/make-synthetic.mjs. Build Tessera first (npm run build).
#
# Environment (defaults in brackets):
#   SHARED        [../shared]    the shared data folder (make-synthetic.mjs)
#   BENCH_DIR     [/tmp/bench]   where the checkpoints are (made when missing)
#   MODELS        [synth110M synth1B]   synth15M, synth110M, synth1B (tinyllama-1.1B shape)
#   DTYPES        [f32 q8_0 q4_0]       f32 as read; q8_0/q4_0 through quantize{heads=true}
#   PROMPT [128] GEN [128] RUNS [5]     prompt and generated tokens, measured runs
#   BANDWIDTH_GBS [3350]         the GPU's datasheet memory bandwidth in GB/s (H100 SXM's HBM3 by default)
#   OUT_DIR       [$BENCH_DIR/gpu]       one JSON file per run
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
BENCH_DIR=${BENCH_DIR:-/tmp/bench}
MODELS=${MODELS:-"synth110M synth1B"}
DTYPES=${DTYPES:-"f32 q8_0 q4_0"}
PROMPT=${PROMPT:-128}
GEN=${GEN:-128}
RUNS=${RUNS:-5}
BANDWIDTH_GBS=${BANDWIDTH_GBS:-3350}
OUT_DIR=${OUT_DIR:-$BENCH_DIR/gpu}
mkdir -p "$BENCH_DIR" "$OUT_DIR"

shape_of() {
  case "$1" in
    synth15M) echo stories15M ;;
    synth110M) echo stories110M ;;
    synth1B) echo tinyllama-1.1B ;;
    *) echo "bench/gpu.sh: unknown model '$1' (synth15M, synth110M, synth1B)" >&2; return 1 ;;
  esac
}

probe=$(node "$ROOT/bench/webgpu-bandwidth.mjs" 1024 20 2>/dev/null | tail -1)
echo "bandwidth through WebGPU: $probe" >&2
MEASURED_GBS=$(node -e 'try { console.log(JSON.parse(process.argv[1]).read_gb_s) } catch { console.log(0) }' "$probe")

rows=()
for m in $MODELS; do
  shape=$(shape_of "$m") || exit 2
  ckpt=$BENCH_DIR/$m.bin
  if [ ! -f "$ckpt" ]; then
    echo "making $ckpt ($shape)" >&2
    node "$SHARED/bench/make-synthetic.mjs" "$shape" "$ckpt" || exit 1
  fi
  for d in $DTYPES; do
    passes=default
    [ "$d" = f32 ] || passes="default,quantize{dtype=$d,heads=true}"
    json=$OUT_DIR/$m-$d.json
    echo "bench $m $d" >&2
    if ! node "$ROOT/bin/tessera.js" bench -m "$ckpt" --backend webgpu --passes "$passes" \
        --prompt-tokens "$PROMPT" --gen-tokens "$GEN" --runs "$RUNS" --warmup 1 --json >"$json"; then
      rows+=("$m $d failed (see $json)")
      continue
    fi
    rows+=("$(node -e '
      const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      const bw = Number(process.argv[2]), measured = Number(process.argv[4]);
      const gbs = r.decode_weight_gb_s;
      const f = (x, d) => (x === null || x === undefined ? "-" : Number(x).toFixed(d));
      console.log([process.argv[3], r.weights_dtype, f(r.decode_weight_bytes_per_token / 1e6, 0), f(r.prefill_tok_s, 0),
        f(r.decode_tok_s, 1), f(1000 / r.decode_tok_s, 2), f(gbs, 0), f((100 * gbs) / bw, 1) + "%",
        measured > 0 ? f((100 * gbs) / measured, 1) + "%" : "-",
        f(r.prefill_tok_s / r.decode_tok_s, 1) + "x", f(r.decode_dispatches_per_token, 0),
        f(r.decode_us_per_dispatch, 1), f(r.peak_rss_bytes / 2 ** 20, 0)].join(" | "));
    ' "$json" "$BANDWIDTH_GBS" "$m" "$MEASURED_GBS")")
  done
done

echo
echo "model | weights | MB read per token | prefill tok/s | decode tok/s | ms/token | weight GB/s | of ${BANDWIDTH_GBS} GB/s (datasheet) | of ${MEASURED_GBS} GB/s (measured read) | prefill/decode | dispatches/token | µs/dispatch | peak RSS MiB"
for r in "${rows[@]}"; do echo "$r"; done
