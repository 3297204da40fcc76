// Soak-suite helpers on top of tests/lib/harness.mjs: a token, a seeded PRNG and output files.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

export { requireEnv, loadPackage, startEmulator, admin, allTags, statsTotals } from "../lib/harness.mjs";
import { admin } from "../lib/harness.mjs";

export const mintToken = async (base, extra = {}) =>
  (await admin(base, "POST", "/_emulator/token", { persona: "app", ...extra })).access_token;

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
