// Long-poll wake latency: one reader parked at the tail of a stream, one
// writer; each round the writer appends once the reader is parked, and the
// time from sending the append to the reader's answer is recorded.
//
//   node bench/longpoll.mjs BASE_URL [ROUNDS]      (bench/run.sh runs it)
//
// Prints "LONGPOLL rounds=N p50_ms=... p99_ms=... errors=N".
const base = process.argv[2];
const rounds = Number(process.argv[3] ?? 200);
if (!base) { console.error("usage: longpoll.mjs BASE_URL [ROUNDS]"); process.exit(2); }
const url = `${base}/v1/stream/bench-longpoll-${process.pid}`;
const text = { "content-type": "text/plain" };

const put = await fetch(url, { method: "PUT", headers: text });
if (put.status !== 201) { console.error(`PUT ${url}: ${put.status}`); process.exit(1); }
let offset = put.headers.get("stream-next-offset");
const times = [];
let errors = 0;
for (let i = 0; i < rounds; i++) {
  const read = fetch(`${url}?offset=${offset}&live=long-poll`);
  await new Promise((r) => setTimeout(r, 5)); // let the reader park
  const t0 = performance.now();
  const post = await fetch(url, { method: "POST", headers: text, body: `m${i}` });
  const res = await read;
  const body = await res.text();
  const t1 = performance.now();
  if (post.status !== 204 || res.status !== 200 || body !== `m${i}`) { errors++; continue; }
  offset = res.headers.get("stream-next-offset");
  times.push(t1 - t0);
}
times.sort((a, b) => a - b);
const q = (p) => (times.length ? times[Math.min(times.length - 1, Math.floor(p * times.length))] : NaN);
console.log(`LONGPOLL rounds=${times.length} p50_ms=${q(0.5).toFixed(2)} p99_ms=${q(0.99).toFixed(2)} errors=${errors}`);
process.exit(errors ? 1 : 0);
