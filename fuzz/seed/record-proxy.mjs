// Records HTTP traffic as fuzz inputs for fuzz/fuzz_handler.c: a reverse
// proxy that forwards every request to the server unchanged (responses
// stream back, so long-polls and SSE work) and writes each request as one
// file: "METHOD TARGET\n", "Name: value\n" lines, an empty line, the body.
//
//   node record-proxy.mjs <listen-port> <server-port> <out-dir>
import http from "node:http";
import fs from "node:fs";
import crypto from "node:crypto";
import path from "node:path";

const [listenPort, serverPort, outDir] = process.argv.slice(2);
fs.mkdirSync(outDir, { recursive: true });
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

http
  .createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const head = [`${req.method} ${req.url}`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        const name = req.rawHeaders[i];
        if (!/^(host|connection|content-length|transfer-encoding|keep-alive)$/i.test(name))
          head.push(`${name}: ${req.rawHeaders[i + 1]}`);
      }
      const input = Buffer.concat([Buffer.from(head.join("\n") + "\n\n"), body]);
      const name = crypto.createHash("sha1").update(input).digest("hex");
      fs.writeFileSync(path.join(outDir, name), input);

      const up = http.request(
        { port: serverPort, host: "127.0.0.1", method: req.method, path: req.url, headers: req.headers, agent },
        (r) => {
          res.writeHead(r.statusCode, r.rawHeaders);
          r.pipe(res);
        },
      );
      up.on("error", () => res.destroy());
      res.on("close", () => up.destroy());
      up.end(body);
    });
  })
  .listen(listenPort, "127.0.0.1", () => console.log(`recording on ${listenPort} -> ${serverPort}`));
