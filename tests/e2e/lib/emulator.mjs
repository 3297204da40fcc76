// Starts the emulator binary ($DT_EMULATOR_BIN) serving the built site ($DT_SITE_DIR) on a free
// loopback port, and stops it (by its pid) afterwards.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..", "..");

export function emulatorBin() {
  return process.env.DT_EMULATOR_BIN || path.join(root, "target", "debug", "defender-tags-emulator");
}

export function siteDir() {
  return process.env.DT_SITE_DIR || path.join(root, "target", "site");
}

/**
 * Spawns the emulator and resolves once it prints `LISTENING http://...`.
 * Returns { url, process, stop(), get(path), put(path, body), post(path, body) }.
 */
export async function startEmulator({ machines = 2000, seed = 42, extraArgs = [] } = {}) {
  const args = ["--port", "0", "--static", siteDir(), "--machines", String(machines), "--seed", String(seed), ...extraArgs];
  const child = spawn(emulatorBin(), args, { stdio: ["ignore", "pipe", "pipe"] });
  const logs = [];
  child.stderr.on("data", (d) => logs.push(String(d)));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`emulator did not report LISTENING within 20 s\n${logs.join("")}`)), 20_000);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${emulatorBin()}: ${e.message}`));
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`emulator exited early (code ${code})\n${logs.join("")}`));
    });
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      const m = /^LISTENING (http:\/\/\S+)/.exec(line.trim());
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace(/\/$/, ""));
      }
    });
  });
  child.removeAllListeners("exit");
  const call = async (method, p, body) => {
    const res = await fetch(url + p, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${p}: HTTP ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  return {
    url,
    process: child,
    get: (p) => call("GET", p),
    put: (p, body) => call("PUT", p, body),
    post: (p, body) => call("POST", p, body),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        process.kill(child.pid, "SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, "SIGKILL");
      }
    },
  };
}
