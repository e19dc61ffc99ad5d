#!/usr/bin/env python3
"""Memory per idle SSE reader: Streamsy beside the h2o floor.

Starts `bench-hello --hold` (h2o 2.2.5 holding a never-ending event-stream
response after one control event, 4 KiB read buffer: h2o's own part of an
idle SSE reader) and `streamsy serve --storage memory`, opens N SSE readers
on each, waits for every first event, and prints the server's resident
memory per connection (/proc/PID/status VmRSS, before and after).

    bench/idle_probe.py [BUILD_DIR] [N]      defaults: build, 5000

One run; compare the two rows of the same run."""
import os
import resource
import socket
import subprocess
import sys
import time

from loopback import free_port, wait_port

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
N = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, N + 1024), hard))


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])


def measure(cmd, port, path, setup=None):
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        if setup:
            setup(port)
        time.sleep(0.3)
        before = rss_kb(p.pid)
        conns = []
        req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode()
        for i in range(N):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(req)
            conns.append(s)
        for s in conns:  # every reader has its first event: all parked
            got = b""
            while b"event: control" not in got:
                chunk = s.recv(4096)
                if not chunk:
                    sys.exit(f"{cmd[0]}: a reader was closed")
                got += chunk
        time.sleep(0.5)
        after = rss_kb(p.pid)
        for s in conns:
            s.close()
        return (after - before) * 1024 / N / 1000
    finally:
        p.kill()
        p.wait()


def create_stream(port):
    c = socket.create_connection(("127.0.0.1", port))
    c.sendall(b"PUT /v1/stream/idle HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
              b"Content-Length: 0\r\nConnection: close\r\n\r\n")
    c.recv(4096)
    c.close()


port = free_port()
floor = measure([f"{BUILD}/bench-hello", "--listen", f"127.0.0.1:{port}", "--hold"], port, "/")
port = free_port()
ours = measure([f"{BUILD}/streamsy", "serve", "--listen", f"127.0.0.1:{port}", "--storage", "memory", "--quiet",
                "--max-connections", str(N + 100)], port, "/v1/stream/idle?offset=now&live=sse", create_stream)
print(f"| server ({N} idle SSE readers) | KB per connection |")
print("|---|---:|")
print(f"| h2o alone, holding the response (bench-hello --hold) | {floor:.1f} |")
print(f"| Streamsy, memory storage | {ours:.1f} |")
print(f"| Streamsy's own share | {ours - floor:.1f} |")
