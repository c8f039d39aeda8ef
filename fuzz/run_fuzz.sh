#!/usr/bin/env bash
# run_fuzz.sh — one bounded libFuzzer session, as CTest runs it (label `fuzz`):
#   run_fuzz.sh FUZZER SECONDS TIMEOUT WORK_CORPUS ARTIFACT_DIR SEED_DIR
# New inputs go to WORK_CORPUS (kept between runs, so coverage accumulates); a crash,
# leak, timeout (one input over TIMEOUT s), out-of-memory or sanitizer report makes
# libFuzzer exit non-zero and leaves the input in ARTIFACT_DIR. To keep it as a
# regression: copy it to tests/fuzz_regressions/<target>/ and fix the bug.
set -uo pipefail
fuzzer=$1 seconds=$2 timeout=$3 corpus=$4 artifacts=$5 seeds=$6
mkdir -p "$corpus" "$artifacts"
if [ ! -d "$seeds" ]; then
  echo "run_fuzz: no seed corpus at $seeds (build the fuzz_all or fuzz_seeds target)" >&2
  exit 1
fi
"$fuzzer" -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb=2560 \
  -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "$seeds"
rc=$?
if [ $rc -ne 0 ]; then
  echo "run_fuzz: $(basename "$fuzzer") failed (exit $rc); inputs in $artifacts:" >&2
  ls -l "$artifacts" >&2
  echo "reproduce: $fuzzer $artifacts/<file>" >&2
fi
exit $rc
