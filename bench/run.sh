#!/usr/bin/env bash
# HTTP benchmarks on loopback: streamsy against a bare h2o "hello" server.
#
#   bench/run.sh            (or: make bench)
#
# Builds build/bench-hello and build/streamsy (the default RelWithDebInfo
# build, -O2 -g, no sanitizers), starts both on free loopback ports (streamsy
# with --storage memory --long-poll-timeout-ms 500 --quiet) and runs wrk:
#
#   hello       GET / on bench-hello: the h2o baseline (same library, loop, socket setup)
#   append      POST of a 100-byte message to one stream (bench/append.lua)
#   read-tail   GET ?offset=<after message 990> of a 1000-message stream: the last 10
#               messages, 1000 B (bench/read.lua): a consumer resuming near the tail
#   read-all    GET ?offset=-1 of the same stream: ~100 kB catch-up (bench/read.lua)
#
#   long-poll   one reader parked at the tail, one writer: the time from sending
#               an append to the reader's answer (bench/longpoll.mjs), p50/p99
#
# on three storages: memory, SQLite (a fresh durable file) and the Durable
# Object build in a local workerd (scripts/workerd-serve.sh; one object per
# stream), and prints req/s, latency p50/p99 and response size per run, then
# the ratios. For the Durable Object build it also prints the module's size
# (raw and gzip -9) and its cold start: workerd's start to its first answer,
# and the first request to a new object (a PUT of a new stream, mean of 20).
# wrk and the servers share the machine's cores, so compare ratios rather
# than absolute numbers across machines.
#
# Environment:
#   WRK_THREADS (2)  WRK_CONNECTIONS (64)  WRK_DURATION (10, seconds; "10s" also works)
#   BUILD_DIR (build)  BENCH_OUT (results dir, default $BUILD_DIR/bench/<timestamp>)
#   BENCH_STORAGES ("memory sqlite durable-object")
#   STREAMSY_BIN (benchmark this server binary instead of building $BUILD_DIR/streamsy)
#
# Exit status: 0 if every run completed without errors; 1 otherwise (also when
# build/streamsy could not be built: the hello baseline still runs).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
# shellcheck source=scripts/server-lib.sh
. "$ROOT/scripts/server-lib.sh"

THREADS="${WRK_THREADS:-2}"
CONNS="${WRK_CONNECTIONS:-64}"
DURATION="${WRK_DURATION:-10}"
DURATION="${DURATION%s}"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
MESSAGES=1000
MANY_STREAMS="${BENCH_STREAMS:-1000}"
TAIL_MESSAGES=10

die() { echo "bench: error: $*" >&2; exit 1; }
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -gt 0 ]] || die "WRK_DURATION must be a number of seconds, got '${WRK_DURATION:-}'"
command -v wrk >/dev/null || die "wrk is not installed (run scripts/setup.sh)"
command -v curl >/dev/null || die "curl is not installed (run scripts/setup.sh)"

# --- build ---------------------------------------------------------------------------
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja >/dev/null || die "cmake configure of $BUILD_DIR failed"
fi
grep -q '^SANITIZE:BOOL=ON' "$BUILD_DIR/CMakeCache.txt" && die "$BUILD_DIR is a sanitizer build; benchmark a plain build (BUILD_DIR=...)"
BUILD_TYPE="$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD_DIR/CMakeCache.txt")"
cmake --build "$BUILD_DIR" --target bench-hello >/dev/null || die "building bench-hello failed (cmake --build $BUILD_DIR --target bench-hello)"
STREAMSY_NOTE=""
if [ -n "${STREAMSY_BIN:-}" ]; then
  [ -x "$STREAMSY_BIN" ] || STREAMSY_NOTE="STREAMSY_BIN=$STREAMSY_BIN is not an executable"
elif ! cmake --build "$BUILD_DIR" --target streamsy >/dev/null 2>&1; then
  STREAMSY_NOTE="building streamsy failed (see: cmake --build $BUILD_DIR --target streamsy)"
elif [ ! -x "$BUILD_DIR/streamsy" ]; then
  STREAMSY_NOTE="$BUILD_DIR/streamsy does not exist after the build"
fi
STREAMSY_BIN="${STREAMSY_BIN:-$BUILD_DIR/streamsy}"

OUT="${BENCH_OUT:-$BUILD_DIR/bench/$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

# --- wrk runs -------------------------------------------------------------------------
ROWS=()     # "name|req/s|p50 ms|p99 ms|bytes per response|errors"
declare -A RPS
FAILED=0

run_wrk() { # name url script [env...]
  local name="$1" url="$2" script="$3" log="$OUT/wrk-$1.txt"
  shift 3
  echo "bench: $name: wrk -t$THREADS -c$CONNS -d${DURATION}s -s $(basename "$script") $url" >&2
  if ! env BENCH_DIR="$HERE" "$@" timeout --kill-after=5 $((DURATION + 30)) \
      wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 5s -s "$script" "$url" >"$log" 2>&1; then
    echo "bench: $name: wrk failed, output in $log:" >&2
    sed 's/^/  /' "$log" >&2
    ROWS+=("$name|-|-|-|-|wrk failed")
    FAILED=1
    return 0
  fi
  local line
  line="$(grep '^BENCH ' "$log" | tail -n 1)"
  [ -n "$line" ] || { ROWS+=("$name|-|-|-|-|no result"); FAILED=1; return 0; }
  local requests duration_us bytes p50_us p99_us e_connect e_read e_write e_status e_timeout
  requests="$(sed -E 's/.* requests=([0-9]+).*/\1/' <<<"$line")"
  duration_us="$(sed -E 's/.* duration_us=([0-9]+).*/\1/' <<<"$line")"
  bytes="$(sed -E 's/.* bytes=([0-9]+).*/\1/' <<<"$line")"
  p50_us="$(sed -E 's/.* p50_us=([0-9]+).*/\1/' <<<"$line")"
  p99_us="$(sed -E 's/.* p99_us=([0-9]+).*/\1/' <<<"$line")"
  e_connect="$(sed -E 's/.* err_connect=([0-9]+).*/\1/' <<<"$line")"
  e_read="$(sed -E 's/.* err_read=([0-9]+).*/\1/' <<<"$line")"
  e_write="$(sed -E 's/.* err_write=([0-9]+).*/\1/' <<<"$line")"
  e_status="$(sed -E 's/.* err_status=([0-9]+).*/\1/' <<<"$line")"
  e_timeout="$(sed -E 's/.* err_timeout=([0-9]+).*/\1/' <<<"$line")"
  local rps errors=""
  rps="$(awk -v n="$requests" -v d="$duration_us" 'BEGIN { printf "%.0f", (d > 0 ? n / (d / 1e6) : 0) }')"
  RPS[$name]="$rps"
  [ "$e_status" -eq 0 ] || errors+="status>=400:$e_status "
  [ "$e_connect" -eq 0 ] || errors+="connect:$e_connect "
  [ "$e_read" -eq 0 ] || errors+="read:$e_read "
  [ "$e_write" -eq 0 ] || errors+="write:$e_write "
  [ "$e_timeout" -eq 0 ] || errors+="timeout:$e_timeout "
  [ "$requests" -gt 0 ] || errors+="no requests "
  [ -z "$errors" ] || FAILED=1
  ROWS+=("$name|$rps|$(awk -v u="$p50_us" 'BEGIN{printf "%.2f", u/1000}')|$(awk -v u="$p99_us" 'BEGIN{printf "%.2f", u/1000}')|$(awk -v b="$bytes" -v n="$requests" 'BEGIN{printf "%.0f", n ? b/n : 0}')|${errors:-0}")
}

# curl helpers (bounded)
http_status() { # method url [curl args...] -> prints the status code (000: no answer)
  local method="$1" url="$2"
  shift 2
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X "$method" "$@" "$url" || true
}

# The streamsy part stops at the first problem: it sets STREAMSY_NOTE and returns 1.
note() { STREAMSY_NOTE="$*"; return 1; }

expect_status() { # want method url [curl args...]
  local want="$1" code
  shift
  code="$(http_status "$@")"
  # shellcheck disable=SC2053 # $want is a pattern
  [[ "$code" == $want ]] || note "$1 ${2#"$BASE"} got HTTP $code (want $want)"
}

# POST count messages of 100 bytes to url over one keep-alive connection.
fill() { # url count
  local url="$1" count="$2" cfg="$OUT/fill.curlrc" body="$OUT/message.bin" codes bad i
  printf '%099d\n' 0 >"$body"
  {
    echo 'silent'
    echo 'request = "POST"'
    echo 'header = "Content-Type: application/octet-stream"'
    echo "data-binary = \"@$body\""
    echo 'write-out = "%{http_code}\n"'
    for ((i = 0; i < count; i++)); do
      echo "url = \"$url\""
      echo 'output = "/dev/null"'
    done
  } >"$cfg"
  codes="$(curl --max-time 60 -K "$cfg")" || true
  bad="$(grep -cvE '^20[04]$' <<<"$codes" || true)"
  [ "$bad" -eq 0 ] && [ "$(grep -c . <<<"$codes")" -eq "$count" ] ||
    note "prefill: $bad of $count POSTs to ${url#"$BASE"} did not get 200/204 ($(sort <<<"$codes" | uniq -c | tr -s ' \n' ' '))"
}

# Row names carry the storage: "append memory", "append sqlite", ...
bench_streamsy() { # storage-label
  local label="$1" octet=(-H "Content-Type: application/octet-stream") read_path=/v1/stream/bench-read tail_offset offset
  # append: one stream, created first
  expect_status '20[01]' PUT "$BASE/v1/stream/bench-append" "${octet[@]}" || return 1
  run_wrk "append-1 $label" "$BASE/v1/stream/bench-append" "$HERE/append.lua" BENCH_STREAM_PATH=/v1/stream/bench-append

  # append across many streams
  create_streams "$MANY_STREAMS" || return 1
  run_wrk "append-$MANY_STREAMS $label" "$BASE/" "$HERE/append_many.lua" BENCH_STREAMS="$MANY_STREAMS"

  # reads: 1000 messages of 100 bytes; remember the offset after message 990
  expect_status '20[01]' PUT "$BASE$read_path" "${octet[@]}" || return 1
  fill "$BASE$read_path" $((MESSAGES - TAIL_MESSAGES)) || return 1
  tail_offset="$(curl -s -I --max-time 10 "$BASE$read_path" | tr -d '\r' | sed -n 's/^[Ss]tream-[Nn]ext-[Oo]ffset: *//p')" || true
  [ -n "$tail_offset" ] || note "HEAD $read_path returned no Stream-Next-Offset" || return 1
  fill "$BASE$read_path" "$TAIL_MESSAGES" || return 1
  for offset in "$tail_offset" -1; do
    expect_status 200 GET "$BASE$read_path?offset=$offset" || return 1
  done
  run_wrk "read-tail $label" "$BASE$read_path" "$HERE/read.lua" BENCH_STREAM_PATH="$read_path" BENCH_READ_OFFSET="$tail_offset"
  run_wrk "read-all $label" "$BASE$read_path" "$HERE/read.lua" BENCH_STREAM_PATH="$read_path" BENCH_READ_OFFSET=-1
}

# PUT /v1/stream/bench-many-0 .. count-1 over one keep-alive connection.
create_streams() { # count
  local count="$1" cfg="$OUT/create.curlrc" codes bad i
  {
    echo 'silent'
    echo 'request = "PUT"'
    echo 'header = "Content-Type: application/octet-stream"'
    echo 'write-out = "%{http_code}\n"'
    for ((i = 0; i < count; i++)); do
      echo "url = \"$BASE/v1/stream/bench-many-$i\""
      echo 'output = "/dev/null"'
    done
  } >"$cfg"
  codes="$(curl --max-time 120 -K "$cfg")" || true
  bad="$(grep -cvE '^20[01]$' <<<"$codes" || true)"
  [ "$bad" -eq 0 ] || note "creating $count streams: $bad PUTs failed"
}

# The long-poll wake latency row of one storage.
run_longpoll() { # label
  local label="$1" log="$OUT/longpoll-$1.txt" line
  echo "bench: long-poll $label: node bench/longpoll.mjs" >&2
  if ! node "$HERE/longpoll.mjs" "$BASE" 200 >"$log" 2>&1; then
    ROWS+=("long-poll $label|-|-|-|-|$(tail -n 1 "$log")")
    FAILED=1
    return 0
  fi
  line="$(grep '^LONGPOLL ' "$log" | tail -n 1)"
  ROWS+=("long-poll $label|-|$(sed -E 's/.* p50_ms=([0-9.]+).*/\1/' <<<"$line")|$(sed -E 's/.* p99_ms=([0-9.]+).*/\1/' <<<"$line")|-|0")
}

# Cold start of the Durable Object build: the first request to 20 new objects.
do_cold_start() {
  local i t total=0
  for ((i = 0; i < 20; i++)); do
    t="$(curl -s -o /dev/null -w '%{time_total}' --max-time 10 -X PUT "$BASE/v1/stream/bench-cold-$i")"
    total="$(awk -v a="$total" -v b="$t" 'BEGIN { print a + b }')"
  done
  DO_FIRST_MS="$(awk -v t="$total" 'BEGIN { printf "%.1f", t / 20 * 1000 }')"
}

# Starts streamsy on one storage, runs bench_streamsy, stops it.
run_storage() { # label storage-spec
  local label="$1" spec="$2" t0 cmd
  [ -z "$STREAMSY_NOTE" ] || return 0
  if [ "$spec" = durable-object ]; then
    DO_STATE="$(mktemp -d "${TMPDIR:-/tmp}/streamsy-bench-do.XXXXXX")"
    "$ROOT/workerd/deps.sh" >/dev/null
    cmd=(env "BUILD=$BUILD_DIR" "$ROOT/scripts/workerd-serve.sh" --listen 127.0.0.1:PORT --state "$DO_STATE" --long-poll-timeout-ms 500)
  else
    cmd=("$STREAMSY_BIN" serve --listen 127.0.0.1:PORT --storage "$spec" --long-poll-timeout-ms 500 --quiet)
  fi
  t0="$(date +%s%N)"
  if server_start "$OUT/streamsy-$label.log" /v1/stream/x "${cmd[@]}"; then
    [ "$spec" != durable-object ] || DO_START_MS="$(( ($(date +%s%N) - t0) / 1000000 ))"
    PIDS+=("$SERVER_PID")
    STREAMSY_PID="$SERVER_PID"
    BASE="http://127.0.0.1:$SERVER_PORT"
    [ "$spec" != durable-object ] || do_cold_start
    bench_streamsy "$label" || true
    run_longpoll "$label"
    if ! kill -0 "$STREAMSY_PID" 2>/dev/null; then
      STATUS=0
      wait "$STREAMSY_PID" 2>/dev/null || STATUS=$?
      STREAMSY_NOTE="streamsy ($label) died during the benchmark (exit status $STATUS)${STREAMSY_NOTE:+; before that: $STREAMSY_NOTE}; log: $OUT/streamsy-$label.log"
    else
      server_stop "$STREAMSY_PID"
      # workerd drains open responses on SIGTERM and ends by a signal: not judged
      [ "$SERVER_STATUS" = 0 ] || [ "$spec" = durable-object ] ||
        STREAMSY_NOTE="${STREAMSY_NOTE:+$STREAMSY_NOTE; }streamsy ($label) exited with status $SERVER_STATUS on SIGTERM (log: $OUT/streamsy-$label.log)"
    fi
  else
    STREAMSY_NOTE="streamsy ($label) did not start: $SERVER_ERROR"
  fi
}

# --- hello baseline ------------------------------------------------------------------------
server_start "$OUT/bench-hello.log" / "$BUILD_DIR/bench-hello" --listen 127.0.0.1:PORT ||
  die "bench-hello did not start: $SERVER_ERROR"
PIDS+=("$SERVER_PID")
run_wrk hello "http://127.0.0.1:$SERVER_PORT/" "$HERE/report.lua"
server_stop "$SERVER_PID"

# --- streamsy: memory, SQLite (a fresh durable database file), Durable Objects ------------------
for storage in ${BENCH_STORAGES:-memory sqlite durable-object}; do
  case "$storage" in
    memory) run_storage memory memory ;;
    sqlite)
      SQLITE_DIR="$(mktemp -d "${TMPDIR:-/tmp}/streamsy-bench.XXXXXX")"
      run_storage sqlite "sqlite:$SQLITE_DIR/bench.db"
      rm -rf "$SQLITE_DIR" ;;
    durable-object)
      run_storage do durable-object
      rm -rf "${DO_STATE:-}" ;;
    *) die "unknown storage '$storage' in BENCH_STORAGES" ;;
  esac
done

# --- report ------------------------------------------------------------------------------------
echo
echo "wrk -t$THREADS -c$CONNS -d${DURATION}s, loopback, $(nproc) cores, build type ${BUILD_TYPE:-?}, results in $OUT"
printf '%-20s %10s %9s %9s %11s  %s\n' benchmark "req/s" "p50 ms" "p99 ms" "bytes/resp" errors
for row in "${ROWS[@]}"; do
  IFS='|' read -r name rps p50 p99 size errors <<<"$row"
  printf '%-20s %10s %9s %9s %11s  %s\n' "$name" "$rps" "$p50" "$p99" "$size" "$errors"
done
ratio() { awk -v a="${RPS[$1]:-0}" -v b="${RPS[$2]:-0}" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else printf "n/a" }'; }
echo "append-1 memory/hello: $(ratio "append-1 memory" hello)   read-tail memory/hello: $(ratio "read-tail memory" hello)   append-1 sqlite/memory: $(ratio "append-1 sqlite" "append-1 memory")"
if [ -n "${DO_START_MS:-}" ]; then
  WASM="$BUILD_DIR/wasm/streamsy-do.wasm"
  echo "append-1 do/sqlite: $(ratio "append-1 do" "append-1 sqlite")   read-tail do/sqlite: $(ratio "read-tail do" "read-tail sqlite")"
  echo "durable object module: $(stat -c %s "$WASM") bytes, $(gzip -9 -c "$WASM" | wc -c) gzipped; workerd start to first answer ${DO_START_MS} ms; first request to a new object ${DO_FIRST_MS:-?} ms (mean of 20)"
fi

if [ -n "$STREAMSY_NOTE" ]; then
  echo "bench: error: $STREAMSY_NOTE" >&2
  echo "bench: the streamsy benchmarks are missing or incomplete" >&2
  exit 1
fi
[ "$FAILED" -eq 0 ] || { echo "bench: error: some runs had errors (see the table and $OUT)" >&2; exit 1; }
