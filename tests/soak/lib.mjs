// Emulator process and /_emulator helpers for the soak suite, plus a seeded PRNG. The emulator
// binary comes from DT_EMULATOR_BIN and the client package from DT_PKG_DIR (cargo xtask sets both).
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { createRequire } from "node:module";
import { mkdirSync, writeFileSync } from "node:fs";
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

/** SplitMix64-style seeded PRNG in 32-bit steps (deterministic subsets and choices). */
export function prng(seed) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
  return {
    next,
    below: (n) => Math.floor(next() * n),
    chance: (p) => next() < p,
    pick: (xs) => xs[Math.floor(next() * xs.length)],
    shuffle(xs) {
      const a = [...xs];
      for (let i = a.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [a[i], a[j]] = [a[j], a[i]];
      }
      return a;
    },
  };
}

/** Writes a result file under DT_OUTPUT (if set) for `cargo xtask bench` to read. */
export function writeOutput(name, text) {
  const dir = process.env.DT_OUTPUT;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, name), text);
}
