// Security-suite helpers on top of tests/lib/harness.mjs: an app token and a recording HTTP
// server (a stand-in upstream or second origin).
import { createServer } from "node:http";

export { requireEnv, loadPackage, loadProxy, startEmulator, admin, allTags, statsTotals, apiCalls } from "../lib/harness.mjs";
import { admin } from "../lib/harness.mjs";

export const mintToken = async (base, extra = {}) =>
  (await admin(base, "POST", "/_emulator/token", { persona: "app", ...extra })).access_token;

/**
 * A loopback HTTP server that records every request (method, url, headers, body) and answers
 * with `handler(req, body) -> { status, headers, body }`. Stopped with `close()`.
 */
export async function recordingServer(handler) {
  const seen = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      const answer = handler(req, body);
      res.writeHead(answer.status, answer.headers ?? {});
      res.end(answer.body ?? "");
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise((r) => server.close(r)),
  };
}
