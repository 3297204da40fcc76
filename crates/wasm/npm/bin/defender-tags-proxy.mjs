#!/usr/bin/env node
// defender-tags-proxy --config proxy.json
//
// The edge proxy as a Node service (node:http only): every request goes to the package's
// EdgeProxy (the same Rust rules as `handleRequest`: five allow-listed endpoints rebuilt by
// core, exact-origin CORS, redirects refused, the token passed through and never logged).
// proxy.json is validated by that same Rust code; on any error the server prints every bad field
// and exits before it listens or sends anything.
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { EdgeProxy } = require("../proxy/node/defender_tags_proxy.cjs");

const USAGE = "usage: defender-tags-proxy --config proxy.json";
// Exit codes: 2 for a wrong command line, 1 for a configuration or start-up error.
const EXIT_USAGE = 2;
const EXIT_CONFIG = 1;

function fail(message, code) {
  process.stderr.write(`defender-tags-proxy: ${message}\n`);
  process.exit(code);
}

function configPath(argv) {
  let path;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--help" || arg === "-h") {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else if (arg === "--config") {
      path = argv[++i];
      if (!path) fail(`--config needs a file\n${USAGE}`, EXIT_USAGE);
    } else if (arg.startsWith("--config=")) {
      path = arg.slice("--config=".length);
    } else {
      fail(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`, EXIT_USAGE);
    }
  }
  if (!path) fail(`--config is required\n${USAGE}`, EXIT_USAGE);
  return path;
}

const file = configPath(process.argv.slice(2));
let text;
try {
  text = readFileSync(file, "utf8");
} catch (e) {
  fail(`cannot read ${file}: ${e.message}`, EXIT_CONFIG);
}
let proxy;
try {
  proxy = new EdgeProxy(text, "server");
} catch (e) {
  fail(`${file}: ${e.message}`, EXIT_CONFIG);
}

/** One line per request. Only the method, path (no query), status, origin and refusal code. */
function log(method, path, status, origin, reason) {
  const fields = [new Date().toISOString(), method, path, status, `origin=${origin ?? "-"}`];
  if (reason) fields.push(`refused=${reason}`);
  process.stdout.write(`${fields.join(" ")}\n`);
}

function pathOf(url) {
  const end = url.search(/[?#]/);
  return (end === -1 ? url : url.slice(0, end)).slice(0, 200);
}

/**
 * The request body as a pull-based stream: the proxy reads only as far as it decides to, and
 * `discard()` drops whatever else arrives. Unlike `Readable.toWeb`, cancelling it does not destroy
 * the socket, so the refusal still reaches the client.
 */
function bodyStream(req) {
  let discarding = false;
  const stream = new ReadableStream(
    {
      start(controller) {
        req.on("data", (chunk) => {
          if (discarding) return;
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if (controller.desiredSize <= 0) req.pause();
        });
        req.once("end", () => discarding || controller.close());
        req.once("error", (e) => discarding || controller.error(e));
        req.pause();
      },
      pull() {
        req.resume();
      },
      cancel() {
        discard();
      },
    },
    { highWaterMark: 1 },
  );
  function discard() {
    discarding = true;
    req.resume();
  }
  return { stream, discard };
}

/** The Fetch API request the proxy sees; `null` for a request-target that is not a path. */
function toRequest(req, listening, body) {
  // Only origin-form targets ("/api/..."): an absolute-form target would let the caller choose
  // the URL the proxy believes it was called on.
  if (!req.url.startsWith("/")) return null;
  let base;
  try {
    base = new URL(`http://${req.headers.host ?? listening}`);
  } catch {
    base = new URL(`http://${listening}`);
  }
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === "string") headers.set(name, value);
    else if (Array.isArray(value)) headers.set(name, value.join(", "));
  }
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  // The body stays a stream: the proxy decides on path, method, token and Content-Length first
  // and reads at most its limit, so a large or endless upload never sits in memory.
  return new Request(new URL(req.url, base.origin), {
    method: req.method,
    headers,
    body: hasBody ? body.stream : undefined,
    duplex: hasBody ? "half" : undefined,
  });
}

/** Resolves when `stream` can take more, or is gone. */
function writable(stream) {
  return new Promise((resolve) => {
    const done = () => {
      stream.off("drain", done);
      stream.off("close", done);
      resolve();
    };
    stream.on("drain", done);
    stream.on("close", done);
  });
}

async function refusalCode(response) {
  if (response.status < 400) return undefined;
  try {
    return (await response.clone().json())?.error?.code ?? String(response.status);
  } catch {
    return String(response.status);
  }
}

/** How long a refused upload may keep sending (discarded) before its connection is closed. */
const LINGER_MS = 1_000;

async function serve(req, res, listening) {
  const origin = req.headers.origin;
  const path = pathOf(req.url);
  const body = bodyStream(req);
  // A body the proxy left unread is discarded after the answer; if it has not ended within
  // LINGER_MS the connection is closed (closing at once would reset it and lose the answer).
  res.once("finish", () => {
    if (req.complete) return;
    body.discard();
    setTimeout(() => req.complete || req.socket.destroy(), LINGER_MS).unref();
  });
  let response;
  const request = toRequest(req, listening, body);
  if (request === null) {
    response = Response.json({ error: { code: "PathRefused", message: "not a proxied path" } }, { status: 400 });
  } else {
    response = await proxy.handle(request);
  }
  const reason = await refusalCode(response);
  res.writeHead(response.status, Object.fromEntries(response.headers));
  // Streamed on as it arrives, at the client's pace: a large answer is never held whole.
  if (response.body) {
    for await (const chunk of response.body) {
      // A client gone mid-answer ends the loop, which cancels the upstream body.
      if (res.destroyed) break;
      if (!res.write(chunk)) await writable(res);
    }
  }
  res.end();
  log(req.method, path, response.status, origin, reason);
}

const server = createServer((req, res) => {
  const address = server.address();
  const listening = `${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
  serve(req, res, listening).catch((e) => {
    // The proxy itself always answers with a Response; this is a failure of this wrapper.
    process.stderr.write(`defender-tags-proxy: ${req.method} ${pathOf(req.url)}: ${e?.message ?? e}\n`);
    if (!res.headersSent) {
      res.writeHead(500, { "content-type": "application/json", connection: "close" });
      res.end(JSON.stringify({ error: { code: "ProxyError", message: "internal error" } }));
    } else {
      res.destroy();
    }
  });
});
server.on("error", (e) => fail(`cannot listen on ${proxy.listenHost}:${proxy.listenPort}: ${e.message}`, EXIT_CONFIG));
server.listen(proxy.listenPort, proxy.listenHost, () => {
  const { address, port, family } = server.address();
  const host = family === "IPv6" ? `[${address}]` : address;
  // First line on stdout, like the emulator's, so scripts and tests can read the port.
  process.stdout.write(`LISTENING http://${host}:${port}\n`);
});

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
