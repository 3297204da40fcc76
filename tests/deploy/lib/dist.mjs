// `cargo xtask dist` as the suite runs it: the xtask binary that runs `cargo xtask test`
// ($DT_XTASK_BIN), with the site that step built ($DT_SITE_DIR), so no test rebuilds the wasm.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { requireEnv } from "../../lib/harness.mjs";

/** The bundle `cargo xtask test` built from tests/deploy/site-config.json under BASE_PATH. */
export const BASE_PATH = "/tools/defender-tags/";

export function prebuiltBundle() {
  return requireEnv("DT_DIST_DIR");
}

/**
 * Runs `xtask dist` with `config` (an object, or a string written as is) and `extra` options.
 * Returns { status, stderr, out } without throwing.
 */
export function runDist(dir, config, extra = [], { site = true } = {}) {
  const configFile = path.join(dir, "config.json");
  writeFileSync(configFile, typeof config === "string" ? config : JSON.stringify(config, null, 2));
  const out = path.join(dir, "bundle");
  const args = ["dist", "--config", configFile, "--out", out, ...extra];
  if (site) args.push("--site", requireEnv("DT_SITE_DIR"));
  const r = spawnSync(requireEnv("DT_XTASK_BIN"), args, { encoding: "utf8" });
  if (r.error) throw r.error;
  return { status: r.status, stderr: r.stderr, out };
}
