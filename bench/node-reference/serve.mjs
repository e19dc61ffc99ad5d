// The Node reference server on 127.0.0.1:PORT, in memory (bench/compare.sh).
//
//   node serve.mjs PORT [LONG_POLL_TIMEOUT_MS]
//
// Compression is off, as Streamsy does not compress: both send the same bytes.
import { DurableStreamTestServer } from "@durable-streams/server";

const port = Number(process.argv[2]);
const longPollTimeout = Number(process.argv[3] ?? 500);
const server = new DurableStreamTestServer({ port, host: "127.0.0.1", longPollTimeout, compression: false });
const url = await server.start();
console.log(`node reference server on ${url}`);
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => server.stop().then(() => process.exit(0)));
