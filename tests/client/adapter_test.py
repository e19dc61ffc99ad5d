#!/usr/bin/env python3
"""build/streamsy-client-adapter (tools/client_adapter.c) driven through its
JSON-lines protocol against our own server: each command type, the result
shapes the official client conformance suite reads (status, offset, chunks,
upToDate, streamClosed, error codes), live reads over long-poll and SSE,
binary and JSON streams, the idempotent producer, dynamic headers and
parameters, validation. The suite itself runs from upstream (see
docs/client.md); these cases are our own and keep the adapter honest in
`make test`.

    tests/client/adapter_test.py build/streamsy build/streamsy-client-adapter
"""
import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time

SERVER, ADAPTER = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import checks  # noqa: E402
from checks import check, free_port  # noqa: E402


port = free_port()
srv = subprocess.Popen([SERVER, "serve", "--listen", f"127.0.0.1:{port}", "--storage", "memory", "--quiet",
                        "--long-poll-timeout-ms", "500"], stderr=subprocess.PIPE)
for _ in range(200):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        break
    except OSError:
        time.sleep(0.025)
adapter = subprocess.Popen([ADAPTER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def send(cmd):
    adapter.stdin.write((json.dumps(cmd) + "\n").encode())
    adapter.stdin.flush()
    line = adapter.stdout.readline()
    check(line.endswith(b"\n") and all(b < 0x80 for b in line), "one ASCII line per result: %r" % line)
    return json.loads(line)


def post(path, body, ctype="text/plain"):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
              f"Connection: close\r\n\r\n".encode() + body)
    s.recv(4096)
    s.close()


r = send({"type": "init", "serverUrl": f"http://127.0.0.1:{port}"})
check(r["success"] and r["features"]["sse"] and r["features"]["longPoll"], "init reports its features: %r" % r)

# lifecycle and errors
r = send({"type": "create", "path": "/v1/stream/t", "contentType": "text/plain"})
check(r["success"] and r["status"] == 201 and r["offset"], "create: %r" % r)
r = send({"type": "create", "path": "/v1/stream/t", "contentType": "application/json"})
check(not r["success"] and r["errorCode"] == "CONFLICT" and r["status"] == 409, "create conflict: %r" % r)
r = send({"type": "append", "path": "/v1/stream/t", "data": "hello ", "binary": False})
check(r["success"] and r["status"] == 200 and r["offset"], "append: %r" % r)
first = r["offset"]
r = send({"type": "append", "path": "/v1/stream/t", "data": "", "binary": False})
check(not r["success"] and r["status"] == 400, "an empty append is the server's 400: %r" % r)
r = send({"type": "append", "path": "/v1/stream/t", "data": "world", "binary": False, "seq": 5})
r = send({"type": "append", "path": "/v1/stream/t", "data": "again", "binary": False, "seq": 4})
check(not r["success"] and r["errorCode"] == "SEQUENCE_CONFLICT", "a Stream-Seq regression: %r" % r)
r = send({"type": "read", "path": "/v1/stream/t"})
check(r["success"] and "".join(c["data"] for c in r["chunks"]) == "hello world" and r["upToDate"] is True
      and r["streamClosed"] is False, "catch-up read: %r" % r)
r = send({"type": "read", "path": "/v1/stream/t", "offset": first})
check("".join(c["data"] for c in r["chunks"]) == "world", "read from an offset: %r" % r)
r = send({"type": "read", "path": "/v1/stream/t", "offset": "bogus"})
check(not r["success"] and r["errorCode"] == "INVALID_OFFSET" and r["status"] == 400, "bad offset: %r" % r)
for cmd in ("head", "connect", "delete"):
    r = send({"type": cmd, "path": "/v1/stream/none"})
    check(not r["success"] and r["errorCode"] == "NOT_FOUND" and r["status"] == 404 and "/v1/stream/none" in
          r["message"], "%s of a missing stream: %r" % (cmd, r))
r = send({"type": "read", "path": "/v1/stream/none", "live": "sse", "offset": "now"})
check(not r["success"] and r["errorCode"] == "NOT_FOUND", "SSE read of a missing stream: %r" % r)
r = send({"type": "head", "path": "/v1/stream/t"})
check(r["success"] and r["contentType"] == "text/plain" and r["streamClosed"] is False, "head: %r" % r)

# live reads: long-poll waits for the next append; SSE gets it too
def later(path, body, delay=0.3):
    t = threading.Timer(delay, post, (path, body))
    t.start()
    return t

t = later("/v1/stream/t", b"!")
r = send({"type": "read", "path": "/v1/stream/t", "offset": "now", "live": "long-poll", "maxChunks": 1,
          "timeoutMs": 5000})
t.join()
check(r["success"] and [c["data"] for c in r["chunks"]] == ["!"], "long-poll woke with the append: %r" % r)
t = later("/v1/stream/t", b"?")
r = send({"type": "read", "path": "/v1/stream/t", "offset": "now", "live": "sse", "maxChunks": 1, "timeoutMs": 5000})
t.join()
check(r["success"] and [c["data"] for c in r["chunks"]] == ["?"], "SSE delivered the append: %r" % r)
r = send({"type": "read", "path": "/v1/stream/t", "offset": "now", "live": "long-poll", "timeoutMs": 800})
check(r["success"] and r["chunks"] == [] and r["upToDate"] is True, "a live read that times out: %r" % r)

# binary stream: base64 in, bytes out of SSE (decoded), closed stream ends the read
blob = bytes(range(32, 127)) + b"\r\n"
r = send({"type": "create", "path": "/v1/stream/b", "contentType": "application/octet-stream"})
r = send({"type": "append", "path": "/v1/stream/b", "data": base64.b64encode(blob).decode(), "binary": True})
check(r["success"], "binary append: %r" % r)
r = send({"type": "close", "path": "/v1/stream/b"})
check(r["success"] and r["finalOffset"], "close: %r" % r)
r = send({"type": "read", "path": "/v1/stream/b", "live": "sse", "timeoutMs": 5000})
check(r["success"] and r["streamClosed"] is True and "".join(c["data"] for c in r["chunks"]) == blob.decode(),
      "binary over SSE: %r" % r)
r = send({"type": "append", "path": "/v1/stream/b", "data": "eA==", "binary": True})
check(not r["success"] and r["errorCode"] == "STREAM_CLOSED", "append to a closed stream: %r" % r)

# JSON stream: values wrapped on append, arrays merged on SSE
r = send({"type": "create", "path": "/v1/stream/j", "contentType": "application/json"})
send({"type": "append", "path": "/v1/stream/j", "data": '{"a":1}', "binary": False})
send({"type": "append", "path": "/v1/stream/j", "data": '{"b":2}', "binary": False})
r = send({"type": "read", "path": "/v1/stream/j", "live": "sse", "waitForUpToDate": True})
data = json.loads("".join(c["data"] for c in r["chunks"]))
check(data == [{"a": 1}, {"b": 2}], "JSON values, one array: %r" % r)

# the idempotent producer: append then close share one producer (seq 0, then 1)
r = send({"type": "create", "path": "/v1/stream/p", "contentType": "text/plain"})
p = {"path": "/v1/stream/p", "producerId": "w", "epoch": 0, "autoClaim": False}
r = send(dict(p, type="idempotent-append", data="a"))
check(r["success"] and r["status"] == 200, "idempotent append: %r" % r)
r = send(dict(p, type="idempotent-close", data="b"))
r2 = send(dict(p, type="idempotent-close", data="X"))
check(r["success"] and r2 == r, "a second close answers as the first: %r %r" % (r, r2))
r = send({"type": "read", "path": "/v1/stream/p"})
check("".join(c["data"] for c in r["chunks"]) == "ab" and r["streamClosed"], "each write once, closed: %r" % r)
check(send(dict(p, type="idempotent-detach"))["success"], "detach")
# a batch is one request (seq 0 of its epoch); the same batch again is a duplicate
r = send({"type": "create", "path": "/v1/stream/q", "contentType": "application/json"})
q = {"path": "/v1/stream/q", "producerId": "w", "epoch": 1, "autoClaim": False}
r = send(dict(q, type="idempotent-append-batch", items=['{"n":1}', '{"n":2}']))
check(r["success"], "batch: %r" % r)
r = send(dict(q, type="idempotent-append-batch", items=['{"n":1}', '{"n":2}']))
check(r["success"], "the same batch again is a duplicate, not an error: %r" % r)
r = send(dict(q, type="idempotent-append-batch", items=['{"n":3}'], epoch=0, autoClaim=True))
check(r["success"], "auto-claim past the newer epoch: %r" % r)
r = send({"type": "read", "path": "/v1/stream/q"})
check(json.loads("".join(c["data"] for c in r["chunks"])) == [{"n": 1}, {"n": 2}, {"n": 3}],
      "each batch once: %r" % r)

# dynamic headers and parameters, evaluated once per command
send({"type": "set-dynamic-header", "name": "X-Token", "valueType": "token", "initialValue": "t1"})
send({"type": "set-dynamic-param", "name": "rid", "valueType": "counter"})
r = send({"type": "read", "path": "/v1/stream/t"})
check(r["headersSent"] == {"X-Token": "t1"} and r["paramsSent"] == {"rid": "1"}, "dynamic values: %r" % r)
r = send({"type": "append", "path": "/v1/stream/t", "data": "~", "binary": False})
check(r["paramsSent"] == {"rid": "2"}, "a counter per command: %r" % r)
check(send({"type": "clear-dynamic"})["success"], "clear-dynamic")
r = send({"type": "read", "path": "/v1/stream/t"})
check("headersSent" not in r and "paramsSent" not in r, "none after clear: %r" % r)

# the runner's benchmark operations
for op in ({"op": "create", "path": "/v1/stream/bench"}, {"op": "append", "path": "/v1/stream/bench", "size": 100},
           {"op": "read", "path": "/v1/stream/bench"},
           {"op": "roundtrip", "path": "/v1/stream/rt-sse", "size": 10, "live": "sse",
            "contentType": "application/json"},
           {"op": "roundtrip", "path": "/v1/stream/rt-lp", "size": 10, "live": "long-poll"},
           {"op": "throughput_append", "path": "/v1/stream/bench", "count": 1000, "size": 100}):
    r = send({"type": "benchmark", "iterationId": "i1", "operation": op})
    check(r["success"] and r["iterationId"] == "i1" and int(r["durationNs"]) > 0, "benchmark %r: %r" % (op, r))
r = send({"type": "read", "path": "/v1/stream/bench"})
check(sum(len(c["data"]) for c in r["chunks"]) == 100 + 1000 * 100, "the benchmark's appends landed: %r" % r["offset"])
r = send({"type": "benchmark", "iterationId": "i2", "operation": {"op": "warp", "path": "/x"}})
check(not r["success"] and r["errorCode"] == "NOT_SUPPORTED", "an unknown benchmark: %r" % r)

# validation and the unknown
bad = [({"target": "retry-options", "maxRetries": -1}, "maxRetries"),
       ({"target": "retry-options", "initialDelayMs": 0}, "initialDelayMs"),
       ({"target": "retry-options", "initialDelayMs": 1000, "maxDelayMs": 500}, "maxDelayMs"),
       ({"target": "retry-options", "multiplier": 0.5}, "multiplier"),
       ({"target": "idempotent-producer", "epoch": -1}, "epoch"),
       ({"target": "idempotent-producer", "maxBatchBytes": 0}, "maxBatchBytes"),
       ({"target": "idempotent-producer", "maxBatchItems": -3}, "maxBatchItems")]
for target, field in bad:
    r = send({"type": "validate", "target": target})
    check(not r["success"] and r["errorCode"] == "INVALID_ARGUMENT" and field in r["message"], "%r" % r)
r = send({"type": "validate", "target": {"target": "retry-options", "maxRetries": 3, "initialDelayMs": 100,
                                         "maxDelayMs": 5000, "multiplier": 2}})
check(r["success"], "valid retry options")
r = send({"type": "teleport"})
check(not r["success"] and r["errorCode"] == "NOT_SUPPORTED", "unknown command: %r" % r)
adapter.stdin.write(b"{not json\n")
adapter.stdin.flush()
r = json.loads(adapter.stdout.readline())
check(not r["success"] and r["errorCode"] == "PARSE_ERROR", "a line that is not JSON: %r" % r)

check(send({"type": "shutdown"})["success"], "shutdown")
adapter.wait(timeout=10)
err = adapter.stderr.read().decode()
check(adapter.returncode == 0, "the adapter exits 0 after shutdown")
check("Sanitizer" not in err and "runtime error" not in err, "adapter sanitizer report:\n" + err)
srv.terminate()
srv.wait(timeout=10)
err = srv.stderr.read().decode()
check("Sanitizer" not in err and "runtime error" not in err, "server sanitizer report:\n" + err)
print(f"client adapter: {checks.count} checks passed")
