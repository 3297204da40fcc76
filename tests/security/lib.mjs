// Emulator process, /_emulator helpers and a recording HTTP server for the security suite. The
// emulator binary comes from DT_EMULATOR_BIN, the client package from DT_PKG_DIR and the built
// site from DT_SITE_DIR (cargo xtask sets them).
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { createRequire } from "node:module";
import { createServer } from "node:http";
import path from "node:path";

export function requireEnv(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this suite through \`cargo xtask test\``);
  return value;
}

/** The built package's Node entry (CommonJS glue loading the .wasm from disk). */
export function loadPackage() {
  const require = createRequire(import.meta.url);
  return require(path.join(requireEnv("DT_PKG_DIR"), "node", "defender_tags.cjs"));
}

/** Starts the emulator on a free loopback port; resolves once it prints LISTENING. */
export async function startEmulator(args) {
  const bin = requireEnv("DT_EMULATOR_BIN");
  const child = spawn(bin, ["--port", "0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const log = [];
  child.stderr.on("data", (d) => {
    log.push(String(d));
    if (log.length > 200) log.shift();
  });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`emulator did not print LISTENING within 120 s\n${log.join("")}`)), 120_000);
    child.once("error", (e) => reject(new Error(`cannot start ${bin}: ${e.message}`)));
    child.once("exit", (code) => reject(new Error(`emulator exited early (${code})\n${log.join("")}`)));
    lines.on("line", (line) => {
      const m = /^LISTENING (http:\/\/\S+)/.exec(line.trim());
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/$/, ""));
      }
    });
  });
  child.removeAllListeners("exit");
  lines.on("line", () => {}); // keep draining stdout
  return {
    url,
    log: () => log.join(""),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      process.kill(child.pid, "SIGTERM");
      const timer = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, "SIGKILL");
      }, 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A call to the loopback-only /_emulator endpoints (no auth, no rate limit, no faults). */
export async function admin(base, method, route, body) {
  const res = await fetch(`${base}${route}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${route} -> ${res.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

export const mintToken = async (base, extra = {}) =>
  (await admin(base, "POST", "/_emulator/token", { persona: "app", ...extra })).access_token;

/** Every machine's tags as the emulator stores them: Map id -> string[]. */
export async function allTags(base) {
  const machines = await admin(base, "GET", "/_emulator/machines");
  return new Map(machines.map((m) => [m.id, [...(m.machineTags ?? [])]]));
}

/** Sum of the /_emulator/stats counters over every endpoint. */
export async function statsTotals(base) {
  const s = await admin(base, "GET", "/_emulator/stats");
  const t = { calls: 0, throttled: 0, client_errors: 0, server_errors: 0, dropped: 0 };
  for (const e of Object.values(s.endpoints ?? {})) {
    for (const k of Object.keys(t)) t[k] += e[k] ?? 0;
  }
  return { ...t, tag_operations: s.tag_operations ?? 0, tag_changes: s.tag_changes ?? 0 };
}

/**
 * A loopback HTTP server that records every request (method, url, headers, body) and answers
 * with `handler(req, body) -> { status, headers, body }`. Stopped with `close()`.
 */
export async function recordingServer(handler) {
  const seen = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      const answer = handler(req, body);
      res.writeHead(answer.status, answer.headers ?? {});
      res.end(answer.body ?? "");
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise((r) => server.close(r)),
  };
}

/** Total API calls the emulator has counted (every endpoint). */
export async function apiCalls(base) {
  return (await statsTotals(base)).calls;
}
