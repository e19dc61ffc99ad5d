-- wrk script: appends of one ~1 KB JSON object to BENCH_STREAM_PATH.
-- bench/enforce.sh runs it against a stream bound to a JSON Schema by
-- --config and against an unbound one, to price server-side validation.
wrk.method = "POST"
wrk.path = os.getenv("BENCH_STREAM_PATH") or "/v1/stream/plain/a"
wrk.headers["Content-Type"] = "application/json"
local tags = {}
for i = 1, 20 do tags[i] = string.format('"tag-%02d-%s"', i, string.rep("x", 20)) end
wrk.body = string.format(
  '{"id":12345,"kind":"order.created","customer":{"name":"%s","email":"ada@example.com"},' ..
  '"amount":1999,"currency":"EUR","tags":[%s],"note":"%s"}',
  string.rep("A", 40), table.concat(tags, ","), string.rep("n", 250))

dofile((os.getenv("BENCH_DIR") or "bench") .. "/report.lua")
