#!/usr/bin/env python3
"""Memory held for clients that never read (issue 9.7).

Starts build/streamsy (memory storage) with the given extra flags, fills one
stream with --mib MiB, opens --clients connections with a tiny receive
window that ask for the whole stream (catch-up, or SSE with --sse) and never
read, and reports the server's RSS growth after --wait seconds, then whether
a fresh client still gets its read.

  bench/slow_readers.py --clients 300 --sse
  bench/slow_readers.py --clients 50 -- --max-output-bytes 67108864
"""
import argparse, os, socket, subprocess, sys, time, urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("--clients", type=int, default=50)
ap.add_argument("--mib", type=int, default=4)
ap.add_argument("--sse", action="store_true")
ap.add_argument("--wait", type=float, default=3.0)
ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "build", "streamsy"))
ap.add_argument("flags", nargs="*")
a = ap.parse_args()

s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
log = open(f"/tmp/slow_readers-{os.getpid()}.log", "w+")
srv = subprocess.Popen([a.bin, "serve", "--listen", f"127.0.0.1:{port}", "--storage", "memory", "--quiet", *a.flags],
                       stdout=subprocess.DEVNULL, stderr=log)
base = f"http://127.0.0.1:{port}/v1/stream/big"

def rss_kb():
    for line in open(f"/proc/{srv.pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

def req(method, url, body=None):
    r = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(r, timeout=30) as resp:
        return resp.status, resp.read()

try:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close(); break
        except OSError:
            time.sleep(0.05)
    req("PUT", base)
    for _ in range(a.mib):
        req("POST", base, b"x" * (1 << 20))
    time.sleep(0.3)
    before = rss_kb()
    target = "/v1/stream/big?offset=-1" + ("&live=sse" if a.sse else "")
    socks = []
    for _ in range(a.clients):
        c = socket.socket()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.connect(("127.0.0.1", port))
        c.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        socks.append(c)
    time.sleep(a.wait)
    after = rss_kb()
    t0 = time.time()
    try:
        status, body = req("GET", base + "?offset=-1")
        fresh = f"{status}, {len(body) >> 20} MiB in {time.time() - t0:.2f} s"
    except Exception as e:
        fresh = f"failed: {e}"
    print(f"{a.clients} {'SSE' if a.sse else 'catch-up'} clients that never read ({a.mib} MiB stream, flags {a.flags}): "
          f"server RSS +{(after - before) / 1024:.0f} MiB; a fresh reader: {fresh}")
    for c in socks:
        c.close()
finally:
    srv.terminate()
    srv.wait()
    log.seek(0)
    for line in log.read().splitlines()[:10]:
        print("  server:", line)
    os.unlink(log.name)
