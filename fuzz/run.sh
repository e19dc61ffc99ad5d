#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, ASan + UBSan, the whole library
# instrumented) in build-fuzz/ and runs each one, two at a time.
#
#   fuzz/run.sh [target...]          every target (fuzz/fuzz_*.c) by default
#   FUZZ_SECONDS=120                 time per target (the default)
#   FUZZ_RUNS=10000000               run a number of inputs instead of a time
#   FUZZ_JOBS=2                      targets run at once
#
# Each target starts from the committed corpus fuzz/corpus/<name> and writes
# new inputs to build-fuzz/corpus/<name> (add good ones to the repo with
# `fuzz_<name> -merge=1 fuzz/corpus/<name> build-fuzz/corpus/<name>`). A crash
# leaves its input in build-fuzz/artifacts/ and fails the run. The summary
# gives executions and speed per target.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
SECONDS_PER=${FUZZ_SECONDS:-120}
RUNS=${FUZZ_RUNS:-}
JOBS=${FUZZ_JOBS:-2}

command -v clang-14 >/dev/null || { echo "fuzz/run.sh: clang-14 missing: run scripts/setup.sh" >&2; exit 1; }
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
if [[ ! -f $BUILD/build.ninja ]]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_C_COMPILER=clang-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSTREAMSY_FUZZ=ON -DSTREAMSY_TESTS=OFF -DSTREAMSY_WASM=OFF \
    -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
fi
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  for src in "$ROOT"/fuzz/fuzz_*.c; do n=$(basename "$src" .c); targets+=("${n#fuzz_}"); done
fi
cmake --build "$BUILD" --target "${targets[@]/#/fuzz_}" >/dev/null

mkdir -p "$BUILD/artifacts" "$BUILD/logs"
limit=(-max_total_time="$SECONDS_PER")
[[ -n $RUNS ]] && limit=(-runs="$RUNS")
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

run_one() {
  local name=$1 log=$BUILD/logs/$1.log start=$SECONDS rc=0
  mkdir -p "$BUILD/corpus/$name"
  # -rss_limit_mb: the per-request caps keep memory small; more means a leak or a bomb.
  "$BUILD/fuzz/fuzz_$name" "${limit[@]}" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$BUILD/artifacts/$name-" "$BUILD/corpus/$name" "$ROOT/fuzz/corpus/$name" >"$log" 2>&1 || rc=$?
  echo "wall_seconds: $((SECONDS - start))" >>"$log"
  return $rc
}

status=0
running=0
for name in "${targets[@]}"; do
  if [[ $running -ge $JOBS ]]; then
    wait -n || status=1
    running=$((running - 1))
  fi
  run_one "$name" &
  running=$((running + 1))
done
while [[ $running -gt 0 ]]; do
  wait -n || status=1
  running=$((running - 1))
done

printf '%-10s %14s %10s %8s  %s\n' target executions exec/s seconds result
for name in "${targets[@]}"; do
  log=$BUILD/logs/$name.log
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
  secs=$(awk '/^wall_seconds:/ {print $2}' "$log")
  speed=$(awk '/stat::average_exec_per_sec/ {print $2}' "$log")
  result=ok
  grep -q "ERROR: \|SUMMARY: \|runtime error:\|deadly signal" "$log" && result="FAILED (see $log)"
  printf '%-10s %14s %10s %8s  %s\n' "$name" "${execs:-?}" "${speed:-?}" "${secs:--}" "$result"
  [[ $result == ok ]] || status=1
done
exit $status
