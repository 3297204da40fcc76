#!/usr/bin/env node
// The example portal: a page of "Contoso's IT portal" on its own origin that embeds the tag
// editor and the tag manager from the npm package (`defender-tags-wasm/ui`), with the package's
// edge proxy (its Node server) in front of the Defender API on a third origin.
//
//   node examples/portal/serve.mjs --pkg target/pkg --api http://127.0.0.1:8080 [--port 0]
//
// --pkg      the built package (`cargo xtask package` writes target/pkg)
// --api      the Defender API the proxy forwards to (the emulator in development)
// --token-from URL   where the portal's back end gets tokens (default: --api's /_emulator/token,
//            the emulator's dev identity provider; a real portal asks Entra ID on behalf of its user)
// --port     the portal's port (default 0: any free one)
//
// Prints `PORTAL <url>` and `PROXY <url>` once both listen; SIGINT/SIGTERM stop both.
// Node built-ins only. The portal serves:
//   /                         public/ (the host page, its script and its own styles)
//   /vendor/defender-tags/    the package's ui/ and web/ folders (what a bundler would copy)
//   POST /portal/token        the portal's back end handing its signed-in user a token
//   /defender/...             the edge proxy again, inside this server, under a path of the
//                             portal's own origin (the package's EdgeProxy with a publicUrl
//                             that carries the path): `baseUrl: "<portal>/defender/"`
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
};

function args(argv) {
  const out = { port: "0" };
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(pkg|api|token-from|port)$/.exec(argv[i]);
    if (!m || argv[i + 1] === undefined) {
      process.stderr.write(`usage: serve.mjs --pkg DIR --api URL [--token-from URL] [--port N]\n`);
      process.exit(2);
    }
    out[m[1]] = argv[++i];
  }
  if (!out.pkg || !out.api) {
    process.stderr.write("serve.mjs: --pkg and --api are required\n");
    process.exit(2);
  }
  return out;
}

const opts = args(process.argv.slice(2));
const api = new URL(opts.api).origin;
const tokenFrom = opts["token-from"] ?? `${api}/_emulator/token`;
const roots = {
  "/vendor/defender-tags/ui/": path.resolve(opts.pkg, "ui"),
  "/vendor/defender-tags/web/": path.resolve(opts.pkg, "web"),
  "/": path.join(here, "public"),
};

async function serveFile(pathname, res) {
  for (const [prefix, dir] of Object.entries(roots)) {
    if (!pathname.startsWith(prefix)) continue;
    const rel = pathname === "/" ? "index.html" : decodeURIComponent(pathname.slice(prefix.length));
    const file = path.resolve(dir, rel);
    if (!file.startsWith(dir + path.sep)) break;
    try {
      const data = await readFile(file);
      res.writeHead(200, {
        "content-type": TYPES[path.extname(file)] ?? "application/octet-stream",
        "cache-control": "no-store",
      });
      res.end(data);
      return;
    } catch {
      break;
    }
  }
  res.writeHead(404, { "content-type": "text/plain" }).end("not found");
}

const { EdgeProxy } = createRequire(import.meta.url)(path.resolve(opts.pkg, "proxy", "node", "defender_tags_proxy.cjs"));
/** The proxy mounted at /defender/ (set once the portal knows its own URL). */
let mounted;

/** Answers a request under /defender/ with the mounted proxy (Fetch API in, node:http out). */
async function defender(req, res) {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    headers.set(name, Array.isArray(value) ? value.join(", ") : value);
  }
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  const request = new Request(new URL(req.url, portalUrl), { method: req.method, headers, body: hasBody ? Buffer.concat(chunks) : undefined });
  const response = await mounted.handle(request);
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(Buffer.from(await response.arrayBuffer()));
  process.stderr.write(`defender: ${req.method} ${new URL(req.url, portalUrl).pathname} ${response.status}\n`);
}

const portal = createServer(async (req, res) => {
  const url = new URL(req.url, "http://portal");
  if (url.pathname.startsWith("/defender/")) {
    await defender(req, res).catch((e) => res.writeHead(500).end(String(e.message)));
    return;
  }
  if (req.method === "POST" && url.pathname === "/portal/token") {
    // The portal's back end: it knows its user and asks the identity provider for a Defender
    // token; the page only ever sees that token, never a secret.
    let body = "";
    for await (const chunk of req) body += chunk;
    try {
      const upstream = await fetch(tokenFrom, { method: "POST", headers: { "content-type": "application/json" }, body });
      res.writeHead(upstream.status, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(await upstream.text());
    } catch (e) {
      res.writeHead(502, { "content-type": "text/plain" }).end(`token endpoint unreachable: ${e.message}`);
    }
    return;
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405).end();
    return;
  }
  await serveFile(url.pathname, res);
});
await new Promise((resolve) => portal.listen(Number(opts.port), "127.0.0.1", resolve));
const portalUrl = `http://127.0.0.1:${portal.address().port}`;
mounted = new EdgeProxy({ apiBaseUrl: api, allowedOrigins: [portalUrl], publicUrl: `${portalUrl}/defender` }, "handler");

// The edge proxy: the package's own Node server, allowing exactly the portal's origin.
const dir = mkdtempSync(path.join(tmpdir(), "dt-portal-proxy-"));
const config = path.join(dir, "proxy.json");
writeFileSync(config, JSON.stringify({ apiBaseUrl: api, allowedOrigins: [portalUrl], listen: { host: "127.0.0.1", port: 0 } }));
const proxy = spawn(process.execPath, [path.resolve(opts.pkg, "bin", "defender-tags-proxy.mjs"), "--config", config], {
  stdio: ["ignore", "pipe", "inherit"],
});
const lines = createInterface({ input: proxy.stdout });
const proxyUrl = await new Promise((resolve, reject) => {
  proxy.once("exit", (code) => reject(new Error(`the proxy exited (${code})`)));
  lines.on("line", (line) => {
    const m = /^LISTENING (http:\/\/\S+)/.exec(line);
    if (m) resolve(m[1].replace(/\/$/, ""));
    // The proxy's request log (refusals name their reason), passed on to ours.
    else process.stderr.write(`proxy: ${line}\n`);
  });
}).catch((e) => {
  process.stderr.write(`serve.mjs: ${e.message}\n`);
  process.exit(1);
});
process.stdout.write(`PORTAL ${portalUrl}\nPROXY ${proxyUrl}\n`);

function stop() {
  proxy.kill("SIGTERM");
  portal.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
