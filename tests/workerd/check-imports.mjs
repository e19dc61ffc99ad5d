// Checks the Durable Object module against its host:
//  - it imports nothing but the shim's "streamsy" functions and the few WASI
//    functions wasi-libc needs for stderr and the clock (a new libc
//    dependency would otherwise fail only at instantiation, in production);
//  - every "streamsy" import is implemented by workerd/worker.js, and every
//    ss_wasm_* export worker.js calls exists.
//
//   node tests/workerd/check-imports.mjs build/wasm/streamsy-do.wasm workerd/worker.js
import { readFileSync, statSync } from "node:fs";

const [wasmPath, shimPath] = process.argv.slice(2);
const HOST_ABI = new Set([ // src/wasm/host.h
  "sql_exec", "sql_next", "sql_ncols", "sql_type", "sql_int", "sql_len", "sql_copy", "sql_close", "txn",
  "errmsg", "now_ms", "set_alarm", "wake", "resp_status", "resp_header", "resp_body", "resp_live",
]);
const WASI_ALLOWED = new Set(["fd_write", "fd_close", "fd_seek", "clock_time_get"]);

const module = new WebAssembly.Module(readFileSync(wasmPath));
const shim = readFileSync(shimPath, "utf8");
const problems = [];
const imports = WebAssembly.Module.imports(module);
for (const imp of imports) {
  if (imp.module === "streamsy") {
    if (!HOST_ABI.has(imp.name)) problems.push(`imports streamsy.${imp.name}, which src/wasm/host.h does not list`);
    if (!new RegExp(`^\\s+${imp.name}\\(`, "m").test(shim)) problems.push(`imports streamsy.${imp.name}, which worker.js does not implement`);
  } else if (imp.module === "wasi_snapshot_preview1") {
    if (!WASI_ALLOWED.has(imp.name)) problems.push(`imports wasi_snapshot_preview1.${imp.name} (not on the allowed list)`);
  } else {
    problems.push(`imports ${imp.module}.${imp.name} from an unknown module`);
  }
}
const exported = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
for (const name of ["memory", "_initialize"]) if (!exported.has(name)) problems.push(`does not export ${name}`);
for (const [name] of shim.matchAll(/ss_wasm_[a-z_]+/g))
  if (!exported.has(name)) problems.push(`worker.js calls ${name}, which the module does not export`);

const size = statSync(wasmPath).size;
if (problems.length) {
  for (const p of problems) console.log(`${wasmPath}: ${p}`);
  process.exit(1);
}
console.log(`${wasmPath}: ${size} bytes, ${imports.length} imports, all provided; ${exported.size} exports`);
