#!/usr/bin/env bash
# Prices server-side enforcement (--config): appends of a ~1 KB JSON object
# to a stream bound to a JSON Schema vs. an unbound stream, same server, same
# run (memory storage, so the difference is the validation).
#   bench/enforce.sh        WRK_DURATION (10) WRK_CONNECTIONS (64) WRK_THREADS (2)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
# shellcheck source=scripts/server-lib.sh
. "$ROOT/scripts/server-lib.sh"
BIN="${STREAMSY_BIN:-$ROOT/build/streamsy}"
D="${WRK_DURATION:-10}" C="${WRK_CONNECTIONS:-64}" T="${WRK_THREADS:-2}"
LOG="$(mktemp "${TMPDIR:-/tmp}/streamsy-enforce.XXXXXX.log")"
server_start "$LOG" /v1/stream/x "$BIN" serve --listen 127.0.0.1:PORT --storage memory --quiet \
  --config "$HERE/enforce-config.json" || { echo "enforce: server did not start: $SERVER_ERROR" >&2; exit 1; }
trap 'kill -KILL "$SERVER_PID" 2>/dev/null || true' EXIT
BASE="http://127.0.0.1:$SERVER_PORT"
for s in plain/a enforced/a; do
  curl -s -o /dev/null --max-time 10 -X PUT -H 'Content-Type: application/json' "$BASE/v1/stream/$s"
done
declare -A RPS
for s in plain/a enforced/a; do
  out="$(env BENCH_DIR="$HERE" BENCH_STREAM_PATH="/v1/stream/$s" wrk -t"$T" -c"$C" -d"${D}s" -s "$HERE/append_json.lua" "$BASE/v1/stream/$s")"
  line="$(grep '^BENCH ' <<<"$out")"
  req="$(sed -E 's/.* requests=([0-9]+).*/\1/' <<<"$line")"; us="$(sed -E 's/.* duration_us=([0-9]+).*/\1/' <<<"$line")"
  err="$(sed -E 's/.* err_status=([0-9]+).*/\1/' <<<"$line")"
  RPS[$s]="$(awk -v n="$req" -v d="$us" 'BEGIN{printf "%.0f", n/(d/1e6)}')"
  printf '%-12s %8s req/s  (status errors: %s)\n' "$s" "${RPS[$s]}" "$err"
  [ "$err" = 0 ] || { echo "enforce: $s answered errors" >&2; exit 1; }
done
awk -v a="${RPS[plain/a]}" -v b="${RPS[enforced/a]}" 'BEGIN{printf "cost of enforcement: %.2fx the unvalidated append (per request time)\n", a/b}'
server_stop "$SERVER_PID"
