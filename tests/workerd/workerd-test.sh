#!/usr/bin/env bash
# The Durable Object build in a real local workerd (scripts/workerd-serve.sh),
# for what the conformance suite cannot see:
#
#   1. kill -9 and restart on the same state directory: every acknowledged
#      stream, message and producer state is still there, and a TTL deadline
#      that passed while workerd was down expires by its alarm, unasked;
#   2. a trap in the module: the instance is replaced, stored data is intact,
#      and a long-poll parked in the dead instance is answered by the new one;
#   3. the platform's per-row limit: a body over it is a clear 413, one just
#      under it is stored and read back whole; a fork whose inherited chain is
#      over the copy limit is a clear 413 and leaves no edge behind;
#   4. one canonical stream id: percent-encoded spellings of one stream reach
#      one object, and the reserved prefix cannot be reached by escaping it.
#
# Environment: BUILD (build directory, default build). Needs curl, sqlite3.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=scripts/server-lib.sh
. "$ROOT/scripts/server-lib.sh"

STATE="$(mktemp -d "${TMPDIR:-/tmp}/streamsy-workerd-test.XXXXXX")"
LOG="$STATE.log"
PASS=0 FAIL=0
ok() { echo "ok   $1"; PASS=$((PASS + 1)); }
bad() { echo "FAIL $1"; FAIL=$((FAIL + 1)); }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

start() {
  STREAMSY_TEST_HOOKS=1 server_start "$LOG" /v1/stream/x "$ROOT/scripts/workerd-serve.sh" \
    --listen 127.0.0.1:PORT --state "$STATE" --long-poll-timeout-ms 3000 ||
    { echo "workerd did not start: $SERVER_ERROR"; tail -20 "$LOG"; exit 1; }
  B="http://127.0.0.1:$SERVER_PORT/v1/stream"
}
kill9() { kill -KILL "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; }
cleanup() { kill -KILL "$SERVER_PID" 2>/dev/null; rm -rf "$STATE"; [ "${KEEP_LOG:-}" ] || rm -f "$LOG"; }
trap cleanup EXIT

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
body() { curl -s "$@"; }
# Rows of stream $1 in every object's database (the DO files are named by id hash).
rows_of() {
  local n=0 f c
  for f in "$STATE"/streamsy-StreamDO/*.sqlite; do
    [ -f "$f" ] || continue
    c="$(sqlite3 -readonly "$f" "SELECT count(*) FROM streamsy_streams WHERE stream_id = '$1'" 2>/dev/null || echo 0)"
    n=$((n + c))
  done
  echo "$n"
}

# ---- 1. restart -------------------------------------------------------------------------------
start
code -X PUT -H 'Content-Type: text/plain' "$B/keep" >/dev/null
P=(-H 'Content-Type: text/plain' -H 'Producer-Id: p1' -H 'Producer-Epoch: 0')
c1="$(code -X POST "${P[@]}" -H 'Producer-Seq: 0' --data-binary 'one ' "$B/keep")"
c2="$(code -X POST "${P[@]}" -H 'Producer-Seq: 1' --data-binary 'two' "$B/keep")"
check "producer appends acknowledged ($c1 $c2)" '[ "$c1" = 200 ] && [ "$c2" = 200 ]'
code -X PUT -H 'Content-Type: text/plain' -H 'Stream-TTL: 2' "$B/short" >/dev/null
check "the TTL stream is stored before the restart" '[ "$(rows_of short)" = 1 ]'
kill9
sleep 4 # the TTL deadline passes while workerd is down
start
for _ in $(seq 50); do [ "$(rows_of short)" = 0 ] && break; sleep 0.2; done
check "the overdue alarm fired after the restart and expired the stream unasked" '[ "$(rows_of short)" = 0 ]'
check "messages survive kill -9" '[ "$(body "$B/keep?offset=-1")" = "one two" ]'
d="$(code -X POST "${P[@]}" -H 'Producer-Seq: 1' --data-binary 'two' "$B/keep")"
n="$(code -X POST "${P[@]}" -H 'Producer-Seq: 2' --data-binary '!' "$B/keep")"
check "producer state survives: a resent seq is a duplicate ($d), the next one lands ($n)" '[ "$d" = 204 ] && [ "$n" = 200 ]'
check "the stream reads whole" '[ "$(body "$B/keep?offset=-1")" = "one two!" ]'
check "the expired stream answers 404" '[ "$(code "$B/short")" = 404 ]'

# ---- 2. a trap --------------------------------------------------------------------------------
code -X PUT -H 'Content-Type: text/plain' --data-binary 'before' "$B/trap" >/dev/null
tail_offset="$(curl -s -D - -o /dev/null "$B/trap?offset=-1" | tr -d '\r' | awk -F': ' 'tolower($1) == "stream-next-offset" {print $2}')"
curl -s -o "$STATE/lp.out" -w '%{http_code}' "$B/trap?offset=$tail_offset&live=long-poll" >"$STATE/lp.code" &
LP=$!
sleep 0.5
check "the trap request is answered" '[ "$(code -H "Streamsy-Test-Trap: 1" "$B/trap")" = 500 ]'
check "after the trap a new instance answers with the stored data" '[ "$(body "$B/trap?offset=-1")" = before ]'
code -X POST -H 'Content-Type: text/plain' --data-binary 'after' "$B/trap" >/dev/null
wait "$LP"
check "the long-poll parked in the dead instance got the append ($(cat "$STATE/lp.code"))" \
  '[ "$(cat "$STATE/lp.code")" = 200 ] && [ "$(cat "$STATE/lp.out")" = after ]'

# ---- 3. the row limit -------------------------------------------------------------------------
code -X PUT -H 'Content-Type: application/octet-stream' "$B/big" >/dev/null
head -c 1900001 /dev/zero >"$STATE/over"
head -c 1900000 /dev/urandom >"$STATE/under"
check "a body over 1,900,000 bytes is 413" \
  '[ "$(code -X POST -H "Content-Type: application/octet-stream" --data-binary @"$STATE/over" "$B/big")" = 413 ]'
# (with Node's fetch, as the conformance suite: it reports a connection closed
# under a body still being sent as "fetch failed", where curl shows the 413)
check "a 10 MiB body, ten times over, is always read to its 413 (never a reset connection)" \
  'node -e "(async () => { for (let i = 0; i < 10; i++) { const r = await fetch(process.argv[1], { method: \"POST\",
     headers: { \"Content-Type\": \"application/octet-stream\" }, body: new Uint8Array(10 << 20) });
     if (r.status !== 413) process.exit(1); } })().catch((e) => { console.error(String(e.cause ?? e)); process.exit(1); })" "$B/big"'
check "a body of 1,900,000 bytes is stored" \
  '[ "$(code -X POST -H "Content-Type: application/octet-stream" --data-binary @"$STATE/under" "$B/big")" = 204 ]'
curl -s -o "$STATE/back" "$B/big?offset=-1"
check "and reads back byte for byte" 'cmp -s "$STATE/under" "$STATE/back"'

for _ in $(seq 8); do # 1 + 8 bodies of 1.9 MB: over the 16 MiB a fork may copy
  curl -s -o /dev/null -X POST -H "Content-Type: application/octet-stream" --data-binary @"$STATE/under" "$B/big"
done
check "a fork of a source over 16 MiB is 413" \
  '[ "$(code -X PUT -H "Stream-Forked-From: /v1/stream/big" "$B/big-fork")" = 413 ]'
check "the refused fork recorded no dependent: the source is purged at once (404, not 410)" \
  '[ "$(code -X DELETE "$B/big")" = 204 ] && [ "$(code "$B/big")" = 404 ]'

# ---- 4. one canonical id ------------------------------------------------------------------------
code -X PUT -H 'Content-Type: text/plain' "$B/a%2Fb" >/dev/null
c="$(code -X POST -H 'Content-Type: text/plain' --data-binary 'one' "$B/a/b")"
check "a%2Fb and a/b are one stream, in one object ($c)" '[ "$c" = 204 ] && [ "$(body "$B/a%2fb?offset=-1")" = one ]'
check "%5F%5Fds is the reserved prefix too" '[ "$(code -X PUT -H "Content-Type: text/plain" "$B/%5F%5Fds/x")" = 404 ]'
check "%00 in a stream id is refused" '[ "$(code -X PUT -H "Content-Type: text/plain" "$B/a%00b")" = 400 ]'

check "workerd logged no uncaught exception" '! grep -qi "uncaught" "$LOG"'
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
