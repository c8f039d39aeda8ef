#!/usr/bin/env bash
# Language-model speed against the machine's memory bandwidth, in one run: stories260K
# (../shared/models/lm) and random-weight llama2.c checkpoints in the shapes of stories15M,
# stories110M and TinyLlama-1.1B (`ember make-random-llama`, converted with the Llama-2
# tokenizer.bin), each in F32 and, when `ember quantize` exists, Q8_0 and Q4_0; `ember
# bench-lm --json` at 1 and 2 threads, with `ember bench-mem` (streaming read bandwidth)
# measured right before and after every row at the same thread count. Prints a Markdown
# table: prefill and decode tokens per second (median of the runs, best in brackets),
# the weight bytes one decode step reads, and the fraction of the bandwidth bound:
#   bytes per token x median decode tok/s / the run's bandwidth at that thread count
# where the run's bandwidth is the median of every bench-mem figure taken in the run at
# that thread count (each the median of 5 passes), and, as a second, conservative
# column, against the higher of the two figures taken around the row. On a shared
# machine both move with the other load (the bandwidth by 2-3x within minutes), so
# neither reading is exact; the table shows the figures taken around each row. Models
# whose weights fit in the last-level cache are not memory bound: no fraction.
# Figures, not a test.
#   bash tools/bench_lm.sh [--quick] [--runs R] [--table-only]
#     --quick: stories260K and 15M only, F32 and Q8_0/Q4_0, 3 runs (a few minutes)
#     --table-only: print the table of the last run again ($EMBER_BUILD_DIR/lm-bench)
#   EMBER_BUILD_DIR (default build): the build folder used; generated and converted
#     models go to $EMBER_BUILD_DIR/lm-bench (never committed); the 1.1B checkpoint needs
#     about 10 GB there while it is converted (the .bin is deleted after), and is skipped
#     with a note when the disk has less.
#   EMBER_BENCH_LM_MODELS: a space-separated subset of: stories260K 15M 110M tinyllama
#   EMBER_BENCH_LM_LOAD: copy (default: models are read into memory with copy_on_load,
#     which asks for transparent huge pages, as the bandwidth tool's buffer does) or mmap
#     (used in place from the page cache, the library's default)
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${EMBER_SHARED_DIR:-$(pwd)/../shared}
build=${EMBER_BUILD_DIR:-build}
quick=0
runs=3
table_only=0
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --runs) runs=$2; shift ;;
    --table-only) table_only=1 ;;
    *) echo "usage: bash tools/bench_lm.sh [--quick] [--runs R] [--table-only]" >&2; exit 2 ;;
  esac
  shift
done
models=${EMBER_BENCH_LM_MODELS:-"stories260K 15M 110M tinyllama"}
load=${EMBER_BENCH_LM_LOAD:-copy}
load_flag=--copy-on-load
[ "$load" = mmap ] && load_flag=
[ $quick = 1 ] && models=${EMBER_BENCH_LM_MODELS:-"stories260K 15M"}

if [ $table_only = 0 ]; then
  [ -f "$build/CMakeCache.txt" ] || cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j"$(nproc)" --target ember_cli >/dev/null
fi
ember=$(pwd)/$build/ember
[ -x "$ember" ] || ember=$build/ember
tok=$shared/models/lm/tokenizer.bin
scratch=$build/lm-bench
mkdir -p "$scratch"
has_quantize=0
if [ $table_only = 0 ] && ("$ember" quantize 2>&1 || true) | grep -q "usage: ember quantize"; then has_quantize=1; fi

free_gb() { df -Pk "$scratch" | awk 'NR == 2 { print int($4 / 1048576) }'; }

# prepare NAME: makes $scratch/NAME.ember (+ -q8_0, -q4_0), prints the dtypes made.
prepare() {
  local name=$1 base=$scratch/$1
  if [ ! -f "$base.ember" ]; then
    case $name in
      stories260K)
        "$ember" convert "$shared/models/lm/stories260K.bin" --tokenizer "$shared/models/lm/tok512.bin" \
          -o "$base.ember" >/dev/null ;;
      tinyllama)
        if [ "$(free_gb)" -lt 10 ]; then
          echo "note: $name skipped: $(free_gb) GB free in $scratch, about 10 GB needed" >&2
          return 0
        fi
        "$ember" make-random-llama -o "$base.bin" --preset "$name" >/dev/null
        "$ember" convert "$base.bin" --tokenizer "$tok" -o "$base.ember" >/dev/null
        rm -f "$base.bin" ;;
      *)
        "$ember" make-random-llama -o "$base.bin" --preset "$name" >/dev/null
        "$ember" convert "$base.bin" --tokenizer "$tok" -o "$base.ember" >/dev/null
        rm -f "$base.bin" ;;
    esac
  fi
  echo F32
  if [ $has_quantize = 1 ]; then
    for q in q8_0 q4_0; do
      # Quantised again when the tool is newer than the file (the storage layout may have
      # changed: q4_0 is written as q4_0x8 since 30 November 2026).
      if [ ! -f "$base-$q.ember" ] || [ "$ember" -nt "$base-$q.ember" ]; then
        "$ember" quantize "$base.ember" -o "$base-$q.ember" --type $q --steps 4 >/dev/null 2>&1 || continue
      fi
      echo "$q" | tr a-z A-Z
    done
  fi
}

# Prompt and generated lengths per model: long enough to time, short enough to finish.
lengths() {
  case $1 in
    stories260K|15M) echo "64 128" ;;
    110M) echo "32 64" ;;
    tinyllama) echo "8 16" ;;
  esac
}

results=$scratch/results.jsonl
whole_file=$scratch/bandwidth.json
llc=$(cat /sys/devices/system/cpu/cpu0/cache/index3/size 2>/dev/null || echo 32M)
if [ $table_only = 0 ]; then
: > "$results"
bw() {  # threads -> GB/s (median of 5 passes over 512 MiB)
  "$ember" bench-mem --size-mib 512 --passes 5 --threads "$1" --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["bandwidth"][0]["gb_s_median"])'
}
"$ember" bench-mem --json > "$whole_file"
echo "bandwidth (1 GiB, 5 passes): $(cat "$whole_file")" >&2
for name in $models; do
  dtypes=$(prepare "$name")
  read -r plen gen < <(lengths "$name")
  for dt in $dtypes; do
    file=$scratch/$name.ember
    [ "$dt" = F32 ] || file=$scratch/$name-$(echo "$dt" | tr A-Z a-z).ember
    for t in 1 2; do
      b0=$(bw "$t")
      line=$("$ember" bench-lm "$file" --prompt-len "$plen" --gen "$gen" --threads "$t" --runs "$runs" --json $load_flag)
      b1=$(bw "$t")
      echo "$name $dt t=$t: $line (bandwidth $b0 / $b1 GB/s)" >&2
      python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d.update(name=sys.argv[2], dtype=sys.argv[3], bw0=float(sys.argv[4]), bw1=float(sys.argv[5])); print(json.dumps(d))' \
        "$line" "$name" "$dt" "$b0" "$b1" >> "$results"
    done
  done
done
echo "load $load" >> "$whole_file"
fi

python3 - "$results" "$whole_file" "$llc" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
lines = open(sys.argv[2]).read().split("\n")
whole = json.loads(lines[0])
load = lines[1].split()[1] if len(lines) > 1 and lines[1].startswith("load ") else "copy"
llc = sys.argv[3].strip()
llc_bytes = int(llc[:-1]) * {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[llc[-1]] if llc[-1] in "KMG" else int(llc)
names = {"stories260K": "stories260K", "15M": "random 15M", "110M": "random 110M",
         "tinyllama": "random TinyLlama 1.1B"}
print("| model | dtype | threads | P / N | prefill tok/s | decode tok/s | weight MB/token | bandwidth GB/s before, after | of bound | of the higher one |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
# The run's bandwidth per thread count: the median of every figure taken at that count.
samples = {}
for b in whole["bandwidth"]:
    samples.setdefault(b["threads"], []).append(b["gb_s_median"])
for r in rows:
    samples.setdefault(r["threads"], []).extend([r["bw0"], r["bw1"]])
run_bw = {t: statistics.median(v) for t, v in samples.items()}
for r in rows:
    mb = r["weight_bytes_per_token"] / 1e6
    bw = run_bw[r["threads"]]
    frac = r["weight_bytes_per_token"] * r["decode_tok_s"] / (bw * 1e9)
    # Against the higher of the two figures taken around the row: the conservative reading.
    frac_hi = r["weight_bytes_per_token"] * r["decode_tok_s"] / (max(r["bw0"], r["bw1"]) * 1e9)
    cached = r["weight_bytes_per_token"] <= llc_bytes
    cell = "cached" if cached else "%.0f%%" % (100 * frac)
    cell_hi = "" if cached else "%.0f%%" % (100 * frac_hi)
    print("| %s | %s | %d | %d / %d | %.0f (%.0f) | %.1f (%.1f) | %.1f | %.1f, %.1f | %s | %s |" % (
        names.get(r["name"], r["name"]), r["dtype"], r["threads"], r["prompt_len"], r["gen"],
        r["prefill_tok_s"], r["prefill_tok_s_best"], r["decode_tok_s"], r["decode_tok_s_best"], mb,
        r["bw0"], r["bw1"], cell, cell_hi))
bw = "; ".join("%d thread(s) %.1f GB/s (%d figures, %.1f-%.1f)" % (t, run_bw[t], len(v), min(v), max(v))
               for t, v in sorted(samples.items()))
print()
print("Streaming read bandwidth of the run (ember bench-mem, median of its figures, each the median of "
      "5 passes; %d of the first 1024 MiB buffer in huge pages): %s. Last-level cache %s: rows whose "
      "weights fit are marked cached. Models loaded with %s." %
      (whole["huge_page_bytes"] >> 20, bw, llc,
       "copy_on_load (transparent huge pages)" if load == "copy" else "mmap (page cache)"))
s = [r for r in rows if r["name"] == "stories260K" and r["dtype"] == "F32"]
for r in s:
    print("stories260K F32, %d thread(s): %.3f ms per token (median), %.3f ms (best run)." %
          (r["threads"], 1000 / r["decode_tok_s"], 1000 / r["decode_tok_s_best"]))
EOF
