#!/usr/bin/env bash
# Runs Streamsy's Durable Object build in a local workerd, in the foreground:
# streams under /v1/stream/, one Durable Object each, stored in DIR.
#
#   scripts/workerd-serve.sh --listen HOST:PORT --state DIR [--long-poll-timeout-ms N]
#
#   --listen HOST:PORT         where to serve (default 127.0.0.1:8787)
#   --state DIR                the Durable Objects' storage (created; a restart on
#                              the same DIR keeps every stream and pending alarm)
#   --long-poll-timeout-ms N   long-poll and SSE wait (default 30000)
#
# Builds what is missing first (the module: make build) and installs the
# pinned workerd from npm (workerd/package-lock.json) the first time.
# Environment: BUILD (build directory, default build), STREAMSY_TEST_HOOKS=1
# (tests only: a request header that makes the module trap).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${BUILD:-build}"
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac

LISTEN=127.0.0.1:8787 STATE="" LONG_POLL=30000
usage() { awk 'NR>1 && /^#/ {sub(/^# ?/, ""); print; next} NR>1 {exit}' "$0"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --listen) LISTEN="${2:?--listen needs HOST:PORT}"; shift 2 ;;
    --state) STATE="${2:?--state needs a directory}"; shift 2 ;;
    --long-poll-timeout-ms) LONG_POLL="${2:?--long-poll-timeout-ms needs a number}"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "workerd-serve.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
done
[ -n "$STATE" ] || { echo "workerd-serve.sh: --state DIR is required (try --help)" >&2; exit 2; }
[[ "$LONG_POLL" =~ ^[1-9][0-9]*$ ]] || { echo "workerd-serve.sh: --long-poll-timeout-ms must be a positive number" >&2; exit 2; }
[[ "$LISTEN" =~ ^.+:[0-9]+$ ]] || { echo "workerd-serve.sh: --listen must be HOST:PORT" >&2; exit 2; }

WASM="$BUILD/wasm/streamsy-do.wasm"
if [ ! -f "$WASM" ]; then
  echo "workerd-serve.sh: building the module ($WASM)" >&2
  make -C "$ROOT" build BUILD="$BUILD" >&2
fi
WORKERD="$("$ROOT/workerd/deps.sh")"

mkdir -p "$STATE"
STATE="$(cd "$STATE" && pwd)"
# The config and its embedded files, beside each other (embed paths are relative).
RUN="$BUILD/workerd-run"
mkdir -p "$RUN"
cp "$ROOT/workerd/worker.js" "$WASM" "$RUN/"
CONFIG="$RUN/config-${LISTEN//[^0-9A-Za-z.]/_}.capnp" # one per address: servers side by side
sed -e "s|@STATE@|$STATE|" -e "s|@LISTEN@|$LISTEN|" -e "s|@LONG_POLL_TIMEOUT_MS@|$LONG_POLL|" \
    -e "s|@TEST_HOOKS@|${STREAMSY_TEST_HOOKS:-0}|" "$ROOT/workerd/config.capnp.in" >"$CONFIG"
echo "streamsy (Durable Object build) listening on http://$LISTEN/v1/stream (state $STATE, long-poll $LONG_POLL ms)"
# exec: signals reach workerd itself. On SIGTERM it stops accepting and waits
# for the requests in flight, SSE streams included (they end within 60 s).
exec "$WORKERD" serve "$CONFIG"
