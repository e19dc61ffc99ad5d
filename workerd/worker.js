// Streamsy's Durable Object build: the JavaScript side. The logic is C
// (streamsy-do.wasm, src/wasm); this file does what C cannot: route each
// request to the Durable Object of its stream, hand requests to the module,
// wait (long-poll, SSE), call other objects (forks), and keep the instance
// alive across traps.
//
//   default export  the Worker: /v1/stream/<id> goes to the object named <id>
//                   (idFromName); every other path to one shared object, whose
//                   handler answers 400/404 like the native server.
//   StreamDO        one stream per object: one wasm instance over the
//                   object's SQLite storage (ctx.storage.sql).
//
// Bindings: STREAMS (the namespace), LONG_POLL_TIMEOUT_MS (default 30000),
// STREAMSY_TEST_HOOKS ("1": honour the Streamsy-Test-Trap request header).
import coreModule from "./streamsy-do.wasm";
import { DurableObject } from "cloudflare:workers";

const PREFIX = "/v1/stream";
const ROOT_OBJECT = "\u0000streamsy-root"; // not a stream id: the handler answers
const KIND_DONE = 0, KIND_WAIT = 1, KIND_STREAM = 2;
const SQL_NULL = 0, SQL_INT = 1, SQL_TEXT = 2, SQL_BLOB = 3;
const RC = { OK: 0, NOMEM: 1, TOOBIG: 2, BADARG: 3, MISUSE: 4, NOTSUP: 5, BUSY: 6, IOERR: 7, FULL: 8, CORRUPT: 9 };
const EXPORTED = 0;
const MAX_BODY_BYTES = 1900000; // SS_WASM_MAX_BODY_BYTES (src/wasm/front.h)
const DRAIN_LIMIT_BYTES = 64 << 20; // a refused body is read this far before the connection is given up
const MAX_WASM_MEMORY = 64 << 20; // a grown instance is replaced once it is idle
const RETRY_MIN_MS = 1000, RETRY_MAX_MS = 60000; // outbox redelivery backoff

const enc = new TextEncoder();
const dec = new TextDecoder();
const ROLLBACK = Symbol("rollback");

// ---- the wasm instance ---------------------------------------------------------------------

// A stream's SQL errors as ss_rc codes (Durable Object SQL reports text).
function rcOfError(e) {
  const m = String(e?.message ?? e);
  if (/SQLITE_FULL|disk is full|exceeded .*storage/i.test(m)) return RC.FULL;
  if (/TOOBIG|too big|too large/i.test(m)) return RC.TOOBIG;
  if (/SQLITE_CONSTRAINT/i.test(m)) return RC.MISUSE;
  if (/safe range|BigInt/i.test(m)) return RC.BADARG;
  return RC.IOERR;
}

class Core {
  constructor(storage, onWake, longPollMs) {
    this.storage = storage;
    this.cursors = new Map();
    this.nextCursor = 1;
    this.err = "";
    this.resp = null;
    this.broken = false;
    const self = this;
    const mem = () => self.ex.memory.buffer; // re-read: memory.grow detaches views
    const u8 = () => new Uint8Array(mem());
    const dv = () => new DataView(mem());
    const str = (p, n) => dec.decode(u8().subarray(p, p + n));
    const fail = (e) => { self.err = String(e?.message ?? e); return -rcOfError(e); };
    const colBytes = (c, i) => {
      const v = c.row[i];
      if (v instanceof ArrayBuffer) return new Uint8Array(v);
      if (typeof v === "string") return (c.enc[i] ??= enc.encode(v));
      return new Uint8Array(0);
    };
    const sql = storage.sql;
    const imports = {
      sql_exec(p, n, args, nargs) {
        try {
          const d = dv(), bound = [];
          for (let i = 0; i < nargs; i++) {
            const b = args + 16 * i, t = d.getUint32(b, true), len = d.getUint32(b + 4, true);
            if (t === SQL_NULL) bound.push(null);
            else if (t === SQL_INT) {
              const v = d.getBigInt64(b + 8, true);
              if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))
                throw new RangeError("integer outside the JS safe range: " + v);
              bound.push(Number(v));
            } else if (t === SQL_TEXT) bound.push(str(d.getUint32(b + 8, true), len));
            else if (t === SQL_BLOB) { const q = d.getUint32(b + 8, true); bound.push(mem().slice(q, q + len)); }
            else throw new TypeError("bad argument type " + t);
          }
          const cursor = sql.exec(str(p, n), ...bound);
          const id = self.nextCursor++;
          self.cursors.set(id, { it: cursor.raw(), row: null, enc: [] });
          return id;
        } catch (e) { return fail(e); }
      },
      sql_next(id) {
        const c = self.cursors.get(id);
        if (!c) return -RC.MISUSE;
        try {
          const r = c.it.next();
          c.enc = [];
          c.row = r.done ? null : r.value;
          return r.done ? 0 : 1;
        } catch (e) { return fail(e); }
      },
      sql_ncols(id) { return self.cursors.get(id)?.row?.length ?? -RC.MISUSE; },
      sql_type(id, i) {
        const v = self.cursors.get(id)?.row?.[i];
        if (v === null || v === undefined) return SQL_NULL;
        if (typeof v === "number" || typeof v === "bigint") return SQL_INT; // no REAL columns in the schema
        if (typeof v === "string") return SQL_TEXT;
        return SQL_BLOB;
      },
      sql_int(id, i) {
        const v = self.cursors.get(id)?.row?.[i];
        return typeof v === "bigint" ? v : BigInt(Math.trunc(Number(v ?? 0)));
      },
      sql_len(id, i) { const c = self.cursors.get(id); return c?.row ? colBytes(c, i).length : -RC.MISUSE; },
      sql_copy(id, i, dst, cap) {
        const c = self.cursors.get(id);
        if (!c?.row) return -RC.MISUSE;
        const b = colBytes(c, i), n = Math.min(cap, b.length);
        u8().set(b.subarray(0, n), dst);
        return n;
      },
      sql_close(id) { self.cursors.delete(id); },
      txn(fn, ctx) {
        let rc = 0;
        try {
          storage.transactionSync(() => {
            rc = self.ex.ss_wasm_txn_body(fn, ctx);
            if (rc !== 0) throw ROLLBACK;
          });
          return 0;
        } catch (e) {
          if (e === ROLLBACK) return rc;
          if (e instanceof WebAssembly.RuntimeError) { self.broken = true; throw e; } // a trap: unwind it all
          self.err = String(e?.message ?? e);
          return rcOfError(e);
        }
      },
      errmsg(dst, cap) {
        if (cap === 0) return 0;
        const b = enc.encode(self.err), n = Math.min(b.length, cap - 1), m = u8();
        m.set(b.subarray(0, n), dst);
        m[dst + n] = 0;
        return n;
      },
      now_ms() { return Date.now(); },
      set_alarm(ms) { if (ms < 0) storage.deleteAlarm(); else storage.setAlarm(ms); }, // the output gate orders it
      wake(id) { onWake(id); },
      resp_status(s) { self.resp.status = s; },
      resp_header(kp, kl, vp, vl) { self.resp.headers.push([str(kp, kl), str(vp, vl)]); },
      resp_body(p, n) { self.resp.chunks.push(mem().slice(p, p + n)); },
      resp_live(id, deadline) { self.resp.live = id; self.resp.deadline = deadline; },
    };
    // WASI: workerd provides none. wasi-libc needs a few to start and to
    // write to stderr; everything else the module might import is ENOSYS.
    const WASI_EBADF = 8, WASI_ENOSYS = 52;
    const wasiImpl = {
      fd_write(fd, iovs, iovcnt, nwritten) {
        if (fd !== 1 && fd !== 2) return WASI_EBADF;
        const d = dv();
        let s = "", total = 0;
        for (let i = 0; i < iovcnt; i++) {
          const p = d.getUint32(iovs + 8 * i, true), l = d.getUint32(iovs + 8 * i + 4, true);
          s += str(p, l);
          total += l;
        }
        console.log(s.replace(/\n$/, ""));
        d.setUint32(nwritten, total, true);
        return 0;
      },
      fd_prestat_get() { return WASI_EBADF; }, // no preopened directories (ENOSYS would make _initialize exit)
      clock_time_get(id, precision, out) { dv().setBigUint64(out, BigInt(Date.now()) * 1000000n, true); return 0; },
      proc_exit(code) { throw new Error("the module called exit(" + code + ")"); },
    };
    const wasi = {};
    for (const imp of WebAssembly.Module.imports(coreModule))
      if (imp.module === "wasi_snapshot_preview1") wasi[imp.name] = wasiImpl[imp.name] ?? (() => WASI_ENOSYS);
    const instance = new WebAssembly.Instance(coreModule, { streamsy: imports, wasi_snapshot_preview1: wasi });
    this.ex = instance.exports;
    this.ex._initialize();
    const rc = this.ex.ss_wasm_init(longPollMs);
    if (rc !== 0) throw new Error("ss_wasm_init failed: rc " + rc + " " + this.err);
  }

  // Calls into C; a trap marks the instance broken and rethrows.
  call(fn) {
    try { return fn(this.ex); }
    catch (e) { if (e instanceof WebAssembly.RuntimeError) this.broken = true; throw e; }
    finally { this.cursors.clear(); }
  }

  // Copies bytes into C memory for the duration of fn(ptr, len).
  withBytes(bytes, fn) {
    const p = this.ex.ss_wasm_alloc(bytes.length);
    new Uint8Array(this.ex.memory.buffer).set(bytes, p);
    try { return fn(p, bytes.length); } finally { if (!this.broken) this.ex.ss_wasm_free(p); }
  }

  withStrings(a, b, fn) {
    const ba = enc.encode(a), bb = enc.encode(b);
    return this.withBytes(ba, (pa, la) => this.withBytes(bb, (pb, lb) => fn(pa, la, pb, lb)));
  }

  out() { return new Uint8Array(this.ex.memory.buffer, this.ex.ss_wasm_out_ptr(), this.ex.ss_wasm_out_len()).slice(); }

  response(kind) {
    const r = this.resp;
    this.resp = null;
    return { kind, status: r.status, headers: r.headers, chunks: r.chunks, live: r.live, deadline: r.deadline };
  }

  handle(reqBytes) {
    this.resp = { status: 500, headers: [], chunks: [], live: 0, deadline: 0 };
    return this.call(() => this.response(this.withBytes(reqBytes, (p, n) => this.ex.ss_wasm_handle(p, n))));
  }

  resume(id, timedOut) {
    this.resp = { status: 200, headers: [], chunks: [], live: 0, deadline: 0 };
    const kind = this.call((ex) => ex.ss_wasm_resume(id, timedOut ? 1 : 0));
    if (kind < 0) throw new Error("resume of an unknown live read " + id);
    return this.response(kind);
  }

  liveFree(id) { if (!this.broken) this.call((ex) => ex.ss_wasm_live_free(id)); }
  liveCount() { return this.ex.ss_wasm_live_count(); }
  runPending() { this.call((ex) => ex.ss_wasm_run_pending()); }
  alarm() { this.call((ex) => ex.ss_wasm_alarm()); }
  retryAt(ms) { this.call((ex) => ex.ss_wasm_retry_at(ms)); }
  trap() { this.call((ex) => ex.ss_wasm_test_trap()); }

  streamId(reqBytes) {
    const r = this.call(() => this.withBytes(reqBytes, (p, n) => this.ex.ss_wasm_stream_id(p, n)));
    return r === 1 ? dec.decode(this.out()) : null;
  }

  forkSource(reqBytes) {
    const r = this.call(() => this.withBytes(reqBytes, (p, n) => this.ex.ss_wasm_fork_source(p, n)));
    return r === 1 ? dec.decode(this.out()) : null;
  }

  // { status, snapshot }, or { error: rc } (RC.TOOBIG: past SS_DO_SNAPSHOT_MAX_BYTES).
  forkExport(source, child) {
    const st = this.call(() => this.withStrings(source, child, (a, b, c, d) => this.ex.ss_wasm_fork_export(a, b, c, d)));
    if (st < 0) return { error: -st };
    return { status: st, snapshot: this.out() };
  }

  forkImport(snapshot) {
    const rc = this.call(() => this.withBytes(snapshot, (p, n) => this.ex.ss_wasm_fork_import(p, n)));
    if (rc !== 0) throw new Error("fork import failed: rc " + rc + " " + this.err);
  }

  forkSettle(child, source) {
    const r = this.call(() => this.withStrings(child, source, (a, b, c, d) => this.ex.ss_wasm_fork_settle(a, b, c, d)));
    if (r < 0) throw new Error("fork settle failed: rc " + -r);
    return r === 1;
  }

  dropChild(parent, child) {
    const r = this.call(() => this.withStrings(parent, child, (a, b, c, d) => this.ex.ss_wasm_drop_child(a, b, c, d)));
    if (r < 0) throw new Error("edge drop failed: rc " + -r + " " + this.err);
    return r === 1;
  }

  outboxAdd(parent, child) {
    const rc = this.call(() => this.withStrings(parent, child, (a, b, c, d) => this.ex.ss_wasm_outbox_add(a, b, c, d)));
    if (rc !== 0) throw new Error("outbox add failed: rc " + rc);
  }

  outboxNext() {
    const r = this.call((ex) => ex.ss_wasm_outbox_next());
    if (r < 0) throw new Error("outbox read failed: rc " + -r);
    if (r === 0) return null;
    const b = this.out(), d = new DataView(b.buffer);
    const seq = d.getBigInt64(0, true), plen = d.getUint32(8, true);
    return { seq, parent: dec.decode(b.subarray(12, 12 + plen)), child: dec.decode(b.subarray(12 + plen)) };
  }

  outboxDone(seq) { this.call((ex) => ex.ss_wasm_outbox_done(seq)); }
}

// ---- requests and responses ------------------------------------------------------------------

// The encoding of src/wasm/front.h: strings as u32 length + bytes.
function encodeRequest(request, url, body, tooLarge) {
  const parts = [];
  const put = (s) => { const b = typeof s === "string" ? enc.encode(s) : s; const n = new Uint8Array(4); new DataView(n.buffer).setUint32(0, b.length, true); parts.push(n, b); };
  const putU32 = (v) => { const n = new Uint8Array(4); new DataView(n.buffer).setUint32(0, v, true); parts.push(n); };
  put(request.method);
  put(url.pathname);
  put(url.search.startsWith("?") ? url.search.slice(1) : url.search);
  put(url.protocol.replace(/:$/, ""));
  put(url.host);
  const headers = [...request.headers];
  putU32(headers.length);
  for (const [k, v] of headers) { put(k); put(v); }
  putU32(tooLarge ? 1 : 0);
  put(body);
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

function concat(chunks) {
  if (chunks.length === 1) return new Uint8Array(chunks[0]);
  let n = 0;
  for (const c of chunks) n += c.byteLength;
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) { out.set(new Uint8Array(c), o); o += c.byteLength; }
  return out;
}

function toResponse(r, bodyStream) {
  const h = new Headers();
  for (const [k, v] of r.headers) h.append(k, v);
  const noBody = r.status === 204 || r.status === 304 || r.status < 200;
  return new Response(noBody ? null : (bodyStream ?? concat(r.chunks)), { status: r.status, headers: h });
}

function plain(status, text) {
  return new Response(text, { status, headers: { "content-type": "text/plain; charset=utf-8", "x-content-type-options": "nosniff" } });
}

// Reads and drops what is left of a refused body, up to DRAIN_LIMIT_BYTES,
// so that the client, still uploading, reads the 413 instead of a reset
// connection (as the native server does, SS_HTTP_BODY_DRAIN_SLACK).
async function drain(reader, already) {
  let n = already;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    n += value.length;
    if (n > DRAIN_LIMIT_BYTES) { await reader.cancel(); return; }
  }
}

// The body, read up to the module's limit: { body, tooLarge }.
async function readBody(request) {
  if (!request.body) return { body: new Uint8Array(0), tooLarge: false };
  const reader = request.body.getReader(), chunks = [];
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) { await drain(reader, 0); return { body: new Uint8Array(0), tooLarge: true }; }
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.length;
    if (n > MAX_BODY_BYTES) { await drain(reader, n); return { body: new Uint8Array(0), tooLarge: true }; }
    chunks.push(value);
  }
  return { body: concat(chunks), tooLarge: false };
}

// ---- the Durable Object ------------------------------------------------------------------------

export class StreamDO extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.core = null;
    this.waiting = new Map(); // live id -> wake function of the parked read
    this.woken = new Set();   // woken before its reader started waiting
    this.lock = Promise.resolve();
    this.retryMs = RETRY_MIN_MS;
    this.longPollMs = Number(env.LONG_POLL_TIMEOUT_MS ?? 30000);
    this.testHooks = env.STREAMSY_TEST_HOOKS === "1";
  }

  // The instance, new after a trap, or once grown large and idle.
  coreNow() {
    const c = this.core;
    if (c && !c.broken && !(c.ex.memory.buffer.byteLength > MAX_WASM_MEMORY && c.liveCount() === 0)) return c;
    if (c?.broken) console.log("streamsy: replacing a trapped instance");
    for (const wake of this.waiting.values()) wake("lost"); // continuations of the old instance
    this.waiting.clear();
    this.woken.clear();
    this.core = new Core(this.ctx.storage, (id) => this.onWake(id), this.longPollMs);
    return this.core;
  }

  onWake(id) {
    const wake = this.waiting.get(id);
    if (wake) wake("woken");
    else this.woken.add(id);
  }

  // Resolves "woken", "timeout" (at the deadline) or "lost" (instance replaced).
  waitLive(id, deadline) {
    if (this.woken.delete(id)) return Promise.resolve("woken");
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.waiting.delete(id); resolve("timeout"); }, Math.max(0, deadline - Date.now()));
      this.waiting.set(id, (why) => { clearTimeout(t); this.waiting.delete(id); resolve(why); });
    });
  }

  // One at a time: the steps that involve other objects (forks, deletes,
  // edge drops, outbox delivery).
  exclusive(fn) {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => {});
    return run;
  }

  async fetch(request) {
    const url = new URL(request.url);
    const { body, tooLarge } = await readBody(request);
    const req = encodeRequest(request, url, body, tooLarge);
    const core = this.coreNow();
    if (this.testHooks && request.headers.get("streamsy-test-trap") === "1") {
      try { core.trap(); } catch (e) { /* the instance is now broken */ }
      return plain(500, "trapped");
    }
    const source = core.forkSource(req);
    const self = core.streamId(req); /* canonical: the name this object was routed by */
    if (source !== null && self !== null && source !== self) return this.exclusive(() => this.forkPut(req, source, self));
    if (request.method === "DELETE") return this.exclusive(() => this.deleteStream(req));
    return this.serve(req);
  }

  // Any request: answer, or wait (long-poll) or stream (SSE).
  async serve(req) {
    let core = this.coreNow();
    let r = core.handle(req);
    core.runPending();
    if (r.kind === KIND_DONE) return toResponse(r);
    if (r.kind === KIND_STREAM) return this.streamSse(core, r);
    for (;;) { // long-poll
      const why = await this.waitLive(r.live, r.deadline);
      if (why === "lost" || core.broken) { // its instance died: ask the new one
        core = this.coreNow();
        r = core.handle(req);
        core.runPending();
      } else {
        r = core.resume(r.live, why === "timeout");
        core.runPending();
      }
      if (r.kind === KIND_DONE) return toResponse(r);
    }
  }

  // SSE: the first chunk now, then one chunk per resume; a slow client holds
  // the next resume back (each write waits for the reader).
  streamSse(core, first) {
    const { readable, writable } = new TransformStream();
    const writer = writable.getWriter();
    const pump = async () => {
      let r = first, live = first.live;
      try {
        await writer.write(concat(r.chunks));
        while (r.kind === KIND_STREAM) {
          const why = r.deadline <= Date.now() ? "now" : await this.waitLive(live, r.deadline);
          if (why === "lost" || core.broken) break; // clients reconnect from the last control event
          r = core.resume(live, why === "timeout");
          core.runPending();
          if (r.chunks.length) await writer.write(concat(r.chunks));
          live = r.live || live;
        }
        await writer.close();
      } catch (e) {
        if (r.kind !== KIND_DONE) core.liveFree(live); // the client went away
        try { await writer.abort(e); } catch {}
      }
    };
    this.ctx.waitUntil(pump());
    return toResponse(first, readable);
  }

  async forkPut(req, source, child) {
    const core = this.coreNow();
    if (!(await this.deliverOutbox())) return plain(503, "Fork source unreachable, retry later");
    const src = this.env.STREAMS.get(this.env.STREAMS.idFromName(source));
    let exp;
    try { exp = await src.exportForFork(source, child); }
    catch (e) { console.log("streamsy: fork export from " + source + " failed: " + e); return plain(503, "Fork source unreachable, retry later"); }
    if (exp.error === RC.TOOBIG) return plain(413, "Fork source too large to copy into a Durable Object fork");
    if (exp.error) { console.log("streamsy: fork export from " + source + " failed: rc " + exp.error); return plain(503, "Fork source unavailable, retry later"); }
    if (exp.snapshot.length) core.forkImport(exp.snapshot);
    const r = core.handle(req);
    core.runPending();
    if (!core.forkSettle(child, source) && exp.status === EXPORTED) {
      core.outboxAdd(source, child); // compensation: the edge the export recorded is not needed
      await this.deliverOutbox();
    }
    return toResponse(r);
  }

  async deleteStream(req) {
    const core = this.coreNow();
    const r = core.handle(req);
    core.runPending();
    await this.deliverOutbox(); // the cascade up the chain, before the answer
    return toResponse(r);
  }

  // Delivers queued edge drops in order. False when one could not be
  // delivered: the alarm retries, with backoff.
  async deliverOutbox() {
    const core = this.coreNow();
    for (;;) {
      const e = core.outboxNext();
      if (!e) { this.retryMs = RETRY_MIN_MS; core.retryAt(0); return true; }
      try {
        await this.env.STREAMS.get(this.env.STREAMS.idFromName(e.parent)).dropChild(e.parent, e.child);
      } catch (err) {
        console.log("streamsy: edge drop to " + e.parent + " failed, retrying in " + this.retryMs + " ms: " + err);
        core.retryAt(Date.now() + this.retryMs);
        this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
        return false;
      }
      core.outboxDone(e.seq);
    }
  }

  // ---- called by other objects (RPC) ----

  exportForFork(source, child) {
    return this.exclusive(() => {
      const core = this.coreNow();
      const r = core.forkExport(source, child);
      core.runPending();
      return r;
    });
  }

  dropChild(parent, child) {
    return this.exclusive(async () => {
      const core = this.coreNow();
      core.dropChild(parent, child);
      core.runPending();
      await this.deliverOutbox();
    });
  }

  async alarm() {
    const core = this.coreNow();
    core.alarm(); // expires what is due and re-arms
    core.runPending();
    await this.exclusive(() => this.deliverOutbox());
  }
}

// The canonical stream id, as the C handler computes it (src/handler/request.c):
// the path below the prefix, percent-decoded, UTF-8 without U+0000. Two
// spellings of one stream ("a%2Fb", "a/b") must reach one object. null when
// the path names no valid stream: the shared object's handler answers.
function canonicalId(pathname) {
  if (!pathname.startsWith(PREFIX + "/") || pathname.length <= PREFIX.length + 1) return null;
  let id;
  try { id = decodeURIComponent(pathname.slice(PREFIX.length + 1)); } catch { return null; }
  if (id.includes("\u0000") || id.split("/").some((seg) => seg === "." || seg === "..")) return null;
  return id;
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const name = canonicalId(url.pathname) ?? ROOT_OBJECT;
    if (Number(request.headers.get("content-length") ?? "0") > MAX_BODY_BYTES && name === ROOT_OBJECT) {
      if (request.body) await drain(request.body.getReader(), 0);
      return plain(413, "Payload too large");
    }
    return env.STREAMS.get(env.STREAMS.idFromName(name)).fetch(request);
  },
};
