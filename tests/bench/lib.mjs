// Shared helpers of the bench drivers: the emulator process, /_emulator calls, statistics and
// Markdown output. Run by `cargo xtask bench` (DT_EMULATOR_BIN = release emulator, DT_PKG_DIR,
// DT_SITE_DIR, DT_OUTPUT).
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { createRequire } from "node:module";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

export function requireEnv(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the benchmarks through \`cargo xtask bench\``);
  return value;
}

export function loadPackage() {
  const require = createRequire(import.meta.url);
  return require(path.join(requireEnv("DT_PKG_DIR"), "node", "defender_tags.cjs"));
}

export async function startEmulator(args) {
  const bin = requireEnv("DT_EMULATOR_BIN");
  const child = spawn(bin, ["--port", "0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const log = [];
  child.stderr.on("data", (d) => {
    log.push(String(d));
    if (log.length > 100) log.shift();
  });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`emulator did not print LISTENING within 300 s\n${log.join("")}`)), 300_000);
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
  lines.on("line", () => {});
  return {
    url,
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

/** An application token; a distinct `app_id` gets its own rate-limit windows in the emulator. */
export const appToken = async (base, appId) =>
  (await admin(base, "POST", "/_emulator/token", { persona: "app", app_id: appId })).access_token;

/** Per-endpoint counters from /_emulator/stats. */
export async function endpointStats(base) {
  const s = await admin(base, "GET", "/_emulator/stats");
  return { endpoints: s.endpoints ?? {}, tagChanges: s.tag_changes ?? 0 };
}

/** Calls and 429s on the tag endpoints between two stats snapshots. */
export function tagCallsBetween(a, b) {
  let calls = 0;
  let throttled = 0;
  for (const name of ["tagMachine", "bulkTagMachines"]) {
    calls += (b.endpoints[name]?.calls ?? 0) - (a.endpoints[name]?.calls ?? 0);
    throttled += (b.endpoints[name]?.throttled ?? 0) - (a.endpoints[name]?.throttled ?? 0);
  }
  return { calls, throttled, tagChanges: b.tagChanges - a.tagChanges };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

export const median = (values) => percentile(values, 50);

export function writeOutput(name, text) {
  const dir = requireEnv("DT_OUTPUT");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** `x.xx×` or `n/a`. */
export const ratio = (value, goal) => (Number.isFinite(value / goal) && goal > 0 ? `${(value / goal).toFixed(2)}×` : "n/a");
export const fmt = (n, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");
export const int = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "n/a");
export const verdict = (ok) => (ok ? "met" : "**missed**");
