#!/usr/bin/env python3
"""Subscriptions (the reserved __ds API) end to end against the real server,
beside the official suite's 6 tests:

    tests/subs/subs_test.py build/streamsy

  * a subscription, its cursors, generation and keys survive kill -9 and a
    restart on SQLite (the old signature key still verifies new webhooks);
  * a failing webhook receiver is retried with backoff (1 s, 2 s, 4 s, +-20 %)
    and the schedule survives kill -9: the retry after the restart comes when
    it was due, not at once; then a {"done":true} answer acks the snapshot;
  * two workers racing to claim: exactly one wins, the others see it as holder;
  * a stale callback is fenced after a lease expiry re-woke with a new
    generation; bad tokens, regressing and beyond-tail acks are refused;
  * unsafe webhook URLs are refused at creation, and a host name that
    resolves to loopback over https is refused at connect time (nothing
    reaches the listener, the subscription reports "failed");
  * deleting a stream unlinks it; explicit links of missing streams wait at 0;
  * a "**" pattern does not link its own wake stream (no wake loop);
  * a webhook wake awaiting its callback at kill -9 is sent again on restart.

Any sanitizer report in a server log fails the test."""
import atexit
import base64
import http.client
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

BIN = os.path.abspath(sys.argv[1])
TMP = tempfile.mkdtemp(prefix="streamsy-subs-")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import checks  # noqa: E402
from checks import check, fail, free_port  # noqa: E402
started = []  # every server process, killed at exit (a failed check leaves them running)
atexit.register(lambda: [p.kill() for p in started if p.poll() is None])



class Server:
    def __init__(self, storage, port=None, extra=()):
        self.port = port or free_port()
        self.log = os.path.join(TMP, f"server-{self.port}-{time.monotonic_ns()}.log")
        self.p = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{self.port}", "--storage", storage,
                                   "--quiet", "--webhooks", *extra],
                                  stdout=subprocess.DEVNULL, stderr=open(self.log, "w"))
        started.append(self.p)
        for _ in range(400):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.025)
        fail("the server did not start: " + self.text())

    def text(self):
        with open(self.log) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM):
        self.p.send_signal(sig)
        self.p.wait(timeout=10)
        err = self.text()
        check("Sanitizer" not in err and "runtime error" not in err, "server sanitizer report:\n" + err)
        if sig == signal.SIGTERM:
            check(self.p.returncode == 0, f"server exit {self.p.returncode} on SIGTERM")

    def request(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        c.request(method, "/v1/stream/" + path, body=data, headers=h)
        r = c.getresponse()
        raw = r.read()
        c.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return r.status, parsed, dict((k.lower(), v) for k, v in r.getheaders())


class Receiver:
    """A webhook receiver on loopback: records every request; answers with
    self.status and self.answer (a dict)."""

    def __init__(self, status=200, answer=None):
        self.status, self.answer = status, answer or {}
        self.got = []  # (monotonic time, parsed body, raw body, signature header)
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.got.append((time.monotonic(), json.loads(raw), raw, self.headers.get("Webhook-Signature")))
                body = json.dumps(outer.answer).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def wait(self, n, timeout=10):
        deadline = time.monotonic() + timeout
        while len(self.got) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        check(len(self.got) >= n, f"receiver got {len(self.got)} requests, expected {n} within {timeout} s")
        return self.got[n - 1]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def wait_until(pred, timeout=5, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    fail("timed out waiting for " + what)


def put_stream(srv, path, body=b'{"n":1}'):
    st, _, h = srv.request("PUT", path, body)
    check(st == 201, f"PUT {path}: {st}")
    return h["stream-next-offset"]


def append(srv, path, body=b'{"n":2}'):
    st, _, h = srv.request("POST", path, body)
    check(st in (200, 204), f"POST {path}: {st}")
    return h["stream-next-offset"]


def verify_signature(jwk_x, raw_body, header):
    """The Ed25519 signature of a webhook, checked with the openssl tool."""
    parts = dict(p.split("=", 1) for p in header.split(","))
    pub = base64.urlsafe_b64decode(jwk_x + "=" * (-len(jwk_x) % 4))
    der = bytes.fromhex("302a300506032b6570032100") + pub
    pem = os.path.join(TMP, "pub.pem")
    with open(pem, "w") as f:
        f.write("-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(der).decode() + "\n-----END PUBLIC KEY-----\n")
    msg, sig = os.path.join(TMP, "msg"), os.path.join(TMP, "sig")
    with open(msg, "wb") as f:
        f.write(parts["t"].encode() + b"." + raw_body)
    with open(sig, "wb") as f:
        f.write(base64.urlsafe_b64decode(parts["ed25519"] + "=" * (-len(parts["ed25519"]) % 4)))
    r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pem, "-rawin", "-in", msg,
                        "-sigfile", sig], capture_output=True)
    return r.returncode == 0


def claim(srv, sub, worker):
    return srv.request("POST", f"__ds/subscriptions/{sub}/claim", {"worker": worker})


def ack(srv, sub, c, acks, done=True, action="ack"):
    return srv.request("POST", f"__ds/subscriptions/{sub}/{action}",
                       {"wake_id": c["wake_id"], "generation": c["generation"], "acks": acks, "done": done},
                       {"Authorization": "Bearer " + c["token"]})


# ---------------------------------------------------------------------------------------------


def survives_kill_9():
    db = "sqlite:" + os.path.join(TMP, "kill9.db")
    srv = Server(db)
    put_stream(srv, "wake/pool", b"[]")
    st, body, _ = srv.request("PUT", "__ds/subscriptions/jobs", {
        "type": "pull-wake", "pattern": "jobs/*", "wake_stream": "wake/pool", "lease_ttl_ms": 5000})
    check(st == 201, f"create pull-wake: {st} {body}")
    tail_a = put_stream(srv, "jobs/a")
    st, c, _ = claim(srv, "jobs", "w1")
    check(st == 200 and c["generation"] == 1, f"claim: {st} {c}")
    info = {s["path"]: s for s in c["streams"]}
    check(info["jobs/a"]["acked_offset"] == "-1" and info["jobs/a"]["tail_offset"] == tail_a,
          f"a stream created after the subscription is linked at -1: {c}")
    st, r, _ = ack(srv, "jobs", c, [{"stream": "jobs/a", "offset": tail_a}])
    check(st == 200 and r == {"ok": True, "next_wake": False}, f"ack: {st} {r}")
    _, jwks, _ = srv.request("GET", "__ds/jwks.json")
    srv.stop(signal.SIGKILL)

    srv = Server(db)
    st, got, _ = srv.request("GET", "__ds/subscriptions/jobs")
    check(st == 200, f"the subscription is back after kill -9: {st} {got}")
    links = {s["path"]: s for s in got["streams"]}
    check(links.get("jobs/a", {}).get("acked_offset") == tail_a, f"the acknowledged cursor survived: {got}")
    check(got["pattern"] == "jobs/*" and got["lease_ttl_ms"] == 5000 and got["wake_stream"] == "wake/pool",
          f"the configuration survived: {got}")
    st, r, _ = claim(srv, "jobs", "w1")
    check(st == 409 and r["error"]["code"] == "NO_PENDING_WORK", f"nothing pending after the restart: {st} {r}")
    st, r, _ = ack(srv, "jobs", c, [])
    check(st == 409 and r["error"]["code"] == "FENCED", f"the finished wake stays fenced: {st} {r}")
    tail_a2 = append(srv, "jobs/a")
    _, events, _ = srv.request("GET", "wake/pool?offset=-1")
    wait_until(lambda: len(srv.request("GET", "wake/pool?offset=-1")[1]) == 2, what="the second wake event")
    _, events, _ = srv.request("GET", "wake/pool?offset=-1")
    check([e["generation"] for e in events] == [1, 2] and events[1]["stream"] == "jobs/a",
          f"the generation continues from the stored one: {events}")
    st, c2, _ = claim(srv, "jobs", "w2")
    check(st == 200 and c2["generation"] == 2, f"claim after restart: {st} {c2}")
    check({s["path"]: s for s in c2["streams"]}["jobs/a"]["acked_offset"] == tail_a, f"{c2}")
    st, r, _ = ack(srv, "jobs", c2, [{"stream": "jobs/a", "offset": tail_a2}], done=False)
    check(st == 200 and r == {"ok": True, "next_wake": False}, f"heartbeat ack: {st} {r}")
    srv.stop(signal.SIGKILL)

    srv = Server(db)
    _, got, _ = srv.request("GET", "__ds/subscriptions/jobs")
    check({s["path"]: s for s in got["streams"]}["jobs/a"]["acked_offset"] == tail_a2,
          f"a heartbeat's cursor survived kill -9 too: {got}")
    st, r, _ = claim(srv, "jobs", "w3")
    check(st == 409 and r["error"]["code"] == "ALREADY_CLAIMED" and r["error"]["current_holder"] == "w2",
          f"the claim (holder and lease) survived: {st} {r}")
    st, r, _ = ack(srv, "jobs", c2, [], done=True)
    check(st == 200 and r == {"ok": True, "next_wake": False}, f"the old token still works after restart: {st} {r}")
    _, jwks2, _ = srv.request("GET", "__ds/jwks.json")
    check(jwks2 == jwks, f"the signing key survived: {jwks} vs {jwks2}")
    srv.stop()


def retries_with_backoff_across_restart():
    db = "sqlite:" + os.path.join(TMP, "retry.db")
    rec = Receiver(status=500)
    srv = Server(db)
    _, jwks, _ = srv.request("GET", "__ds/jwks.json")
    st, body, _ = srv.request("PUT", "__ds/subscriptions/hooks", {
        "type": "webhook", "pattern": "hooks/*", "webhook": {"url": rec.url}, "lease_ttl_ms": 1000})
    check(st == 201, f"create webhook: {st} {body}")
    tail = put_stream(srv, "hooks/x")
    t1 = rec.wait(1)[0]
    t2 = rec.wait(2)[0]
    t3 = rec.wait(3)[0]
    check(0.75 <= t2 - t1 <= 1.5, f"first retry after 1 s +-20 %: {t2 - t1:.3f} s")
    check(1.55 <= t3 - t2 <= 2.7, f"second retry after 2 s +-20 %: {t3 - t2:.3f} s")
    gens = [g[1]["generation"] for g in rec.got]
    check(gens == [1, 1, 1], f"retries re-send the same wake, one delivery at a time: {gens}")
    _, got, _ = srv.request("GET", "__ds/subscriptions/hooks")
    check(got["status"] == "failed", f"status failed while retrying: {got}")
    srv.stop(signal.SIGKILL)
    killed_at = time.monotonic()
    rec.status, rec.answer = 200, {"done": True}
    srv = Server(db)
    t4, body4, raw4, sig4 = rec.wait(4, timeout=10)
    check(t4 - killed_at >= 1.5, f"the retry after the restart waits for its time: {t4 - killed_at:.3f} s")
    check(3.1 <= t4 - t3 <= 5.6, f"third retry 4 s +-20 % after the second, across the restart: {t4 - t3:.3f} s")
    check(body4["generation"] == 1 and body4["wake_id"] == rec.got[0][1]["wake_id"], f"same wake: {body4}")
    check(verify_signature(jwks["keys"][0]["x"], raw4, sig4), "the key from before the restart verifies")
    wait_until(lambda: srv.request("GET", "__ds/subscriptions/hooks")[1]["status"] == "active", what="active")
    _, got, _ = srv.request("GET", "__ds/subscriptions/hooks")
    check(got["streams"][0]["acked_offset"] == tail, f"done acked the snapshot: {got}")
    time.sleep(1.3)
    check(len(rec.got) == 4, f"no more deliveries once done: {len(rec.got)}")
    srv.stop()
    rec.close()


def race_to_claim():
    srv = Server("memory")
    put_stream(srv, "wake/race", b"[]")
    srv.request("PUT", "__ds/subscriptions/race", {"type": "pull-wake", "streams": ["race/a"],
                                                  "wake_stream": "wake/race"})
    put_stream(srv, "race/a")
    results = [None] * 8
    go = threading.Event()

    def worker(i):
        go.wait()
        results[i] = claim(srv, "race", f"worker-{i}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join()
    winners = [i for i, r in enumerate(results) if r[0] == 200]
    check(len(winners) == 1, f"exactly one claim wins: {[r[0] for r in results]}")
    holder = f"worker-{winners[0]}"
    for i, r in enumerate(results):
        if i != winners[0]:
            check(r[0] == 409 and r[1]["error"]["code"] == "ALREADY_CLAIMED" and
                  r[1]["error"]["current_holder"] == holder, f"the others see the winner: {r}")
    c = results[winners[0]][1]
    st, _, _ = ack(srv, "race", c, [], done=False, action="release")
    check(st == 204, f"release: {st}")
    st, c2, _ = claim(srv, "race", "late")
    check(st == 200 and c2["generation"] == c["generation"] + 1, f"released work is claimable again: {st} {c2}")
    srv.stop()


def fencing_and_bad_acks():
    rec = Receiver(status=200, answer={})
    srv = Server("memory")
    srv.request("PUT", "__ds/subscriptions/fence", {"type": "webhook", "pattern": "fence/*",
                                                   "webhook": {"url": rec.url}, "lease_ttl_ms": 1000})
    tail = put_stream(srv, "fence/a")
    first = rec.wait(1)[1]
    second = rec.wait(2, timeout=4)[1]
    check(second["generation"] == first["generation"] + 1 and second["wake_id"] != first["wake_id"],
          f"an expired lease re-wakes with a new generation: {first} {second}")
    url = f"__ds/subscriptions/fence/callback"
    body = {"wake_id": first["wake_id"], "generation": first["generation"],
            "acks": [{"stream": "fence/a", "offset": tail}], "done": True}
    st, r, _ = srv.request("POST", url, body, {"Authorization": "Bearer " + first["callback_token"]})
    check(st == 409 and r["error"]["code"] == "FENCED", f"a stale callback is fenced: {st} {r}")
    st, r, _ = srv.request("POST", url, dict(body, wake_id=second["wake_id"], generation=second["generation"]),
                           {"Authorization": "Bearer " + first["callback_token"]})
    check(st == 409 and r["error"]["code"] == "FENCED", f"an old token with the new wake is fenced: {st} {r}")
    auth = {"Authorization": "Bearer " + second["callback_token"]}
    cur = dict(body, wake_id=second["wake_id"], generation=second["generation"])
    st, r, _ = srv.request("POST", url, cur, {})
    check(st == 401 and r["error"]["code"] == "TOKEN_INVALID", f"no token: {st} {r}")
    st, r, _ = srv.request("POST", url, cur, {"Authorization": "Bearer " + second["callback_token"][:-2] + "xx"})
    check(st == 401 and r["error"]["code"] == "TOKEN_INVALID", f"a forged token: {st} {r}")
    st, r, _ = srv.request("POST", url, dict(cur, acks=[{"stream": "fence/a", "offset": "9" * 16 + "_" + "9" * 16}]),
                           auth)
    check(st == 409 and r["error"]["code"] == "INVALID_OFFSET", f"an ack beyond the tail: {st} {r}")
    st, r, _ = srv.request("POST", url, dict(cur, acks=[{"stream": "fence/zzz", "offset": tail}]), auth)
    check(st == 409 and r["error"]["code"] == "INVALID_OFFSET", f"an ack of an unlinked stream: {st} {r}")
    st, r, _ = srv.request("POST", url, dict(cur, acks=[{"stream": "fence/a", "offset": "-1"}]), auth)
    check(st == 409 and r["error"]["code"] == "INVALID_OFFSET", f"an ack of -1: {st} {r}")
    st, r, _ = srv.request("POST", url, b"{not json", auth)
    check(st == 400 and r["error"]["code"] == "INVALID_REQUEST", f"a body that is not JSON: {st} {r}")
    st, r, _ = srv.request("POST", url, cur, auth)
    check(st == 200 and r == {"ok": True, "next_wake": False}, f"the current wake's callback: {st} {r}")
    st, r, _ = srv.request("POST", url, dict(cur, done=False), auth)
    check(st == 409 and r["error"]["code"] == "FENCED", f"replaying a finished callback: {st} {r}")
    srv.request("PUT", "__ds/subscriptions/other", {"type": "pull-wake", "streams": ["x"], "wake_stream": "w"})
    st, r, _ = srv.request("POST", "__ds/subscriptions/other/ack", cur, auth)
    check(st == 401 and r["error"]["code"] == "TOKEN_INVALID", f"a token of another subscription: {st} {r}")
    st, r, _ = srv.request("POST", url + "x", cur, auth)
    check(st == 404 and r["error"]["code"] == "SUBSCRIPTION_NOT_FOUND", f"an unknown route: {st} {r}")
    for bad_id in ["%FF", "%zz", "x" * 257]:
        st, r, _ = srv.request("PUT", "__ds/subscriptions/" + bad_id, {"type": "pull-wake", "streams": ["a"],
                                                                       "wake_stream": "w"})
        check(st == 400 and (bad_id[0] == "%" or r["error"]["code"] == "INVALID_REQUEST"),  # (% ones: the
              f"bad id {bad_id[:8]}: {st} {r}")  # handler's own 400 "Invalid stream path", before the routes)
    st, r, _ = srv.request("DELETE", "__ds/subscriptions/fence/streams/%FF")
    check(st == 400, f"a stream path that is not UTF-8: {st} {r}")
    st, r, _ = srv.request("GET", "__ds/subscriptions/fence/claim")
    check(st == 405, f"GET on an action: {st}")
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    c.request("GET", "/metrics")
    metrics = dict(line.rsplit(" ", 1) for line in c.getresponse().read().decode().splitlines()
                   if line.startswith("streamsy_") and "{" not in line)
    c.close()
    check(metrics.get("streamsy_subscriptions") == "2" and metrics.get("streamsy_webhook_deliveries_total") == "2" and
          metrics.get("streamsy_subscription_wakes_total") == "2" and
          metrics.get("streamsy_webhook_delivery_failures_total") == "0", f"/metrics counts them: {metrics}")
    st, r, _ = srv.request("PUT", "__ds/subscriptions/fence", {"type": "webhook", "pattern": "other/*",
                                                               "webhook": {"url": rec.url}, "lease_ttl_ms": 1000})
    check(st == 409 and r["error"]["code"] == "SUBSCRIPTION_ALREADY_EXISTS", f"a different re-PUT: {st} {r}")
    for bad, why in [({"type": "webhook", "pattern": "a"}, "no url"),
                     ({"type": "pull-wake", "pattern": "a"}, "no wake_stream"),
                     ({"type": "push", "pattern": "a"}, "bad type"),
                     ({"type": "pull-wake", "wake_stream": "w"}, "neither pattern nor streams"),
                     ({"type": "pull-wake", "pattern": "a", "wake_stream": "w", "lease_ttl_ms": 999}, "ttl"),
                     ({"type": "pull-wake", "pattern": "a", "wake_stream": "w", "lease_ttl_ms": 1.5}, "ttl"),
                     ([1, 2], "not an object")]:
        st, r, _ = srv.request("PUT", "__ds/subscriptions/bad", bad)
        check(st == 400 and r["error"]["code"] == "INVALID_REQUEST", f"{why}: {st} {r}")
    srv.stop()
    rec.close()


def unsafe_urls():
    srv = Server("memory")
    for url in ["http://10.0.0.1/hook", "http://example.com/hook", "https://192.168.1.5/hook",
                "https://169.254.169.254/latest", "https://172.20.0.1/", "https://127.0.0.1/", "https://[::1]/",
                "https://[2001:db8::1]/", "https://localhost/hook", "ftp://127.0.0.1/", "not a url",
                "Https://0x7f.1:9/", "https://2130706433/", "https://127.1/", "https://10.0.0.1./",
                "https://%31%30.0.0.1/", "https://a@10.0.0.1@example.com/", "https://100.100.100.200/"]:
        st, r, _ = srv.request("PUT", "__ds/subscriptions/unsafe", {"type": "webhook", "pattern": "u/*",
                                                                    "webhook": {"url": url}})
        check(st == 400 and r["error"]["code"] == "WEBHOOK_URL_REJECTED", f"{url}: {st} {r}")
    # A name that resolves to loopback (libcurl answers *.localhost itself) passes the
    # creation check, but no connection may be made to it.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    port = listener.getsockname()[1]
    st, r, _ = srv.request("PUT", "__ds/subscriptions/sneaky", {
        "type": "webhook", "pattern": "u/*", "webhook": {"url": f"https://hooks.localhost:{port}/hook"}})
    check(st == 201, f"a public-looking https name is accepted at creation: {st} {r}")
    put_stream(srv, "u/a")
    wait_until(lambda: srv.request("GET", "__ds/subscriptions/sneaky")[1]["status"] == "failed", what="failed")
    connected = 0
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        try:
            listener.accept()[0].close()
            connected += 1
        except socket.timeout:
            pass
    check(connected == 0, f"no connection reached the loopback listener: {connected}")
    check("resolves to 127.0.0.1, which a https webhook may not reach" in srv.text(),
          "the log names the refused address:\n" + srv.text())
    listener.close()
    srv.stop()


def membership_and_deletes():
    srv = Server("memory")
    st, r, _ = srv.request("PUT", "__ds/subscriptions/m", {"type": "pull-wake", "pattern": "m/**",
                                                           "streams": ["/solo/", "solo"], "wake_stream": "w"})
    check(st == 201 and [s["path"] for s in r["streams"]] == ["solo"] and
          r["streams"][0]["acked_offset"] == "0000000000000000_0000000000000000",
          f"explicit links are normalised, de-duplicated, and a missing stream waits at 0: {r}")
    put_stream(srv, "m/deep/er")
    put_stream(srv, "m/top")
    _, r, _ = srv.request("GET", "__ds/subscriptions/m")
    check(sorted(s["path"] for s in r["streams"]) == ["m/deep/er", "m/top", "solo"], f"** links any depth: {r}")
    st, _, _ = srv.request("DELETE", "m/top")
    check(st == 204, "delete a stream")
    _, r, _ = srv.request("GET", "__ds/subscriptions/m")
    check(sorted(s["path"] for s in r["streams"]) == ["m/deep/er", "solo"], f"a deleted stream is unlinked: {r}")
    st, _, _ = srv.request("POST", "__ds/subscriptions/m/streams", {"streams": ["m/deep/er"]})
    st, _, _ = srv.request("DELETE", "__ds/subscriptions/m/streams/m%2Fdeep%2Fer")
    check(st == 204, "remove an explicit link")
    _, r, _ = srv.request("GET", "__ds/subscriptions/m")
    check({s["path"]: s["link_type"] for s in r["streams"]}.get("m/deep/er") == "glob",
          f"removing the explicit link keeps the glob link: {r}")
    st, _, _ = srv.request("DELETE", "__ds/subscriptions/m")
    st2, _, _ = srv.request("DELETE", "__ds/subscriptions/m")
    st3, r, _ = srv.request("GET", "__ds/subscriptions/m")
    check(st == 204 and st2 == 204 and st3 == 404 and r["error"]["code"] == "SUBSCRIPTION_NOT_FOUND",
          f"delete is idempotent: {st} {st2} {st3}")
    st, r, h = srv.request("GET", "__ds/jwks.json")
    check(st == 200 and h["content-type"].startswith("application/jwk-set+json") and
          h.get("cache-control") == "public, max-age=300" and r["keys"][0]["kid"].startswith("ds_"),
          f"jwks: {st} {h} {r}")
    st, r, _ = srv.request("POST", "__ds/jwks.json")
    check(st == 405, f"POST jwks: {st}")
    srv.stop()


def webhooks_off_by_default():
    port = free_port()
    p = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{port}", "--storage", "memory", "--quiet"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started.append(p)
    srv = Server.__new__(Server)
    srv.port, srv.p = port, p
    for _ in range(400):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.025)
    st, r, _ = srv.request("PUT", "__ds/subscriptions/h", {"type": "webhook", "pattern": "a/*",
                                                           "webhook": {"url": "http://127.0.0.1:9/"}})
    check(st == 400 and r["error"]["code"] == "INVALID_REQUEST" and "not enabled" in r["error"]["message"],
          f"webhooks need --webhooks: {st} {r}")
    st, r, _ = srv.request("PUT", "__ds/subscriptions/p", {"type": "pull-wake", "pattern": "a/*",
                                                           "wake_stream": "w"})
    check(st == 201, f"pull-wake works without it: {st} {r}")
    p.terminate()
    p.wait(timeout=10)


def catch_all_never_wakes_itself():
    srv = Server("memory")
    put_stream(srv, "wake/all", b"[]")
    st, r, _ = srv.request("PUT", "__ds/subscriptions/all", {"type": "pull-wake", "pattern": "**",
                                                             "wake_stream": "wake/all"})
    check(st == 201 and r["streams"] == [], f"its own wake stream is not linked by the glob: {r}")
    tail = put_stream(srv, "any/where")
    wait_until(lambda: len(srv.request("GET", "wake/all?offset=-1")[1]) == 1, what="the wake event")
    st, c, _ = claim(srv, "all", "w")
    check(st == 200 and [s["path"] for s in c["streams"]] == ["any/where"], f"claim: {st} {c}")
    st, r, _ = ack(srv, "all", c, [{"stream": "any/where", "offset": tail}])
    check(st == 200 and r == {"ok": True, "next_wake": False}, f"the wake event is no new work: {st} {r}")
    time.sleep(0.2)
    st, r, _ = claim(srv, "all", "w")
    check(st == 409 and r["error"]["code"] == "NO_PENDING_WORK", f"nothing pending afterwards: {st} {r}")
    check(len(srv.request("GET", "wake/all?offset=-1")[1]) == 1, "one wake event, no loop")
    srv.stop()


def restart_resends_a_wake_awaiting_its_callback():
    db = "sqlite:" + os.path.join(TMP, "resend.db")
    rec = Receiver(status=200, answer={})
    srv = Server(db)
    srv.request("PUT", "__ds/subscriptions/resend", {"type": "webhook", "streams": ["r/a"],
                                                     "webhook": {"url": rec.url}, "lease_ttl_ms": 60000})
    tail = put_stream(srv, "r/a")
    first = rec.wait(1)[1]
    srv.stop(signal.SIGKILL)
    srv = Server(db)
    t0 = time.monotonic()
    second = rec.wait(2, timeout=5)
    check(second[0] - t0 < 2, f"the wake is sent again at once, not after the 60 s lease: {second[0] - t0:.2f} s")
    check(second[1]["generation"] == first["generation"] and second[1]["wake_id"] == first["wake_id"],
          f"the same wake: {first} {second[1]}")
    st, r, _ = srv.request("POST", "__ds/subscriptions/resend/callback",
                           {"wake_id": first["wake_id"], "generation": first["generation"],
                            "acks": [{"path": "r/a", "offset": tail}], "done": True},
                           {"Authorization": "Bearer " + first["callback_token"]})
    check(st == 200 and r == {"ok": True, "next_wake": False}, f"the token from before the restart: {st} {r}")
    srv.stop()
    rec.close()


def public_url_names_callbacks():
    rec = Receiver(status=200, answer={"done": True})
    srv = Server("memory", extra=("--public-url", "https://streams.example.com/"))
    st, r, _ = srv.request("PUT", "__ds/subscriptions/a%2Fb", {"type": "webhook", "streams": ["p/a"],
                                                               "webhook": {"url": rec.url}})
    check(st == 201 and r["id"] == "a/b", f"an id with an encoded slash: {st} {r}")
    check(r["webhook"]["signing"]["jwks_url"] == "https://streams.example.com/v1/stream/__ds/jwks.json",
          f"jwks_url from --public-url: {r}")
    put_stream(srv, "p/a")
    body = rec.wait(1)[1]
    check(body["callback_url"] == "https://streams.example.com/v1/stream/__ds/subscriptions/a%2Fb/callback",
          f"callback_url from --public-url, the id escaped: {body}")
    st, r, _ = srv.request("GET", "__ds/subscriptions/a%2Fb")
    check(st == 200 and r["subscription_id"] == "a/b", f"GET by the escaped id: {st} {r}")
    srv.stop()
    rec.close()


def triggers_reach_exactly_the_matching_subscriptions():
    srv = Server("memory")
    put_stream(srv, "w", b"[]")
    pats = {"lit": "a/*", "wild": "*/x", "deep": "**/y", "explicit": None}
    for name, pat in pats.items():
        body = {"type": "pull-wake", "wake_stream": "w"}
        body.update({"pattern": pat} if pat else {"streams": ["b/z"]})
        st, r, _ = srv.request("PUT", f"__ds/subscriptions/{name}", body)
        check(st == 201, f"create {name}: {st} {r}")
    for i in range(50):  # subscriptions an append must never look at
        srv.request("PUT", f"__ds/subscriptions/noise-{i}", {"type": "pull-wake", "pattern": f"n{i}/*",
                                                             "wake_stream": "w"})
    want = {"a/x": {"lit", "wild"}, "b/x": {"wild"}, "a/y": {"lit", "deep"}, "q/r/y": {"deep"},
            "b/z": {"explicit"}, "c/c": set()}
    for stream, subs in want.items():
        put_stream(srv, stream)
        for name in pats:
            _, r, _ = srv.request("GET", f"__ds/subscriptions/{name}")
            linked = {l["path"] for l in r["streams"]}
            check((stream in linked) == (name in subs), f"{stream} linked to {name}: {linked}")
    st, c, _ = claim(srv, "wild", "w")
    check(st == 200 and sorted(x["path"] for x in c["streams"] if x["has_pending"]) == ["a/x", "b/x"],
          f"the wild subscription sees both: {st} {c}")
    srv.stop()


def review_regressions():
    """Cases a review found: expiry inside our own tail reads, exponential globs, long callback
    URLs, streams named with a trailing slash, unbounded paths, claims with nothing pending."""
    rec = Receiver(status=200, answer={})
    srv = Server("memory")
    put_stream(srv, "w", b"[]")
    srv.request("PUT", "__ds/subscriptions/q", {"type": "pull-wake", "pattern": "q/*", "wake_stream": "w",
                                                "lease_ttl_ms": 60000})
    st, _, _ = srv.request("PUT", "q/gone", b'{"n":1}', {"Stream-Expires-At": "2020-01-01T00:00:00Z"})
    check(st in (201, 400), f"create an already expired stream: {st}")
    tail_b = put_stream(srv, "q/b")
    st, _, _ = srv.request("PUT", "q/short", b'{"n":1}', {"Stream-TTL": "1"})
    check(st == 201, f"a stream with a 1 s TTL: {st}")
    st, c, _ = claim(srv, "q", "w1")
    check(st == 200, f"claim: {st} {c}")
    time.sleep(1.2)  # q/short expires; nothing has read it since
    st, r, _ = ack(srv, "q", c, [{"stream": "q/b", "offset": tail_b}])  # done: its re-wake reads every tail
    check(st == 200, f"an ack whose re-wake meets an expired stream: {st} {r}")
    _, r, _ = srv.request("GET", "__ds/subscriptions/q")
    check(sorted(x["path"] for x in r["streams"]) == ["q/b"], f"expired streams are unlinked: {r}")
    st, r, _ = claim(srv, "q", "w1")
    check(st == 409 and r["error"]["code"] == "NO_PENDING_WORK", f"nothing pending afterwards: {st} {r}")

    st, r, _ = srv.request("PUT", "__ds/subscriptions/stars", {"type": "pull-wake", "wake_stream": "w",
                                                               "pattern": "**/" * 15 + "z"})
    check(st == 201, f"a pattern of 15 ** segments: {st} {r}")
    t0 = time.monotonic()
    put_stream(srv, "a/" * 40 + "b")
    check(time.monotonic() - t0 < 1, f"matching it against 41 segments is not exponential: {time.monotonic() - t0:.2f} s")
    for bad, why in [({"pattern": "*/" * 65 + "x"}, "65 segments"), ({"streams": ["../x"]}, "dot segment"),
                     ({"streams": ["__ds/x"]}, "__ds"), ({"streams": ["x" * 1025]}, "too long"),
                     ({"streams": ["/"]}, "empty")]:
        body = {"type": "pull-wake", "wake_stream": "w"}
        body.update(bad)
        st, r, _ = srv.request("PUT", "__ds/subscriptions/bad", body)
        check(st == 400 and r["error"]["code"] == "INVALID_REQUEST", f"{why}: {st} {r}")
    st, r, _ = srv.request("POST", "__ds/subscriptions/q/streams", {"streams": ["ok/one", "a/../b"]})
    check(st == 400, f"a bad path in POST streams: {st} {r}")
    _, r, _ = srv.request("GET", "__ds/subscriptions/q")
    check("ok/one" not in [x["path"] for x in r["streams"]], f"nothing linked from a refused POST: {r}")

    srv.request("PUT", "__ds/subscriptions/ts", {"type": "pull-wake", "pattern": "ts/*", "wake_stream": "w"})
    tail = put_stream(srv, "ts/y/", b'{"n":1}')
    st, c, _ = claim(srv, "ts", "w1")
    check(st == 200 and [x["path"] for x in c["streams"]] == ["ts/y/"], f"a stream id with a trailing slash: {c}")
    st, r, _ = ack(srv, "ts", c, [{"stream": "ts/y/", "offset": tail}])
    check(st == 200 and r == {"ok": True, "next_wake": False}, f"it can be acked: {st} {r}")

    srv.request("PUT", "__ds/subscriptions/gone", {"type": "pull-wake", "streams": ["g/a"], "wake_stream": "w"})
    put_stream(srv, "g/a")

    def gone_events():
        return [e["generation"] for e in srv.request("GET", "w?offset=-1")[1] if e["subscription_id"] == "gone"]

    wait_until(lambda: gone_events() == [1], what="the first wake event")
    srv.request("DELETE", "g/a")
    st, r, _ = claim(srv, "gone", "w1")
    check(st == 409 and r["error"]["code"] == "NO_PENDING_WORK", f"a wake whose stream is gone: {st} {r}")
    srv.request("POST", "__ds/subscriptions/gone/streams", {"streams": ["g/a"]})
    put_stream(srv, "g/a")
    wait_until(lambda: gone_events() == [1, 2], what="a new wake event after the unclaimed wake lost its stream")

    # explicit paths name the exact stream when it exists ("q/a/" and "q/a" are two streams)
    put_stream(srv, "ex/a/")
    st, r, _ = srv.request("PUT", "__ds/subscriptions/exact", {"type": "pull-wake", "streams": ["ex/a/", "/ex/b/"],
                                                               "wake_stream": "w/"})
    check(st == 201 and sorted(x["path"] for x in r["streams"]) == ["ex/a/", "ex/b"] and r["wake_stream"] == "w",
          f"an existing exact id is kept, a missing one normalised: {r}")
    st, r, _ = srv.request("PUT", "__ds/subscriptions/exact", {"type": "pull-wake", "streams": ["/ex/b/", "ex/a/"],
                                                               "wake_stream": "w"})
    check(st == 200, f"the identity is the normalised configuration: {st} {r}")
    append(srv, "ex/a/")
    st, c, _ = claim(srv, "exact", "w1")
    check(st == 200 and [x["path"] for x in c["streams"] if x["has_pending"]] == ["ex/a/"], f"{st} {c}")

    put_stream(srv, "__dsfoo")
    st, r, _ = srv.request("PUT", "__ds/subscriptions/dsfoo", {"type": "pull-wake", "pattern": "*",
                                                               "wake_stream": "w"})
    check(st == 201 and "__dsfoo" in [x["path"] for x in r["streams"]], f"__dsfoo is a stream like any: {r}")

    long_id = "%21" * 256
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    host = "h" * 240 + f".example:{srv.port}"
    c.request("PUT", "/v1/stream/__ds/subscriptions/" + long_id,
              body=json.dumps({"type": "webhook", "streams": ["long/a"], "webhook": {"url": rec.url}}),
              headers={"Host": host, "Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    check(r.status == 201, f"the longest id with a long Host: {r.status}")
    put_stream(srv, "long/a")
    body = rec.wait(1)[1]
    check(body["callback_url"] == f"http://{host}/v1/stream/__ds/subscriptions/{long_id}/callback",
          f"its callback URL is built in full: {body['callback_url'][:80]}")
    srv.stop()
    rec.close()


for test in [unsafe_urls, review_regressions, membership_and_deletes, triggers_reach_exactly_the_matching_subscriptions, webhooks_off_by_default, race_to_claim, fencing_and_bad_acks,
             catch_all_never_wakes_itself, public_url_names_callbacks, survives_kill_9, restart_resends_a_wake_awaiting_its_callback,
             retries_with_backoff_across_restart]:
    t0 = time.monotonic()
    test()
    print(f"ok {test.__name__} ({time.monotonic() - t0:.1f} s)")
print(f"PASS: {checks.count} checks")
