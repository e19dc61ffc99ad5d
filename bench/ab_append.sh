#!/usr/bin/env bash
# A/B append throughput of two streamsy binaries in one run: the same wrk
# load (bench/append.lua, 100-byte POSTs to one stream) against each binary
# in turn, ROUNDS times, on memory and on SQLite. Prints every round, the
# median req/s per binary and storage, and the median of the rounds' B/A
# ratios (each round runs A and B back to back, so the paired ratio cancels
# most of the machine's drift).
#
#   bench/ab_append.sh OLD_BINARY NEW_BINARY [ROUNDS (default 3)]
#   WRK_THREADS=2 WRK_CONNECTIONS=64 WRK_DURATION=10 (seconds)
set -euo pipefail
A=$1 B=$2 ROUNDS=${3:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
THREADS=${WRK_THREADS:-2} CONNS=${WRK_CONNECTIONS:-64} DURATION=${WRK_DURATION:-10}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

one() { # binary storage -> req/s
  local bin=$1 storage=$2 p pid rps
  p=$(port)
  rm -f "$TMP"/db*
  "$bin" serve --listen 127.0.0.1:"$p" --storage "$storage" --quiet >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$p/healthz" && break; sleep 0.05; done
  curl -s -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' "http://127.0.0.1:$p/v1/stream/bench-append"
  rps=$(BENCH_DIR="$HERE" wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" -s "$HERE/append.lua" \
    "http://127.0.0.1:$p/v1/stream/bench-append" | awk '/Requests\/sec/ {print int($2)}')
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$rps"
}

declare -A runs
for storage in memory "sqlite:$TMP/db"; do
  label=${storage%%:*}
  for r in $(seq "$ROUNDS"); do
    for side in A B; do
      bin=$A; [[ $side == B ]] && bin=$B
      v=$(one "$bin" "$storage")
      runs[$label.$side]+="$v "
      echo "round $r $label $side: $v req/s"
    done
  done
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '\n%-8s %12s %12s %14s\n' storage "A req/s" "B req/s" "B/A (paired)"
for label in memory sqlite; do
  a=$(median "${runs[$label.A]}") b=$(median "${runs[$label.B]}")
  ratios=$(paste -d' ' <(tr ' ' '\n' <<<"${runs[$label.A]}" | grep .) <(tr ' ' '\n' <<<"${runs[$label.B]}" | grep .) |
    awk '{printf "%.4f ", $2 / $1}')
  printf '%-8s %12s %12s %14s\n' "$label" "$a" "$b" "$(median "$ratios")"
done
