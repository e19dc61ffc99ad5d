#!/usr/bin/python3
"""Operating the server (issue 12): /metrics parsed by the Prometheus client
library's own text-format parser (Debian's python3-prometheus-client), its
counters moving with traffic; /healthz and /readyz (not ready while
draining); the admin endpoints on a separate address or off; text and JSON
logs with the same fields; the systemd unit verified by systemd-analyze.

    tests/operating/operating_test.py build/streamsy
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/streamsy")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
failures = []


def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what + ("" if ok else f": {detail}"))
    if not ok:
        failures.append(what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Server:
    def __init__(self, *flags, storage="memory"):
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile("w+", prefix="streamsy-operating-", suffix=".log", delete=False)
        self.proc = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{self.port}", "--storage", storage,
                                      "--long-poll-timeout-ms", "500", *flags],
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited: {open(self.log.name).read()}")
                time.sleep(0.05)
        raise RuntimeError("server did not start")

    def url(self, path, port=None):
        return f"http://127.0.0.1:{port or self.port}{path}"

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.wait()

    def wait(self):
        rc = self.proc.wait(timeout=15)
        text = open(self.log.name).read()
        if re.search(r"AddressSanitizer|LeakSanitizer|runtime error:", text):
            print(text)  # the sanitizer's report, for ctest to see
            check("no sanitizer report from the server", False, self.log.name)
        return rc

    def log_lines(self):
        return open(self.log.name).read().splitlines()


def http(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode(), {k.lower(): v for k, v in r.headers.items()}
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), {k.lower(): v for k, v in e.headers.items()}


def scrape(url):
    status, text, headers = http("GET", url)
    assert status == 200, (status, text)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    return families, headers.get("content-type", "")


def value(families, name, **labels):
    """The sample `name` (with exactly these labels) in the parsed families."""
    for fam in families.values():
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


# ---- metrics ------------------------------------------------------------------------------------

def test_metrics():
    tmp = tempfile.mkdtemp(prefix="streamsy-operating-")
    srv = Server(storage=f"sqlite:{tmp}/db")
    try:
        text_headers = {"Content-Type": "text/plain"}
        check("PUT creates a stream", http("PUT", srv.url("/v1/stream/m"), b"", text_headers)[0] == 201)
        before, ctype = scrape(srv.url("/metrics"))
        check("the exposition's content type is the Prometheus text format 0.0.4",
              ctype.startswith("text/plain; version=0.0.4"), ctype)
        expected = {
            "streamsy_build_info": "gauge", "streamsy_ready": "gauge",
            "streamsy_http_requests": "counter", "streamsy_http_request_body_bytes": "counter",
            "streamsy_http_response_bytes": "counter", "streamsy_connections": "gauge",
            "streamsy_connections_accepted": "counter", "streamsy_live_readers": "gauge",
            "streamsy_appends": "counter", "streamsy_appended_messages": "counter",
            "streamsy_storage_commits": "counter", "streamsy_storage_errors": "counter",
            "streamsy_storage_commit_seconds": "histogram", "streamsy_storage_flush_seconds": "histogram",
            "streamsy_storage_flush_batch_writes": "histogram", "streamsy_streams_expired": "counter",
            "streamsy_expiry_runs": "counter", "streamsy_responses_cut": "counter",
            "streamsy_output_bytes": "gauge",
        }
        for name, typ in expected.items():
            fam = before.get(name)
            check(f"{name} is a {typ}", fam is not None and fam.type == typ, fam and fam.type)
        check("every metric is named streamsy_*", all(n.startswith("streamsy_") for n in before), list(before))
        check("no stream name in any label",
              all("m" not in s.labels.values() and "/v1/stream/m" not in s.labels.values()
                  for f in before.values() for s in f.samples))

        for i in range(3):
            http("POST", srv.url("/v1/stream/m"), b"x" * 10, text_headers)
        http("GET", srv.url("/v1/stream/m?offset=-1"))
        after, _ = scrape(srv.url("/metrics"))

        def moved(name, by, **labels):
            a, b = value(before, name, **labels) or 0, value(after, name, **labels) or 0
            check(f"{name}{labels or ''} moved by {by}", b - a == by, f"{a} -> {b}")

        moved("streamsy_appends_total", 3)
        moved("streamsy_appended_messages_total", 3)
        moved("streamsy_appended_bytes_total", 30)
        moved("streamsy_http_requests_total", 3, method="POST", code="204")
        # the stream read, and the first scrape (a request is counted when it has ended)
        moved("streamsy_http_requests_total", 2, method="GET", code="200")
        moved("streamsy_storage_commits_total", 3)
        moved("streamsy_http_request_body_bytes_total", 30)
        commit_count = value(after, "streamsy_storage_commit_seconds_count") - value(before, "streamsy_storage_commit_seconds_count")
        check("the commit latency histogram counted the commits", commit_count >= 3, commit_count)
        flushes = value(after, "streamsy_storage_flush_batch_writes_count") or 0
        check("group commit: flushes are observed (SQLite)", flushes >= 1, flushes)
        buckets = [s for s in after["streamsy_storage_commit_seconds"].samples if s.name.endswith("_bucket")]
        counts = [s.value for s in buckets]
        check("histogram buckets are cumulative", counts == sorted(counts), counts)
        check("the +Inf bucket equals the count",
              buckets[-1].labels["le"] == "+Inf" and buckets[-1].value == value(after, "streamsy_storage_commit_seconds_count"))
        check("ready gauge is 1", value(after, "streamsy_ready") == 1)
    finally:
        check("exits 0 on SIGTERM", srv.stop() == 0)
        shutil.rmtree(tmp)


# ---- health ---------------------------------------------------------------------------------------

def slow_reader(port, target):
    """A connection that asks for a large response and never reads it."""
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.connect(("127.0.0.1", port))
    c.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return c


def test_health_and_draining():
    admin = free_port()
    srv = Server("--admin-listen", f"127.0.0.1:{admin}")
    try:
        check("/healthz on the admin address is 200 ok", http("GET", srv.url("/healthz", admin))[:2] == (200, "ok\n"))
        check("/readyz on the admin address is 200 ready", http("GET", srv.url("/readyz", admin))[:2] == (200, "ready\n"))
        check("/metrics is not on the main listener then", http("GET", srv.url("/metrics"))[0] == 404)
        check("streams are not on the admin address", http("GET", srv.url("/v1/stream/x", admin))[0] == 404)
        check("POST /readyz is 405", http("POST", srv.url("/readyz", admin), b"")[0] == 405)
        # Keep the server draining: a 4 MiB response its client never reads.
        http("PUT", srv.url("/v1/stream/big"), b"", {"Content-Type": "text/plain"})
        for _ in range(4):
            http("POST", srv.url("/v1/stream/big"), b"y" * (1 << 20), {"Content-Type": "text/plain"})
        hold = slow_reader(srv.port, "/v1/stream/big?offset=-1")
        time.sleep(0.3)
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        status, body, _ = http("GET", srv.url("/readyz", admin))
        check("while draining /readyz is 503 'not ready: draining'", (status, body) == (503, "not ready: draining\n"),
              (status, body))
        check("while draining /healthz is still 200", http("GET", srv.url("/healthz", admin))[0] == 200)
        hold.close()
        check("then it exits 0", srv.wait() == 0)
    finally:
        if srv.proc.poll() is None:
            srv.stop()

    off = Server("--admin-listen", "off")
    try:
        check("--admin-listen off: /metrics is 404", http("GET", off.url("/metrics"))[0] == 404)
        check("--admin-listen off: /healthz is 404", http("GET", off.url("/healthz"))[0] == 404)
    finally:
        off.stop()


# ---- logs -------------------------------------------------------------------------------------------

ACCESS_FIELDS = ["ts", "level", "event", "peer", "method", "target", "status", "bytes_in", "bytes_out",
                 "duration_ms", "proto"]
MESSAGE_FIELDS = ["ts", "level", "event", "msg"]


def traffic_with_a_warning(srv):
    """One access entry, and a warn entry (the connection limit is 1)."""
    http("PUT", srv.url("/v1/stream/l"), b"", {"Content-Type": "text/plain"})
    a = socket.create_connection(("127.0.0.1", srv.port))
    b = socket.create_connection(("127.0.0.1", srv.port))
    time.sleep(0.3)
    a.close()
    b.close()
    time.sleep(0.3)


def parse_text(line):
    """ts level event key=value ... (values plain or quoted)."""
    ts, level, event, rest = (line.split(" ", 3) + [""])[:4]
    fields = {"ts": ts, "level": level, "event": event}
    for m in re.finditer(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', rest):
        fields[m.group(1)] = m.group(2)
    return fields


def test_logs():
    for fmt in ("json", "text"):
        srv = Server("--log-format", fmt, "--max-connections", "1")
        traffic_with_a_warning(srv)
        srv.stop()
        lines = srv.log_lines()
        entries = []
        for line in lines:
            if fmt == "json":
                try:
                    entries.append(json.loads(line))
                except ValueError:
                    check(f"{fmt}: every line is one JSON object", False, line)
            else:
                entries.append(parse_text(line))
        access = [e for e in entries if e.get("event") == "access"]
        warns = [e for e in entries if e.get("level") == "warn"]
        check(f"{fmt}: an access entry with every field", access and all(f in access[0] for f in ACCESS_FIELDS),
              access[:1])
        check(f"{fmt}: access entries are info", access and all(e["level"] == "info" for e in access))
        check(f"{fmt}: a warn entry with ts, level, event and msg",
              warns and all(f in warns[0] for f in MESSAGE_FIELDS), lines)
        check(f"{fmt}: timestamps are UTC with milliseconds",
              entries and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["ts"]) for e in entries),
              [e.get("ts") for e in entries])
        if fmt == "json":
            check("json: status is a number", isinstance(access[0]["status"], int))

    srv = Server("--log-level", "warn", "--max-connections", "1")
    traffic_with_a_warning(srv)
    srv.stop()
    lines = srv.log_lines()
    check("--log-level warn: no access entries", not any(" info access " in l for l in lines), lines)
    check("--log-level warn: warnings still written", any(" warn " in l for l in lines), lines)
    srv = Server("--quiet")
    http("GET", srv.url("/healthz"))
    srv.stop()
    check("--quiet: no access entries", not any("access" in l for l in srv.log_lines()), srv.log_lines())


# ---- systemd unit --------------------------------------------------------------------------------------

def test_systemd_unit():
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        print("skip systemd-analyze verify (systemd-analyze not installed)")
        return
    tmp = tempfile.mkdtemp(prefix="streamsy-unit-")
    unit = open(os.path.join(ROOT, "contrib", "streamsy.service")).read()
    path = os.path.join(tmp, "streamsy.service")
    with open(path, "w") as f:  # verify wants ExecStart to exist: point it at this build
        f.write(unit.replace("/usr/local/bin/streamsy", BIN))
    r = subprocess.run([analyze, "verify", path], capture_output=True, text=True)
    check("systemd-analyze verify contrib/streamsy.service", r.returncode == 0 and not r.stderr.strip(),
          r.stderr)
    shutil.rmtree(tmp)


for test in (test_metrics, test_health_and_draining, test_logs, test_systemd_unit):
    try:
        test()
    except Exception as e:  # a crash of the test itself is a failure too
        check(test.__name__, False, repr(e))
print(f"{'FAILED: ' + str(len(failures)) if failures else 'all passed'}")
sys.exit(1 if failures else 0)
