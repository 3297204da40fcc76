// Shared helpers of the bench drivers: the emulator process, /_emulator calls, statistics and
// Markdown output. Run by `cargo xtask bench` (DT_EMULATOR_BIN = release emulator, DT_PKG_DIR,
// DT_SITE_DIR, DT_OUTPUT).
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

export { requireEnv, loadPackage, admin } from "../lib/harness.mjs";
import { admin, requireEnv, startEmulator as start } from "../lib/harness.mjs";

/** The emulator, with room for 100k-machine datasets to start. */
export const startEmulator = (args) => start(args, { timeoutMs: 300_000 });

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

/** The middle value; with an even count, the mean of the two middle values (the nearest-rank
 * percentile would take the lower one, which flatters a verdict judged on an even number of pairs). */
export function median(values) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

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
