#!/usr/bin/env python3
"""Prices subscriptions (docs/subscriptions.md) on one server (memory
storage unless STREAMSY_STORAGE says otherwise):

  1. the append path: wrk appends of 100 bytes to one stream with no
     subscription, with 1,000 subscriptions whose globs do not match, and
     with one subscription that links the stream and is busy (claimed), so
     every append runs the trigger;
  2. wake latency: append -> webhook request at the receiver (the receiver
     answers {"done":true}, so every append is a fresh wake), and append ->
     pull-wake event seen by a long-poll on the wake stream.

    bench/subscriptions.py [build/streamsy]   WRK_DURATION (10) WRK_CONNECTIONS (64) WRK_THREADS (2) ROUNDS (200)

Absolute numbers on a shared machine move by 1.5x: compare the rows of one run."""
import http.client
import http.server
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time

from loopback import free_port, wait_port

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "build", "streamsy"))
D, C, T = os.environ.get("WRK_DURATION", "10"), os.environ.get("WRK_CONNECTIONS", "64"), os.environ.get("WRK_THREADS", "2")
ROUNDS = int(os.environ.get("ROUNDS", "200"))


port = free_port()
server = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{port}", "--storage",
                           os.environ.get("STREAMSY_STORAGE", "memory"), "--quiet", "--webhooks",
                           "--log-level", "error"], stdout=subprocess.DEVNULL)
wait_port(port)
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)


def req(method, path, body=None, headers=None):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    conn.request(method, "/v1/stream/" + path, body=body if isinstance(body, (bytes, type(None))) else
                 json.dumps(body).encode(), headers=h)
    r = conn.getresponse()
    raw = r.read()
    return r.status, (json.loads(raw) if raw and r.getheader("Content-Type", "").startswith("application/json")
                      else raw), r


def wrk_append(stream):
    req("PUT", stream, b"", {"Content-Type": "application/octet-stream"})
    out = subprocess.run(["wrk", f"-t{T}", f"-c{C}", f"-d{D}s", "-s", os.path.join(HERE, "append.lua"),
                          f"http://127.0.0.1:{port}/v1/stream/{stream}"], capture_output=True, text=True,
                         env=dict(os.environ, BENCH_DIR=HERE, BENCH_STREAM_PATH="/v1/stream/" + stream)).stdout
    m = re.search(r"^BENCH .*requests=(\d+).*duration_us=(\d+).*err_status=(\d+)", out, re.M)
    n, us, err = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if err:
        sys.exit(f"bench: {stream}: {err} error answers")
    return n / (us / 1e6)


rows = []
rows.append(("append, no subscription", wrk_append("plain/a")))
for i in range(1000):
    req("PUT", f"__ds/subscriptions/other-{i}", {"type": "pull-wake", "pattern": f"other-{i}/*", "wake_stream": "w"})
rows.append(("append, 1,000 subscriptions not matching", wrk_append("plain/b")))
for i in range(1000):
    req("DELETE", f"__ds/subscriptions/other-{i}")
req("PUT", "wake/busy", b"[]")
req("PUT", "__ds/subscriptions/busy", {"type": "pull-wake", "pattern": "hot/*", "wake_stream": "wake/busy",
                                      "lease_ttl_ms": 600000})
req("PUT", "hot/a", b"x", {"Content-Type": "application/octet-stream"})
st, claim, _ = req("POST", "__ds/subscriptions/busy/claim", {"worker": "bench"})
assert st == 200, claim
rows.append(("append, 1 subscription linking it (claimed)", wrk_append("hot/a")))
base = rows[0][1]
print(f"{'scenario':48} {'appends/s':>10} {'vs none':>8}")
for name, rps in rows:
    print(f"{name:48} {rps:10.0f} {rps / base:7.2f}x")

# --- wake latency ---------------------------------------------------------------------------------
arrivals = {}
got = threading.Condition()


class Receiver(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()  # headers and body go out in two writes: without this, Nagle + delayed ACK add 40 ms
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        t = time.perf_counter()
        with got:
            for s in body["streams"]:
                if s["has_pending"]:
                    arrivals.setdefault(s["path"], t)
            got.notify_all()
        answer = b'{"done":true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *a):
        pass


httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=httpd.serve_forever, daemon=True).start()
req("PUT", "__ds/subscriptions/lat", {"type": "webhook", "pattern": "lat/*",
                                     "webhook": {"url": f"http://127.0.0.1:{httpd.server_address[1]}/"}})
webhook = []
for i in range(ROUNDS):
    t0 = time.perf_counter()
    req("PUT", f"lat/{i}", b"x", {"Content-Type": "application/octet-stream"})
    with got:
        got.wait_for(lambda: f"lat/{i}" in arrivals, timeout=10)
    webhook.append((arrivals[f"lat/{i}"] - t0) * 1000)

req("PUT", "wake/lat", b"[]")
req("PUT", "__ds/subscriptions/plat", {"type": "pull-wake", "pattern": "plat/*", "wake_stream": "wake/lat"})
_, _, r = req("HEAD", "wake/lat")
offset = r.getheader("Stream-Next-Offset")
pull = []
poller = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
for i in range(ROUNDS):
    t0 = time.perf_counter()
    req("PUT", f"plat/{i}", b"x", {"Content-Type": "application/octet-stream"})
    while True:
        poller.request("GET", f"/v1/stream/wake/lat?offset={offset}&live=long-poll")
        pr = poller.getresponse()
        body = pr.read()
        offset = pr.getheader("Stream-Next-Offset") or offset
        if pr.status == 200 and body.strip() not in (b"", b"[]"):
            break
    pull.append((time.perf_counter() - t0) * 1000)
    st, c, _ = req("POST", "__ds/subscriptions/plat/claim", {"worker": "bench"})
    acks = [{"stream": s["path"], "offset": s["tail_offset"]} for s in c["streams"] if s["has_pending"]]
    req("POST", "__ds/subscriptions/plat/ack", {"wake_id": c["wake_id"], "generation": c["generation"],
                                               "acks": acks, "done": True}, {"Authorization": "Bearer " + c["token"]})


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))]


print(f"\n{'wake latency (' + str(ROUNDS) + ' wakes)':48} {'median':>8} {'p99':>8}")
print(f"{'append -> webhook at the receiver':48} {statistics.median(webhook):6.2f}ms {pct(webhook, 0.99):6.2f}ms")
print(f"{'append -> pull-wake event at a long-poll':48} {statistics.median(pull):6.2f}ms {pct(pull, 0.99):6.2f}ms")
httpd.shutdown()
server.terminate()
server.wait(timeout=10)
