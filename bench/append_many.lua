-- wrk script: appends of one 100-byte message spread over many streams.
--   POST /v1/stream/bench-many-<i>, i = 0 .. BENCH_STREAMS-1 (default 1000),
--   round-robin per wrk thread (each thread starts at a different stream).
-- bench/run.sh creates the streams (PUT) first. Unlike append.lua, writers
-- rarely touch the same stream at once: this measures appends as a whole
-- (for SQLite: many streams sharing each group commit).
local streams = tonumber(os.getenv("BENCH_STREAMS") or "1000")
local body = string.rep("a", 99) .. "\n"
local headers = { ["Content-Type"] = "application/octet-stream" }
local counter = 0
local offset = 0

function setup(thread)
  thread:set("offset", math.random(0, streams - 1))
end

function request()
  counter = counter + 1
  local i = (counter + offset) % streams
  return wrk.format("POST", "/v1/stream/bench-many-" .. i, headers, body)
end

dofile((os.getenv("BENCH_DIR") or "bench") .. "/report.lua")
