#!/usr/bin/env bash
# with-server.sh STREAMSY PROGRAM: starts `STREAMSY serve` (memory) on a free
# loopback port, runs PROGRAM with a fresh stream URL on it, stops the server,
# and exits with PROGRAM's status (the server's sanitizer reports included).
set -euo pipefail
server=$1 program=$2
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log=$(mktemp)
"$server" serve --listen "127.0.0.1:$port" --storage memory --quiet 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; cat "$log" >&2; rm -f "$log"' EXIT
for _ in $(seq 200); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.025
done
"$program" "http://127.0.0.1:$port/v1/stream/example-$RANDOM"
