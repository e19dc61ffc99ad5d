-- wrk script: catch-up reads of a prefilled stream.
--   GET <BENCH_STREAM_PATH, default /v1/stream/bench-read>?offset=<BENCH_READ_OFFSET, default -1>
-- bench/run.sh fills the stream with 1000 messages of 100 bytes, then runs this twice:
--   read-tail  offset = the Stream-Next-Offset after message 990: a client that
--              resumes a little behind the tail gets the last 10 messages (1000 B).
--              This is the common live-consumer case; it measures the per-request
--              cost of a read (offset parse, lookup, copy, headers, ETag).
--   read-all   offset = -1: a new consumer catches up on the whole stream (about
--              100 kB, or the server's first page of it). It measures bulk copy.
-- Every response must be 200 with data; wrk counts >= 400 as errors.
wrk.method = "GET"
wrk.path = (os.getenv("BENCH_STREAM_PATH") or "/v1/stream/bench-read") ..
  "?offset=" .. (os.getenv("BENCH_READ_OFFSET") or "-1")

dofile((os.getenv("BENCH_DIR") or "bench") .. "/report.lua")
