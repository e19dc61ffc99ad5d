#!/usr/bin/env python3
"""The client commands of `streamsy` (src/server/client_cli.c, on the client
API of streamsy/client.h) end to end against our own server.

    tests/client/cli_test.py build/streamsy

Each check runs the real binary for both sides on loopback ports: create,
append (DATA, standard input, --lines, --expected-offset, --close), read,
tail (live, and resuming after the server is killed and restarted on the
same SQLite file), head, close, delete, --header, and the exit codes
(1 refused, 2 usage, 3 no answer). Any sanitizer report fails the test."""
import http.server
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

BIN = os.path.abspath(sys.argv[1])
TMP = tempfile.mkdtemp(prefix="streamsy-cli-")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import checks  # noqa: E402
from checks import check, fail, free_port  # noqa: E402



def start_server(port, storage):
    p = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{port}", "--storage", storage, "--quiet"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return p
        except OSError:
            time.sleep(0.025)
    fail("the server did not start: " + p.stderr.read().decode())


def stop_server(p, sig=signal.SIGTERM):
    p.send_signal(sig)
    p.wait(timeout=10)
    err = p.stderr.read().decode()
    check("Sanitizer" not in err and "runtime error" not in err, "server sanitizer report:\n" + err)


def run(*args, stdin=None, code=0):
    """Runs `streamsy ARGS`; checks the exit code; returns (stdout, stderr)."""
    r = subprocess.run([BIN, *args], input=stdin, capture_output=True, timeout=30)
    out, err = r.stdout.decode(), r.stderr.decode()
    check("Sanitizer" not in err and "runtime error" not in err, f"sanitizer report from {args}:\n{err}")
    check(r.returncode == code, f"streamsy {' '.join(args)}: exit {r.returncode}, expected {code}\n"
                                f"stdout: {out}\nstderr: {err}")
    return out, err


def basics(base):
    s = base + "/cli/basics"
    out, _ = run("create", s, "--content-type", "text/plain")
    check(out.strip().endswith("_0000000000000000"), "create prints the tail offset: " + out)
    run("create", s, "--content-type", "text/plain")  # the same again: 200, fine
    _, err = run("create", s, "--content-type", "application/json", code=1)
    check("HTTP 409" in err, "a create with other settings is refused with the server's status: " + err)
    first, _ = run("append", s, "hello ")
    run("append", s, stdin=b"from stdin\n")
    run("append", s, "--lines", stdin=b"one\n\ntwo\n")
    out, _ = run("read", s)
    check(out == "hello from stdin\none\ntwo\n", "read prints every byte, in order: %r" % out)
    out, _ = run("read", s, "--from", first.strip())
    check(out == "from stdin\none\ntwo\n", "read --from starts after that offset: %r" % out)
    out, _ = run("head", s)
    check("content-type: text/plain" in out and "closed: false" in out, "head: " + out)
    tail = [l for l in out.splitlines() if l.startswith("next-offset: ")][0].split(": ")[1]
    # compare-and-swap
    _, err = run("append", s, "stale", "--expected-offset", first.strip(), code=1)
    check("HTTP 409" in err, "a stale --expected-offset is refused: " + err)
    run("append", s, "cas", "--expected-offset", tail)
    out, _ = run("read", s)
    check(out.endswith("two\ncas"), "only the append at the right tail landed: %r" % out)
    # close, then nothing more
    run("close", s)
    _, err = run("append", s, "late", code=1)
    check("409" in err and "closed" in err.lower(), "an append to a closed stream: " + err)
    out, _ = run("head", s)
    check("closed: true" in out, "head shows the stream closed: " + out)
    out, _ = run("tail", s)
    check(out == "hello from stdin\none\ntwo\ncas", "tail of a closed stream prints it all and ends: %r" % out)
    run("delete", s)
    _, err = run("head", s, code=1)
    check("404" in err, "head after delete: " + err)
    run("read", s, code=1)


def ttl_and_json(base):
    s = base + "/cli/ttl"
    run("create", s, "--ttl", "3600", "first")
    out, _ = run("head", s)
    check("ttl: 3600" in out, "head shows the TTL: " + out)
    j = base + "/cli/json"
    run("create", j, "--content-type", "application/json")
    run("append", j, "--lines", stdin=b'{"a":1}\n[2,3]\n"x"\n')
    out, _ = run("read", j)
    check(out.replace(" ", "").replace("\n", "") == '[{"a":1},2,3,"x"]', "JSON values as one array: %r" % out)


def live_tail(base):
    s = base + "/cli/live"
    run("create", s, "--content-type", "text/plain", "a")
    t = subprocess.Popen([BIN, "tail", s, "--print-offsets"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.3)
    run("append", s, "b")
    time.sleep(0.2)
    run("append", s, "c", "--close")
    out, err = t.communicate(timeout=10)
    check(t.returncode == 0, "tail ends with 0 when the stream closes: %d %s" % (t.returncode, err.decode()))
    check(out.decode() == "abc", "tail printed the catch-up and the live appends: %r" % out)
    check(err.decode().count("OFFSET ") >= 3, "--print-offsets: " + err.decode())


def modes_and_binary(base):
    s = base + "/cli/modes"
    run("create", s, "--content-type", "text/plain", "x")
    t = subprocess.Popen([BIN, "tail", s, "--long-poll"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.3)
    run("append", s, "y", "--close")
    out, err = t.communicate(timeout=10)
    check(t.returncode == 0 and out == b"xy", "tail --long-poll: %r %r" % (out, err))
    # the protocol's SSE writes "data:<line>" and readers drop one space after the colon, so a
    # line that starts with a space loses it over SSE (docs/client.md); long-poll keeps every byte
    sp = base + "/cli/spaces"
    run("create", sp, "--content-type", "text/plain", " one\n  two\n", "--closed")
    out, _ = run("tail", sp)
    check(out == "one\n two\n", "SSE drops one leading space per line, as the protocol's readers do: %r" % out)
    out, _ = run("tail", sp, "--long-poll")
    check(out == " one\n  two\n", "long-poll keeps them: %r" % out)
    # a binary stream over SSE arrives base64-encoded and is decoded
    b = base + "/cli/binary"
    blob = bytes(range(256)) + b"\r\n\n\r" + bytes(range(255, -1, -1))
    run("create", b)
    run("append", b, stdin=blob)
    t = subprocess.Popen([BIN, "tail", b], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.3)
    run("append", b, stdin=b"\x00end\xff")
    run("close", b)
    out, err = t.communicate(timeout=10)
    check(t.returncode == 0 and out == blob + b"\x00end\xff", "binary bytes over SSE, exactly: %r" % err)
    # --json: one value per line, from a read and from a live tail
    j = base + "/cli/jsonl"
    run("create", j, "--content-type", "application/json", '[{"n":1},{"n":2}]')
    out, _ = run("read", j, "--json")
    check(out == '{"n":1}\n{"n":2}\n', "read --json: %r" % out)
    t = subprocess.Popen([BIN, "tail", j, "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.3)
    run("append", j, '{"n":3}', "--close")
    out, err = t.communicate(timeout=10)
    check(t.returncode == 0 and out == b'{"n":1}\n{"n":2}\n{"n":3}\n', "tail --json: %r %r" % (out, err))
    run("read", s, "--json", code=1)  # text is not JSON


def resume_after_restart():
    port = free_port()
    db = os.path.join(TMP, "resume.db")
    base = f"http://127.0.0.1:{port}/v1/stream"
    srv = start_server(port, "sqlite:" + db)
    s = base + "/cli/resume"
    run("create", s, "--content-type", "text/plain", "1")
    t = subprocess.Popen([BIN, "tail", s], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.3)
    run("append", s, "2")
    time.sleep(0.3)
    srv.kill()  # kill -9 while the tail waits in a long-poll
    srv.wait()
    srv.stderr.read()
    time.sleep(0.5)  # the tail retries with backoff meanwhile
    srv = start_server(port, "sqlite:" + db)
    run("append", s, "3")
    run("append", s, "4", "--close")
    out, err = t.communicate(timeout=20)
    check(t.returncode == 0, "the tail survived the restart: %d %s" % (t.returncode, err.decode()))
    check(out.decode() == "1234", "every message exactly once across the restart: %r" % out)
    stop_server(srv)


class Capture(http.server.BaseHTTPRequestHandler):
    seen = {}

    def do_HEAD(self):
        Capture.seen = dict(self.headers)
        self.send_response(200)
        self.send_header("Stream-Next-Offset", "0000000000000000_0000000000000007")
        self.send_header("Content-Type", "text/plain")
        self.end_headers()

    def log_message(self, *a):
        pass


class DroppingProxy(threading.Thread):
    """Forwards HTTP/1.1 requests to the server, one per connection, but for
    the first `drop` requests that carry a Producer-Id it delivers the request
    and then closes the client's connection without the answer: an append
    that landed but whose acknowledgement was lost."""

    def __init__(self, port, drop):
        super().__init__(daemon=True)
        self.target, self.drop, self.seen = port, drop, 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]

    @staticmethod
    def read_request(conn):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        while len(body) < length:
            body += conn.recv(65536)
        return head, body

    def run(self):
        while True:
            conn, _ = self.sock.accept()
            req = self.read_request(conn)
            if req is None:
                conn.close()
                continue
            head, body = req
            head = b"\r\n".join(l for l in head.split(b"\r\n") if not l.lower().startswith(b"connection:"))
            up = socket.create_connection(("127.0.0.1", self.target))
            up.sendall(head + b"\r\nConnection: close\r\n\r\n" + body)
            answer = b""
            while True:
                chunk = up.recv(65536)
                if not chunk:
                    break
                answer += chunk
            up.close()
            if b"producer-id:" in head.lower() and self.seen < self.drop:
                self.seen += 1
                conn.close()  # the append landed; its answer is lost
                continue
            conn.sendall(answer)
            conn.close()


def producer_and_fork(base, port):
    s = base + "/cli/producer"
    run("create", s, "--content-type", "text/plain")
    _, err = run("append", s, "--lines", "--producer", "w1", stdin=b"a\nb\nc\n")
    check("epoch 0, next seq 3" in err, "the producer's state after three appends: " + err)
    # the same command again, with one more line: only the new line lands
    _, err = run("append", s, "--lines", "--producer", "w1", stdin=b"a\nb\nc\nd\n")
    out, _ = run("read", s)
    check(out == "a\nb\nc\nd\n", "a re-run appends nothing twice: %r" % out)
    _, err = run("append", s, "again", "--producer", "w1")
    check("repeat" in err, "a lone repeat says nothing new was appended: " + err)
    # a lost acknowledgement: the append is retried as is and lands once
    proxy = DroppingProxy(port, drop=2)
    proxy.start()
    via = f"http://127.0.0.1:{proxy.port}/v1/stream/cli/producer"
    run("append", via, "e\n", "--producer", "w1", "--epoch", "1", "--content-type", "text/plain")
    check(proxy.seen == 2, "two answers were dropped (%d)" % proxy.seen)
    out, _ = run("read", s)
    check(out == "a\nb\nc\nd\ne\n", "retried after lost answers, the append landed exactly once: %r" % out)
    # a newer epoch fences an older one; --auto-claim takes the next
    _, err = run("append", s, "zombie", "--producer", "w1", "--epoch", "0", "--seq", "9", code=1)
    check("403" in err, "a stale epoch is refused: " + err)
    _, err = run("append", s, "f\n", "--producer", "w1", "--epoch", "0", "--auto-claim")
    check("epoch 2, next seq 1" in err, "auto-claim moved to the server's epoch + 1: " + err)
    out, _ = run("read", s)
    check(out == "a\nb\nc\nd\ne\nf\n", "auto-claimed append landed: %r" % out)
    # fork: the source's content up to the fork point, then its own
    f = base + "/cli/fork"
    run("fork", f, "--from", s)
    run("append", f, "g\n")
    out, _ = run("read", f)
    check(out == "a\nb\nc\nd\ne\nf\ng\n", "a fork reads its source, then its own appends: %r" % out)
    out, _ = run("read", s)
    check(out.endswith("f\n"), "the source is unchanged")
    run("fork", f + "2", code=2)  # no --from


def headers_and_errors(base):
    srv = http.server.HTTPServer(("127.0.0.1", 0), Capture)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/any"
    out, _ = run("head", url, "--header", "Authorization: Bearer t0k", "--header", "X-Trace: 42")
    check(Capture.seen.get("Authorization") == "Bearer t0k" and Capture.seen.get("X-Trace") == "42",
          "--header is sent: %r" % Capture.seen)
    check("next-offset: 0000000000000000_0000000000000007" in out, "head of any server: " + out)
    srv.shutdown()
    _, err = run("head", f"http://127.0.0.1:{free_port()}/x", code=3)
    check("no answer" in err, "nobody listening: " + err)
    run("head", "ftp://x/y", code=2)
    run("append", base + "/x", "--bogus", code=2)
    run("append", base + "/x", "--expected-offset", code=2)
    run("tail", code=2)
    out, _ = run("append", "--help")
    check("--expected-offset" in out, "--help describes the flags")


def main():
    port = free_port()
    srv = start_server(port, "memory")
    base = f"http://127.0.0.1:{port}/v1/stream"
    try:
        basics(base)
        ttl_and_json(base)
        live_tail(base)
        producer_and_fork(base, port)
        modes_and_binary(base)
        headers_and_errors(base)
    finally:
        stop_server(srv)
    resume_after_restart()
    print(f"client CLI: {checks.count} checks passed")


main()
