#!/usr/bin/env bash
# examples/subscriptions/worker.sh against a real server: the worker starts
# before any event exists, is woken by the first append under events/,
# claims, reads both streams, prints their messages and acks; the
# subscription's cursors then equal the tails.
#   tests/subs/example_test.sh build/streamsy
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
server=$1
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log=$(mktemp) out=$(mktemp)
"$server" serve --listen "127.0.0.1:$port" --storage memory --quiet 2>"$log" &
pid=$!
trap 'rc=$?; kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; [ $rc = 0 ] || cat "$log" >&2; rm -f "$log" "$out"' EXIT
for _ in $(seq 200); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.025
done
base="http://127.0.0.1:$port/v1/stream"
fail() { echo "FAIL: $*"; echo "--- worker output"; cat "$out"; exit 1; }

"$ROOT/examples/subscriptions/worker.sh" "$base" w1 --once 2>"$out" &
worker=$!
for _ in $(seq 200); do # until the worker has subscribed and found nothing to do
  grep -q "no claim (NO_PENDING_WORK)" "$out" && break
  sleep 0.025
done
grep -q "no claim (NO_PENDING_WORK)" "$out" || fail "the worker did not start"
curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/json' -d '{"order":1}' "$base/events/orders"
curl -fsS -o /dev/null -X PUT -H 'Content-Type: application/json' -d '{"user":"ada"}' "$base/events/users/new"
for _ in $(seq 400); do kill -0 $worker 2>/dev/null || break; sleep 0.025; done
kill -0 $worker 2>/dev/null && fail "the worker did not finish one wake within 10 s"
wait $worker || fail "the worker exited with $?"
grep -q 'events/orders: \[{"order":1}\]' "$out" || fail "the worker did not print events/orders"
sub=$(curl -fsS "$base/__ds/subscriptions/events-worker")
for s in events/orders events/users/new; do
  tail=$(curl -fsS -I "$base/$s" | tr -d '\r' | awk -F': ' 'tolower($1)=="stream-next-offset" {print $2}')
  acked=$(jq -r --arg s "$s" '.streams[] | select(.path == $s) | .acked_offset' <<<"$sub")
  if grep -q "$s: " "$out"; then
    [ "$acked" = "$tail" ] || fail "$s: acked $acked, tail $tail"
  else # created after the claim: left for the next wake, pending
    [ "$acked" = "-1" ] || fail "$s: not read but acked $acked"
  fi
done
echo "PASS: the worker was woken, read and acked"
