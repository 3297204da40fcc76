// The emulator serving the built site ($DT_SITE_DIR) for the browser suites, on the shared
// harness (tests/lib/harness.mjs: spawn on a free loopback port, wait for LISTENING, stop by pid).
import { admin, requireEnv, startEmulator as start } from "../../lib/harness.mjs";

export function siteDir() {
  return requireEnv("DT_SITE_DIR");
}

/**
 * Spawns the emulator with the site and a seeded dataset.
 * Returns { url, stop(), get(path), put(path, body), post(path, body) } (the last three call
 * the loopback-only /_emulator endpoints).
 */
export async function startEmulator({ machines = 2000, seed = 42, extraArgs = [] } = {}) {
  const emu = await start(["--static", siteDir(), "--machines", String(machines), "--seed", String(seed), ...extraArgs]);
  return {
    url: emu.url,
    stop: () => emu.stop(),
    get: (p) => admin(emu.url, "GET", p),
    put: (p, body) => admin(emu.url, "PUT", p, body),
    post: (p, body) => admin(emu.url, "POST", p, body),
  };
}
