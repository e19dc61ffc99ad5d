-- Shared by the wrk scripts of bench/run.sh: prints one machine-readable
-- "BENCH key=value ..." line at the end of a run (latency in microseconds).
-- Loaded with dofile() by append.lua and read.lua, and used directly (-s) for hello.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d bytes=%d p50_us=%d p99_us=%d mean_us=%.0f " ..
    "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(99), latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
