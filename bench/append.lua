-- wrk script: every request appends one 100-byte message to one stream.
--   POST <BENCH_STREAM_PATH, default /v1/stream/bench-append>
--   Content-Type: application/octet-stream, body: 99 x "a" + "\n"
-- bench/run.sh creates the stream (PUT) before wrk starts. All connections
-- append to the same stream, so this measures the serialised append path:
-- request parsing, offset assignment, the in-memory commit, 204 response.
wrk.method = "POST"
wrk.path = os.getenv("BENCH_STREAM_PATH") or "/v1/stream/bench-append"
wrk.headers["Content-Type"] = "application/octet-stream"
wrk.body = string.rep("a", 99) .. "\n"

dofile((os.getenv("BENCH_DIR") or "bench") .. "/report.lua")
