#!/usr/bin/env bash
# Streamsy beside its peers, in one run: every scenario against Streamsy on
# memory and on SQLite, the Node reference server (@durable-streams/server,
# pinned in bench/node-reference, in memory) and, where it makes sense, a
# trivial C responder (build/bench-hello: the ceiling). The server runs on
# CPU 0 and the load generator on CPU 1 (taskset); every number is the median
# of ROUNDS rounds, and the table ends with ratios.
#
#   bench/compare.sh                 (make bench-compare)
#
# Scenarios (as in issue 8's table):
#   append-1       POST 100 B to one stream, 64 connections (wrk, bench/append.lua)
#   append-many    POST 100 B round-robin over 1,000 streams, 64 connections
#   read-1mb       GET ?offset=-1 of a 1 MiB stream (1,024 messages of 1 KiB), 16 connections: GB/s
#   read-tail      GET the last 10 of 1,000 messages of 100 B, 16 connections
#   sse-fanout     FANOUT_SUBSCRIBERS SSE readers, one writer asking FANOUT_RATE msg/s
#                  (build/bench-fanout): messages delivered per reader per second, p99, server CPU
#   lp-fanout      the same over long-poll
#   idle-sse       IDLE_SUBSCRIBERS idle SSE readers on a freshly started server: its
#                  memory per connection, and the p99 time one append takes to reach them all
#
# The ceiling column of the fan-out rows holds probes of the machine instead:
#   sse-fanout       bench-loopback-probe: the CPU the kernel alone spends on the
#                    same writes (FANOUT_SUBSCRIBERS connections, FANOUT_RATE each per
#                    second) with no server code at all: the floor under "server CPU"
#   long-poll-fanout the same long-poll fan-out against h2o alone (bench-hello --park: it
#                    parks every GET and answers them all with each POST, no protocol at
#                    all): the most deliveries h2o itself makes on this core; and the
#                    request rate of the trivial responder over FANOUT_SUBSCRIBERS
#                    connections (long-poll needs one request per message per subscriber,
#                    so FANOUT_SUBSCRIBERS × FANOUT_RATE requests per second must fit
#                    under it)
#   idle-sse         bench/idle_probe.py: the memory h2o alone keeps per idle SSE reader
#                    (bench-hello --hold; the floor under Streamsy's figure), and
#                    bench-loopback-probe over IDLE_SUBSCRIBERS connections: how long the
#                    kernel alone takes to write one message to each (the least time an
#                    append can take to reach them all)
#
# Environment: ROUNDS (3), DURATION (10 s per wrk / fan-out run), FANOUT_SUBSCRIBERS
# (1000), FANOUT_RATE (100), IDLE_SUBSCRIBERS (10000), SERVERS ("memory sqlite node
# ceiling"), BUILD_DIR (build), BENCH_OUT (results, default $BUILD_DIR/bench/compare-<time>).
# Needs: wrk, node (scripts/setup.sh), two CPUs for the pinning (else it runs unpinned).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
FANOUT_SUBSCRIBERS=${FANOUT_SUBSCRIBERS:-1000}
FANOUT_RATE=${FANOUT_RATE:-100}
IDLE_SUBSCRIBERS=${IDLE_SUBSCRIBERS:-10000}
SERVERS=${SERVERS:-"memory sqlite node ceiling"}
BUILD_DIR=${BUILD_DIR:-$ROOT/build}
OUT=${BENCH_OUT:-$BUILD_DIR/bench/compare-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
die() { echo "compare: $*" >&2; exit 1; }
command -v wrk >/dev/null || die "wrk is not installed (run scripts/setup.sh)"
command -v node >/dev/null || die "node is not installed (run scripts/setup.sh)"
cmake --build "$BUILD_DIR" --target streamsy bench-hello bench-fanout bench-loopback-probe >/dev/null ||
  die "build failed"
NODE_DEPS=$("$HERE/node-reference/deps.sh")
cp "$HERE/node-reference/serve.mjs" "$NODE_DEPS/"

SERVER_CPU=() LOAD_CPU=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  SERVER_CPU=(taskset -c 0) LOAD_CPU=(taskset -c 1)
fi

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

PID="" PORT="" BASE=""
start() { # kind
  PORT=$(port)
  BASE="http://127.0.0.1:$PORT"
  case $1 in
    memory) "${SERVER_CPU[@]}" "$BUILD_DIR/streamsy" serve --listen "127.0.0.1:$PORT" --storage memory --quiet \
      --long-poll-timeout-ms 30000 --max-connections 20000 >"$OUT/server.log" 2>&1 & ;;
    sqlite) rm -rf "$OUT/db"; mkdir -p "$OUT/db"
      "${SERVER_CPU[@]}" "$BUILD_DIR/streamsy" serve --listen "127.0.0.1:$PORT" --storage "sqlite:$OUT/db/s.db" \
      --quiet --long-poll-timeout-ms 30000 --max-connections 20000 >"$OUT/server.log" 2>&1 & ;;
    node) "${SERVER_CPU[@]}" node "$NODE_DEPS/serve.mjs" "$PORT" 30000 >"$OUT/server.log" 2>&1 & ;;
    ceiling-park) "${SERVER_CPU[@]}" "$BUILD_DIR/bench-hello" --listen "127.0.0.1:$PORT" --park >"$OUT/server.log" 2>&1 & ;;
    ceiling-*) "${SERVER_CPU[@]}" "$BUILD_DIR/bench-hello" --listen "127.0.0.1:$PORT" --body-bytes "${1#ceiling-}" \
      >"$OUT/server.log" 2>&1 & ;;
  esac
  PID=$!
  for _ in $(seq 200); do curl -s -o /dev/null "$BASE/" && return 0; sleep 0.05; done
  die "$1 did not start: $(cat "$OUT/server.log")"
}
stop() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }

put() { curl -s -o /dev/null -w '%{http_code}' -X PUT -H "Content-Type: ${2:-application/octet-stream}" "$BASE$1"; }
# POST count messages of size bytes to path, over one keep-alive connection.
fill() { # path count size
  local cfg="$OUT/fill.curlrc" body="$OUT/message.bin"
  head -c "$(($3 - 1))" /dev/zero | tr '\0' 'a' >"$body"; echo >>"$body"
  { echo silent; echo 'request = "POST"'; echo 'header = "Content-Type: application/octet-stream"'
    echo "data-binary = \"@$body\""
    for ((i = 0; i < $2; i++)); do echo "url = \"$BASE$1\""; echo 'output = "/dev/null"'; done; } >"$cfg"
  curl -K "$cfg"
}
next_offset() { curl -s -I "$BASE$1" | tr -d '\r' | sed -n 's/^[Ss]tream-[Nn]ext-[Oo]ffset: *//p'; }

# wrk with bench/report.lua; prints "requests_per_second bytes_per_response errors"
wrk_run() { # connections script url [env...]
  local conns=$1 script=$2 url=$3 log="$OUT/wrk.txt"
  shift 3
  env BENCH_DIR="$HERE" "$@" "${LOAD_CPU[@]}" wrk -t1 -c"$conns" -d"${DURATION}s" --timeout 5s -s "$script" "$url" \
    >"$log" 2>&1 || true
  awk '/^BENCH / { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
         errs = v["err_connect"] + v["err_read"] + v["err_write"] + v["err_status"] + v["err_timeout"]
         printf "%.0f %.0f %d\n", v["requests"] / (v["duration_us"] / 1e6), v["requests"] ? v["bytes"] / v["requests"] : 0, errs }' \
    "$log"
}

fanout() { # mode path [--idle]
  "${LOAD_CPU[@]}" "$BUILD_DIR/bench-fanout" --port "$PORT" --path "$2" --mode "$1" --server-pid "$PID" \
    --subscribers "$([ "${3:-}" = --idle ] && echo "$IDLE_SUBSCRIBERS" || echo "$FANOUT_SUBSCRIBERS")" \
    --rate "$FANOUT_RATE" --duration "$DURATION" ${3:-} 2>>"$OUT/fanout.err" | tail -1 || true
}
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

declare -A R # R[scenario.server] = "value value value" (one per round)
add() { R[$1.$2]+="$3 "; }

run_streams() { # server: every request/response and fan-out scenario
  local s=$1 line tail
  [ "$(put /v1/stream/bench-append)" = 201 ] || die "$s: PUT failed"
  line=$(wrk_run 64 "$HERE/append.lua" "$BASE/v1/stream/bench-append" BENCH_STREAM_PATH=/v1/stream/bench-append)
  add append-1 "$s" "$(awk '{print $1}' <<<"$line")"
  for ((i = 0; i < 1000; i++)); do echo "url = \"$BASE/v1/stream/bench-many-$i\""; echo 'output = "/dev/null"'; done |
    { echo silent; echo 'request = "PUT"'; echo 'header = "Content-Type: application/octet-stream"'; cat; } >"$OUT/create.curlrc"
  curl -K "$OUT/create.curlrc"
  line=$(wrk_run 64 "$HERE/append_many.lua" "$BASE/" BENCH_STREAMS=1000)
  add append-many "$s" "$(awk '{print $1}' <<<"$line")"
  put /v1/stream/bench-1mb >/dev/null
  fill /v1/stream/bench-1mb 1024 1024
  line=$(wrk_run 16 "$HERE/read.lua" "$BASE/v1/stream/bench-1mb" BENCH_STREAM_PATH=/v1/stream/bench-1mb BENCH_READ_OFFSET=-1)
  add read-1mb "$s" "$(awk '{printf "%.2f", $1 * $2 / 1e9}' <<<"$line")"
  put /v1/stream/bench-read >/dev/null
  fill /v1/stream/bench-read 990 100
  tail=$(next_offset /v1/stream/bench-read)
  fill /v1/stream/bench-read 10 100
  line=$(wrk_run 16 "$HERE/read.lua" "$BASE/v1/stream/bench-read" BENCH_STREAM_PATH=/v1/stream/bench-read BENCH_READ_OFFSET="$tail")
  add read-tail "$s" "$(awk '{print $1}' <<<"$line")"
  for mode in sse long-poll; do
    line=$(fanout "$mode" "/v1/stream/fan-$mode-$RANDOM")
    echo "  $s $mode: $line" >>"$OUT/fanout.log"
    add "$mode-fanout" "$s" "$(field rate_per_sub "$line")/$(field p99_ms "$line")/$(field server_cpu_pct "$line")/$(field gaps "$line")$(field duplicates "$line")"
  done
}

run_idle() { # server, freshly started: memory freed by earlier scenarios would hide the growth
  local line
  line=$(fanout sse "/v1/stream/idle-$RANDOM" --idle)
  echo "  $1 idle: $line" >>"$OUT/fanout.log"
  add idle-sse "$1" "$(field rss_per_conn_kb "$line")/$(field p99_ms "$line")"
}

run_ceiling() {
  local line
  start ceiling-0
  add append-1 ceiling "$(wrk_run 64 "$HERE/append.lua" "$BASE/x" | awk '{print $1}')"
  stop
  start ceiling-1048576
  add read-1mb ceiling "$(wrk_run 16 "$HERE/read.lua" "$BASE/x" | awk '{printf "%.2f", $1 * $2 / 1e9}')"
  stop
  start ceiling-1000
  add read-tail ceiling "$(wrk_run 16 "$HERE/read.lua" "$BASE/x" | awk '{print $1}')"
  stop
  start ceiling-100
  local requests
  requests=$(wrk_run "$FANOUT_SUBSCRIBERS" "$HERE/read.lua" "$BASE/x" | awk '{print $1}')
  stop
  start ceiling-park
  line=$(fanout long-poll /s) # bench-hello --park keeps one message log: one run per start
  echo "  ceiling long-poll (h2o alone): $line" >>"$OUT/fanout.log"
  stop
  add long-poll-fanout ceiling "$(field rate_per_sub "$line")/$(field p99_ms "$line")/$(field server_cpu_pct "$line")/$requests"
  line=$("$BUILD_DIR/bench-loopback-probe" --connections "$FANOUT_SUBSCRIBERS" --rate "$FANOUT_RATE" \
    --duration "$DURATION" --writer-cpu "${SERVER_CPU[2]:--1}" --reader-cpu "${LOAD_CPU[2]:--1}")
  echo "  ceiling probe: $line" >>"$OUT/fanout.log"
  add sse-fanout ceiling "$(field writer_cpu_pct "$line")"
  line=$("$BUILD_DIR/bench-loopback-probe" --connections "$IDLE_SUBSCRIBERS" --rate 2 --duration 3 \
    --writer-cpu "${SERVER_CPU[2]:--1}" --reader-cpu "${LOAD_CPU[2]:--1}")
  echo "  idle probe: $line" >>"$OUT/fanout.log"
  local floor
  floor=$(python3 "$HERE/idle_probe.py" "$BUILD_DIR" "$IDLE_SUBSCRIBERS" 2>>"$OUT/fanout.err" |
    sed -n 's/^| h2o alone[^|]*| \([0-9.]*\) |$/\1/p')
  echo "  h2o floor: ${floor:-?} KB per idle SSE reader" >>"$OUT/fanout.log"
  add idle-sse ceiling "$(field round_ms_mean "$line")/${floor:-?}"
}

for round in $(seq "$ROUNDS"); do
  for s in $SERVERS; do
    echo "compare: round $round: $s" >&2
    if [ "$s" = ceiling ]; then run_ceiling; continue; fi
    start "$s"
    run_streams "$s"
    stop
    start "$s"
    run_idle "$s"
    stop
  done
done

# ---- the table: medians over rounds (fan-out cells: rate/p99/cpu, median by rate) -------------
median() { tr ' ' '\n' <<<"$1" | grep . | sort -t/ -k1,1g | awk '{a[NR] = $0} END {print a[int((NR + 1) / 2)]}'; }
cell() { # scenario server
  local v
  v=$(median "${R[$1.$2]:-}")
  [ -n "$v" ] || { echo "—"; return; }
  case $1 in
    append-*|read-tail) printf "%.1fk/s" "$(awk -v x="$v" 'BEGIN {print x / 1000}')" ;;
    read-1mb) printf "%s GB/s" "$v" ;;
    sse-fanout) [ "$2" = ceiling ] && { printf "the kernel alone: CPU %s %%" "$v"; return; }
      IFS=/ read -r rate p99 cpu dups <<<"$v"
      printf "%s msg/s, p99 %s ms, CPU %s %%%s" "$rate" "$p99" "$cpu" "$([ "$dups" = 00 ] || echo ", LOST/DUP $dups")" ;;
    long-poll-fanout) [ "$2" = ceiling ] && { IFS=/ read -r rate p99 cpu requests <<<"$v"
        printf "h2o alone: %s msg/s, p99 %s ms, CPU %s %%; %.1fk req/s at 100 %% CPU" "$rate" "$p99" "$cpu" \
          "$(awk -v x="$requests" 'BEGIN {print x / 1000}')"; return; }
      IFS=/ read -r rate p99 cpu dups <<<"$v"
      printf "%s msg/s, p99 %s ms, CPU %s %%%s" "$rate" "$p99" "$cpu" "$([ "$dups" = 00 ] || echo ", LOST/DUP $dups")" ;;
    idle-sse) [ "$2" = ceiling ] && { IFS=/ read -r ms kb <<<"$v"
        printf "h2o alone: %s KB each; the kernel alone: %s ms to write to all" "$kb" "$ms"; return; }
      IFS=/ read -r kb p99 <<<"$v"; printf "%s KB each, p99 %s ms" "$kb" "$p99" ;;
  esac
}
ratio() { # scenario server base
  local a b
  a=$(median "${R[$1.$2]:-}") b=$(median "${R[$1.$3]:-}")
  [ -n "$a" ] && [ -n "$b" ] || return 0
  awk -v a="${a%%/*}" -v b="${b%%/*}" 'BEGIN { if (b > 0) printf " (%.2f×)", a / b }'
}
{
  echo "median of $ROUNDS rounds, ${DURATION} s each; server on CPU 0, load on CPU 1; fan-out: $FANOUT_SUBSCRIBERS subscribers, writer asks $FANOUT_RATE msg/s; idle: $IDLE_SUBSCRIBERS SSE connections"
  echo
  echo "| scenario | Streamsy memory | Streamsy SQLite | Node reference (memory) | trivial C responder (ceiling) |"
  echo "|---|---|---|---|---|"
  for sc in append-1 append-many read-1mb read-tail sse-fanout long-poll-fanout idle-sse; do
    r=$(case $sc in *-fanout | idle-sse) ;; *) ratio $sc memory ceiling ;; esac)
    echo "| $sc | $(cell $sc memory)$r | $(cell $sc sqlite) | $(cell $sc node) | $(cell $sc ceiling) |"
  done
  echo
  echo "Streamsy memory / Node reference:$(for sc in append-1 append-many read-1mb read-tail; do echo -n " $sc$(ratio $sc memory node)"; done)"
} | tee "$OUT/table.md"
for k in "${!R[@]}"; do echo "$k: ${R[$k]}"; done | sort >"$OUT/rounds.txt" # every round's value
echo "compare: results in $OUT" >&2
