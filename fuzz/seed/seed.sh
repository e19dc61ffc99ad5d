#!/usr/bin/env bash
# Seeds fuzz/corpus from the official conformance suite's traffic: runs the
# suite through a recording proxy (record-proxy.mjs) in front of a memory
# server, then keeps, per target, the inputs that add coverage (libFuzzer
# -merge=1 into fuzz/corpus/<name>):
#   handler   every request, as sent
#   json      the bodies of JSON requests
#   headers   the values of offsets, producer, TTL and expiry headers and queries
# The schema and state corpora are seeded from the test suites' schemas and
# messages by hand (see fuzz/README.md). Run after `fuzz/run.sh` has built
# build-fuzz/. Takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
RAW=$BUILD/seed
rm -rf "$RAW"
mkdir -p "$RAW/handler" "$RAW/json" "$RAW/headers"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
server_port=$(free_port)
proxy_port=$(free_port)
build/streamsy serve --listen 127.0.0.1:"$server_port" --storage memory --long-poll-timeout-ms 2000 --quiet &
server=$!
node fuzz/seed/record-proxy.mjs "$proxy_port" "$server_port" "$RAW/handler" &
proxy=$!
trap 'kill $server $proxy 2>/dev/null || true' EXIT
sleep 1
tests/conformance/run.sh "http://127.0.0.1:$proxy_port" >"$BUILD/seed-conformance.log" 2>&1 || true
tail -1 "$BUILD/seed-conformance.log"

# Derived seeds: JSON bodies, and header/query values with the parser byte
# fuzz_headers.c expects (0 offset, 1 producer int, 2 strict int, 3 timestamp, 4 path, 6 query).
python3 - "$RAW" <<'PY'
import os, sys, hashlib, urllib.parse
raw = sys.argv[1]
def put(kind, data):
    open(os.path.join(raw, kind, hashlib.sha1(data).hexdigest()), "wb").write(data)
for name in os.listdir(os.path.join(raw, "handler")):
    data = open(os.path.join(raw, "handler", name), "rb").read()
    head, _, body = data.partition(b"\n\n")
    lines = head.split(b"\n")
    method, _, target = lines[0].partition(b" ")
    headers = dict((l.split(b": ", 1) + [b""])[:2] for l in lines[1:])
    ctype = headers.get(b"Content-Type", b"").lower()
    if body and b"json" in ctype:
        put("json", body)
    path, _, query = target.partition(b"?")
    put("headers", b"\x04" + path.split(b"/v1/stream/", 1)[-1])
    if query:
        put("headers", b"\x06" + query)
        for k, v in urllib.parse.parse_qsl(query.decode(errors="replace")):
            if k == "offset":
                put("headers", b"\x00" + v.encode())
    for k, tag in ((b"Producer-Epoch", 1), (b"Producer-Seq", 1), (b"Stream-TTL", 2), (b"Stream-Expires-At", 3),
                   (b"Stream-Expected-Offset", 0), (b"Stream-Fork-Offset", 0)):
        if k in headers:
            put("headers", bytes([tag]) + headers[k])
PY

for name in handler json headers; do
  before=$(ls "$ROOT/fuzz/corpus/$name" | wc -l)
  "$BUILD/fuzz/fuzz_$name" -merge=1 "$ROOT/fuzz/corpus/$name" "$RAW/$name" >/dev/null 2>&1
  echo "$name: $(ls "$RAW/$name" | wc -l) recorded, corpus $before -> $(ls "$ROOT/fuzz/corpus/$name" | wc -l)"
done
