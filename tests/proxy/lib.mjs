// Helpers of the proxy-service suite: the package's Node server (bin/defender-tags-proxy.mjs)
// and its Workers entry (worker/index.mjs) in real workerd, both as child processes on free
// loopback ports, plus a tiny fake upstream. The emulator comes from tests/lib/harness.mjs.
import { spawn } from "node:child_process";
import { createServer, request as httpRequest } from "node:http";
import { createServer as createNetServer, connect } from "node:net";
import { createInterface } from "node:readline";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { requireEnv } from "../lib/harness.mjs";

export { requireEnv, loadPackage, startEmulator, admin, apiCalls, allTags } from "../lib/harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
export const PORTAL = "https://portal.contoso.com";
export const FOREIGN = "https://evil.example";
export const PUBLIC = "https://edge.contoso.com";

export const pkgDir = () => requireEnv("DT_PKG_DIR");
export const serverBin = () => path.join(pkgDir(), "bin", "defender-tags-proxy.mjs");

/** A free loopback port (for workerd, which needs its port in its config). */
export async function freePort() {
  const server = createNetServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Whether anything accepts connections on 127.0.0.1:port. */
export function isListening(port) {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

function stopper(child) {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    const timer = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }, 5_000);
    await exited;
    clearTimeout(timer);
  };
}

/** Runs the server to completion (for configurations it must refuse). */
export function runServer(args, { timeoutMs = 15_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [serverBin(), ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`defender-tags-proxy ${args.join(" ")} still running after ${timeoutMs} ms\n${stdout}${stderr}`));
    }, timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts the Node server with `config` (written to a temp proxy.json); resolves once it listens. */
export async function startServer(config) {
  const dir = mkdtempSync(path.join(tmpdir(), "dt-proxy-"));
  const file = path.join(dir, "proxy.json");
  writeFileSync(file, JSON.stringify(config, null, 2));
  const child = spawn(process.execPath, [serverBin(), "--config", file], { stdio: ["ignore", "pipe", "pipe"] });
  const out = [];
  const err = [];
  child.stderr.on("data", (d) => err.push(String(d)));
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`proxy did not listen\n${err.join("")}`)), 15_000);
    child.once("exit", (code) => reject(new Error(`proxy exited (${code})\n${err.join("")}`)));
    lines.on("line", (line) => {
      out.push(line);
      const m = /^LISTENING (http:\/\/\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  child.removeAllListeners("exit");
  const stop = stopper(child);
  return {
    url,
    pid: child.pid,
    stdout: () => out.join("\n"),
    stderr: () => err.join(""),
    async stop() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const capnpString = (s) => JSON.stringify(s);

/**
 * Starts real workerd with one worker per entry of `workers` ({ name, env }), each on its own
 * free port, all running the package's worker/index.mjs with the proxy entry's .wasm as a module.
 * Resolves to { urls: { name: url }, log(), stop() }.
 */
export async function startWorkerd(workers) {
  const dir = mkdtempSync(path.join(tmpdir(), "dt-workerd-"));
  mkdirSync(path.join(dir, "worker"));
  mkdirSync(path.join(dir, "proxy", "web"), { recursive: true });
  copyFileSync(path.join(pkgDir(), "worker", "index.mjs"), path.join(dir, "worker", "index.mjs"));
  for (const f of ["defender_tags_proxy.js", "defender_tags_proxy_bg.wasm"]) {
    copyFileSync(path.join(pkgDir(), "proxy", "web", f), path.join(dir, "proxy", "web", f));
  }
  const ports = {};
  for (const w of workers) ports[w.name] = await freePort();
  const binding = ([name, value]) =>
    typeof value === "string"
      ? `(name = ${capnpString(name)}, text = ${capnpString(value)})`
      : `(name = ${capnpString(name)}, json = ${capnpString(JSON.stringify(value))})`;
  const config = `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
${workers.map((w) => `    (name = ${capnpString(w.name)}, worker = .w${w.name}),`).join("\n")}
    # The workers reach the emulator and the fake upstream on loopback.
    (name = "internet", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [
${workers.map((w) => `    (name = ${capnpString(w.name)}, address = "127.0.0.1:${ports[w.name]}", http = (), service = ${capnpString(w.name)}),`).join("\n")}
  ],
);
${workers
  .map(
    (w) => `const w${w.name} :Workerd.Worker = (
  modules = [
    (name = "worker/index.mjs", esModule = embed "worker/index.mjs"),
    (name = "proxy/web/defender_tags_proxy.js", esModule = embed "proxy/web/defender_tags_proxy.js"),
    (name = "proxy/web/defender_tags_proxy_bg.wasm", wasm = embed "proxy/web/defender_tags_proxy_bg.wasm"),
  ],
  compatibilityDate = "2025-09-01",
  bindings = [ ${Object.entries(w.env).map(binding).join(", ")} ],
);`,
  )
  .join("\n")}
`;
  writeFileSync(path.join(dir, "config.capnp"), config);
  const bin = path.join(here, "node_modules", ".bin", "workerd");
  const child = spawn(bin, ["serve", "config.capnp", "--verbose"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  const log = [];
  child.stdout.on("data", (d) => log.push(String(d)));
  child.stderr.on("data", (d) => log.push(String(d)));
  const urls = Object.fromEntries(workers.map((w) => [w.name, `http://127.0.0.1:${ports[w.name]}`]));
  const deadline = Date.now() + 30_000;
  for (const w of workers) {
    while (!(await isListening(ports[w.name]))) {
      if (child.exitCode !== null) throw new Error(`workerd exited (${child.exitCode})\n${log.join("")}`);
      if (Date.now() > deadline) throw new Error(`workerd did not listen\n${log.join("")}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const stop = stopper(child);
  return {
    urls,
    pid: child.pid,
    log: () => log.join(""),
    async stop() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A fake Defender API on a free port: `GET /api/machines` answers one machine and a nextLink on
 * its own origin; `GET /api/machines/{MACHINE_ID}` answers 302 to `redirectTo`;
 * `GET /api/machines/findbytag?tag=big` answers BIG_ANSWER_BYTES of JSON. Records requests.
 */
export const MACHINE_ID = "34e83ca3feea4dae2353006ba389262c033a025e";
const BIG_MACHINES = 250_000;
const bigMachine = (i) => JSON.stringify({ id: i.toString(16).padStart(40, "0"), computerDnsName: `host-${i}`, machineTags: ["x".repeat(300)] });
const BIG_HEAD = '{"value":[';
const BIG_TAIL = "]}";
/** Size of the big findbytag answer (about 100 MB). */
export const BIG_ANSWER_BYTES =
  BIG_HEAD.length + BIG_TAIL.length + (BIG_MACHINES - 1) + Array.from({ length: BIG_MACHINES }, (_, i) => bigMachine(i).length).reduce((a, b) => a + b, 0);

/** Resolves when `stream` can take more, or is gone. */
export function writable(stream) {
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

/** Writes the big answer in slices, at the reader's pace; `progress.written` counts bytes. */
async function bigAnswer(res, progress) {
  res.writeHead(200, { "content-type": "application/json" });
  res.write(BIG_HEAD);
  progress.written = BIG_HEAD.length;
  for (let i = 0; i < BIG_MACHINES && !res.destroyed; i += 1000) {
    const slice = [];
    for (let j = i; j < Math.min(i + 1000, BIG_MACHINES); j++) slice.push(bigMachine(j));
    const text = (i === 0 ? "" : ",") + slice.join(",");
    progress.written += text.length;
    if (!res.write(text)) await writable(res);
  }
  res.end(BIG_TAIL);
}
export async function fakeUpstream({ redirectTo }) {
  const seen = [];
  const big = { written: 0 };
  const server = createServer((req, res) => {
    seen.push({ method: req.method, url: req.url, headers: req.headers });
    const origin = `http://${req.headers.host}`;
    if (req.method === "GET" && req.url.startsWith("/api/machines?")) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          "@odata.context": `${origin}/api/$metadata#Machines`,
          value: [{ id: MACHINE_ID, computerDnsName: "web01", machineTags: [] }],
          "@odata.nextLink": `${origin}/api/machines?$top=1&$skip=1`,
        }),
      );
    } else if (req.url.startsWith("/api/machines/findbytag?tag=big")) {
      bigAnswer(res, big);
    } else if (req.url === `/api/machines/${MACHINE_ID}`) {
      res.writeHead(302, { location: `${redirectTo}${req.url}` });
      res.end();
    } else {
      res.writeHead(404, { "content-type": "application/json" });
      res.end('{"error":{"code":"NotFound","message":"fake"}}');
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    seen,
    big,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}

/**
 * `fetch` that adds an `Origin` header, as a browser page on `origin` would: the package's
 * client under Node sends none. Installed for the duration of `fn`.
 */
export async function withOrigin(origin, fn) {
  const real = globalThis.fetch;
  globalThis.fetch = (input, init) => {
    const request = new Request(input, init);
    const headers = new Headers(request.headers);
    headers.set("origin", origin);
    return real(new Request(request, { headers }));
  };
  try {
    return await fn();
  } finally {
    globalThis.fetch = real;
  }
}

/** Resident memory of a process in MiB (Linux). */
export function rssMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
  return kb / 1024;
}

/**
 * A POST of up to `maxBytes` in `chunk`-byte writes (chunked, or with a declared
 * `Content-Length`), stopped as soon as the answer arrives. Resolves to { status, written, body };
 * `status` is "reset" when the connection was closed without an answer.
 */
export function upload(url, { headers = {}, declared, chunk = 1 << 20, maxBytes = 50 << 20 }) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    let answered = false;
    let written = 0;
    let settleResponse;
    const response = new Promise((r) => (settleResponse = r));
    const req = httpRequest({
      host: u.hostname,
      port: u.port,
      path: `${u.pathname}${u.search}`,
      method: "POST",
      headers: { "content-type": "application/json", ...headers, ...(declared ? { "content-length": String(declared) } : {}) },
    });
    req.on("response", (res) => {
      answered = true;
      settleResponse();
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      const done = () => {
        resolve({ status: res.statusCode, written, body });
        req.destroy();
      };
      res.once("end", done);
      res.once("error", done);
    });
    // The server may close the connection while we are still writing. An error with no answer
    // after a second resolves as { status: "reset" }, with the bytes written until then.
    req.on("error", (e) =>
      setTimeout(() => answered || resolve({ status: "reset", written, body: `${e.code}: ${e.message}` }), 1_000),
    );
    // Headers go out at once, even when no body byte follows.
    req.flushHeaders();
    const buffer = Buffer.alloc(chunk, 0x20);
    (async () => {
      while (!answered && written < maxBytes && !req.destroyed) {
        const more = req.write(buffer);
        written += chunk;
        if (!more) await Promise.race([writable(req), response]);
        // Through the event loop's poll phase before the next chunk: an answer already on the
        // socket is read now. Without it, a server that drains refused bodies (the Node server
        // lingers) keeps `drain` coming back first under load, and `written` measures how busy
        // this process was rather than when the proxy answered.
        await new Promise((r) => setImmediate(r));
      }
    })();
  });
}
