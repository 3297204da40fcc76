// Real nginx (Debian's /usr/sbin/nginx, installed by `cargo xtask tools`) serving a `cargo xtask
// dist` bundle with the server block the bundle ships: a foreground process with its pid, logs
// and temp files in a private folder, listening on a free loopback port. Only the `listen` line
// of the generated block is changed.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, chmodSync, rmSync, existsSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

export const NGINX = process.env.DT_NGINX || "/usr/sbin/nginx";

export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitForPort(port, child, log, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}):\n${log()}`);
    const open = await new Promise((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nginx did not listen on ${port} within ${timeoutMs} ms:\n${log()}`);
}

/**
 * Starts nginx with `bundle`/nginx.conf. Resolves to { url, origin, port, conf, stop() }.
 * `port` may be given (a test that must know the origin before building the bundle).
 */
export async function startNginx(bundle, { port } = {}) {
  const snippet = readFileSync(path.join(bundle, "nginx.conf"), "utf8");
  if (!snippet.includes("    listen 80;\n")) throw new Error("the generated server block has no `listen 80;` line");
  port ??= await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), "dt-nginx-"));
  const server = snippet.replace("    listen 80;\n", `    listen 127.0.0.1:${port};\n`);
  writeFileSync(path.join(dir, "server.conf"), server);
  // Started as root, nginx's workers drop to `nobody`; they only read the bundle.
  const main = `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 64; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  include ${dir}/server.conf;
}
`;
  const conf = path.join(dir, "nginx.conf");
  writeFileSync(conf, main);
  // Fail with nginx's own message on a bad generated block.
  try {
    execFileSync(NGINX, ["-t", "-p", dir, "-c", conf], { stdio: "pipe" });
  } catch (e) {
    throw new Error(`nginx -t refused the configuration:\n${e.stderr}\n--- server block ---\n${server}`);
  }
  const child = spawn(NGINX, ["-p", dir, "-c", conf, "-g", "daemon off;"], { stdio: ["ignore", "ignore", "pipe"] });
  const stderr = [];
  child.stderr.on("data", (d) => stderr.push(String(d)));
  const log = () => {
    const file = path.join(dir, "error.log");
    return stderr.join("") + (existsSync(file) ? readFileSync(file, "utf8") : "");
  };
  await waitForPort(port, child, log);
  const origin = `http://127.0.0.1:${port}`;
  return {
    port,
    origin,
    conf: server,
    log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        // SIGTERM: nginx's fast shutdown; the master stops its workers before it exits.
        process.kill(child.pid, "SIGTERM");
        const timer = setTimeout(() => {
          if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, "SIGKILL");
        }, 5_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A folder the nginx workers (`nobody` when the suite runs as root) can read. */
export function readableTempDir(prefix) {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  chmodSync(dir, 0o755);
  return dir;
}
