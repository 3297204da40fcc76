// Starts the emulator binary named by DT_EMULATOR_BIN on a free loopback port, and helpers for
// its /_emulator test endpoints.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { createRequire } from "node:module";
import path from "node:path";

export function requireEnv(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run these tests through \`cargo xtask test\``);
  }
  return value;
}

/** The built package's Node entry (CommonJS glue that loads the .wasm from disk). */
export function loadPackage() {
  const pkg = requireEnv("DT_PKG_DIR");
  const require = createRequire(import.meta.url);
  return require(path.join(pkg, "node", "defender_tags.cjs"));
}

export async function startEmulator(extraArgs = []) {
  const bin = requireEnv("DT_EMULATOR_BIN");
  const child = spawn(bin, ["--port", "0", "--machines", "300", "--seed", "11", "--cors-origin", "*", ...extraArgs], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("emulator did not print LISTENING within 30 s")), 30_000);
    child.once("exit", (code) => reject(new Error(`emulator exited early (${code})`)));
    lines.on("line", (line) => {
      const m = /^LISTENING (http:\/\/\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  // Keep draining stdout so the child never blocks on a full pipe.
  lines.on("line", () => {});
  return {
    url,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
    },
  };
}

export async function admin(base, method, route, body) {
  const res = await fetch(`${base}${route}`, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) {
    throw new Error(`${method} ${route} -> ${res.status}: ${await res.text()}`);
  }
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

export const reset = async (base) => {
  await admin(base, "POST", "/_emulator/reset");
  await admin(base, "PUT", "/_emulator/faults", {});
};
export const token = async (base, persona) => (await admin(base, "POST", "/_emulator/token", { persona })).access_token;
export const machineTags = async (base, id) => (await admin(base, "GET", `/_emulator/machines/${id}`)).machineTags ?? [];
export async function apiCalls(base) {
  const stats = await admin(base, "GET", "/_emulator/stats");
  return Object.values(stats.endpoints ?? {}).reduce((sum, e) => sum + (e.calls ?? 0), 0);
}
