#!/usr/bin/env bash
# Runs the official conformance suite against a fresh streamsy server:
#
#   tests/conformance/server-test.sh [SERVER_BINARY] [extra run.sh/vitest args...]
#
#   SERVER_BINARY  default build/streamsy (relative to the repository root)
#   extra args     passed to run.sh, e.g.  -t "SSE Mode"
#
# Starts `SERVER_BINARY serve --listen 127.0.0.1:PORT --storage memory
# --long-poll-timeout-ms 500` on a free loopback port, waits until it answers,
# runs run.sh against it, stops it with SIGTERM and checks how it ended.
# The last line of output is always the suite's "N passed, N failed, N skipped".
# Exit status is non-zero if a test failed, the suite did not run, the server
# crashed or did not exit 0 on SIGTERM, or its log holds a sanitizer report.
#
# Environment: STREAMSY_ARGS (extra server flags), KEEP_SERVER_LOG=1 (keep the
# log even on success), and everything run.sh reads (DS_CONF_*).
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=scripts/server-lib.sh
. "$ROOT/scripts/server-lib.sh"

BIN="${1:-$ROOT/build/streamsy}"
[ $# -gt 0 ] && shift

summary() { echo "0 passed, 0 failed, 0 skipped (suite did not run: $1)"; }

if [ ! -x "$BIN" ]; then
  echo "[server-test] server binary $BIN does not exist or is not executable (build it first: make)"
  summary "no server binary"
  exit 1
fi

LOG="$(mktemp "${TMPDIR:-/tmp}/streamsy-conformance.XXXXXX.log")"
# CONFORMANCE_STORAGE: memory (default), sqlite (a fresh database file) or
# durable-object (the wasm module in a local workerd, fresh state directory;
# scripts/workerd-serve.sh, with BUILD naming the build directory).
STORAGE=memory DB_DIR=""
case "${CONFORMANCE_STORAGE:-memory}" in
  memory) ;;
  sqlite) DB_DIR="$(mktemp -d "${TMPDIR:-/tmp}/streamsy-conformance-db.XXXXXX")"; STORAGE="sqlite:$DB_DIR/streams.db" ;;
  durable-object) DB_DIR="$(mktemp -d "${TMPDIR:-/tmp}/streamsy-conformance-do.XXXXXX")"; STORAGE="durable-object:$DB_DIR" ;;
  *) echo "[server-test] unknown CONFORMANCE_STORAGE '${CONFORMANCE_STORAGE}' (memory, sqlite or durable-object)"; summary "bad storage"; exit 1 ;;
esac
# Under ctest the suite's own cap must come before ctest's 900 s timeout, so
# that the summary still gets printed.
export DS_CONF_MAX_SECONDS="${DS_CONF_MAX_SECONDS:-780}"

if [ "${CONFORMANCE_STORAGE:-memory}" = durable-object ]; then
  SERVER_CMD=("$ROOT/scripts/workerd-serve.sh" --listen 127.0.0.1:PORT --state "$DB_DIR" --long-poll-timeout-ms 500)
else
  # shellcheck disable=SC2206 # STREAMSY_ARGS is a list of flags
  SERVER_CMD=("$BIN" serve --listen 127.0.0.1:PORT --storage "$STORAGE" --long-poll-timeout-ms 500 ${STREAMSY_ARGS:-})
fi
if ! server_start "$LOG" /v1/stream/x "${SERVER_CMD[@]}"; then
  echo "[server-test] $SERVER_ERROR"
  echo "[server-test] server log ($LOG), last lines:"
  tail -n 30 "$LOG" | sed 's/^/  /'
  summary "server did not start"
  exit 1
fi
trap 'kill -KILL "$SERVER_PID" 2>/dev/null' EXIT
echo "[server-test] $BIN (pid $SERVER_PID, storage $STORAGE) on http://127.0.0.1:$SERVER_PORT, log $LOG"

OUT="$(mktemp "${TMPDIR:-/tmp}/streamsy-conformance-run.XXXXXX")"
"$HERE/run.sh" "http://127.0.0.1:$SERVER_PORT" "$@" 2>&1 | tee "$OUT"
SUITE_RC=${PIPESTATUS[0]}
LINE="$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped' "$OUT" | tail -n 1)"
rm -f "$OUT"
[ -n "$LINE" ] || LINE="$(summary "run.sh printed no summary, exit $SUITE_RC")"

FAILED=0
[ "$SUITE_RC" -eq 0 ] || FAILED=1

if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  # it is gone before we stopped it: a crash (or an exit on its own)
  STATUS=0
  wait "$SERVER_PID" 2>/dev/null || STATUS=$?
  echo "[server-test] FAIL: the server died during the suite (exit status $STATUS$( [ "$STATUS" -gt 128 ] && echo ", signal $((STATUS - 128))"))"
  FAILED=1
else
  server_stop "$SERVER_PID"
  if [ "$SERVER_STATUS" != 0 ] && [ "${CONFORMANCE_STORAGE:-memory}" = durable-object ]; then
    # workerd drains SSE responses on SIGTERM for up to their lifetime and
    # exits by a signal: its exit is not ours to judge, its answers were.
    echo "[server-test] workerd ended with status $SERVER_STATUS after SIGTERM (not checked)"
  elif [ "$SERVER_STATUS" = hung ]; then
    echo "[server-test] FAIL: the server did not exit within 10 s of SIGTERM (killed)"
    FAILED=1
  elif [ "$SERVER_STATUS" -ne 0 ]; then
    echo "[server-test] FAIL: the server exited with status $SERVER_STATUS after SIGTERM (expected 0)"
    FAILED=1
  fi
fi
trap - EXIT

if REPORT="$(sanitizer_report "$LOG")"; then
  echo "[server-test] FAIL: sanitizer report in the server log:"
  echo "$REPORT" | sed 's/^/  /'
  FAILED=1
fi

if [ "$FAILED" -ne 0 ]; then
  echo "[server-test] server log kept at $LOG (last lines below)"
  tail -n 15 "$LOG" | sed 's/^/  /'
elif [ -n "${KEEP_SERVER_LOG:-}" ]; then
  echo "[server-test] server log kept at $LOG"
else
  rm -f "$LOG"
fi
echo "$LINE"
# `make test` prints this file after ctest, which hides a passing test's output.
[ -n "$DB_DIR" ] && rm -rf "$DB_DIR"
[ -n "${CONFORMANCE_SUMMARY_FILE:-}" ] && echo "conformance-${CONFORMANCE_STORAGE:-memory}: $LINE" > "$CONFORMANCE_SUMMARY_FILE"
exit "$FAILED"
