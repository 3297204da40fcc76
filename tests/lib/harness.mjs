// Shared by the Node suites (tests/node, tests/soak, tests/security, tests/bench): the emulator
// child process, the client package, and the emulator's loopback-only /_emulator endpoints.
// The emulator binary comes from DT_EMULATOR_BIN and the package from DT_PKG_DIR; `cargo xtask
// test` and `cargo xtask bench` set both. Node built-ins only, so no suite needs an npm install
// for it.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { createRequire } from "node:module";
import path from "node:path";

export function requireEnv(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run this suite through \`cargo xtask test\` (or \`cargo xtask bench\`)`);
  }
  return value;
}

/** One Node entry of the built package (CommonJS glue loading its .wasm from disk). */
function loadEntry(...file) {
  return createRequire(import.meta.url)(path.join(requireEnv("DT_PKG_DIR"), ...file));
}

/** The client (`defender-tags-wasm` in Node). */
export const loadPackage = () => loadEntry("node", "defender_tags.cjs");

/** The client plus rules files and advanced hunting (`defender-tags-wasm/full`). */
export const loadFull = () => loadEntry("full", "node", "defender_tags_full.cjs");

/** The edge proxy (`defender-tags-wasm/proxy`). */
export const loadProxy = () => loadEntry("proxy", "node", "defender_tags_proxy.cjs");

/**
 * Starts the emulator on a free loopback port with `args`; resolves once it prints LISTENING.
 * `timeoutMs` bounds start-up (100k-machine datasets in a debug build take longer).
 */
export async function startEmulator(args = [], { timeoutMs = 120_000 } = {}) {
  const bin = requireEnv("DT_EMULATOR_BIN");
  const child = spawn(bin, ["--port", "0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const log = [];
  child.stderr.on("data", (d) => {
    log.push(String(d));
    if (log.length > 200) log.shift();
  });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`emulator did not print LISTENING within ${timeoutMs / 1000} s\n${log.join("")}`)),
      timeoutMs,
    );
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
  lines.on("line", () => {}); // keep draining stdout so the child never blocks on a full pipe
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
  if (!res.ok) throw new Error(`${method} ${route} -> ${res.status}: ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

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

/** Total API calls the emulator has counted (every endpoint). */
export async function apiCalls(base) {
  return (await statsTotals(base)).calls;
}
