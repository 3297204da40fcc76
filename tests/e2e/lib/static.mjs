// A second origin for the embedding tests: serves the built site ($DT_SITE_DIR) on another
// loopback port, plus POST /portal/token — the "portal's" own token endpoint, which asks the
// emulator's dev identity provider server-side (as a real portal's backend would), so the page
// needs no CORS for tokens. Stopped by the test that started it.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { siteDir } from "./emulator.mjs";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".json": "application/json",
};

/** Starts the server; `tokenFrom()` returns the emulator URL to get tokens from (set later). */
export async function startStaticSite(tokenFrom) {
  const root = path.resolve(siteDir());
  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url, "http://localhost");
      if (req.method === "POST" && url.pathname === "/portal/token") {
        let body = "";
        for await (const chunk of req) body += chunk;
        const upstream = await fetch(`${tokenFrom()}/_emulator/token`, { method: "POST", headers: { "content-type": "application/json" }, body });
        res.writeHead(upstream.status, { "content-type": "application/json" });
        res.end(await upstream.text());
        return;
      }
      const file = path.resolve(root, "." + decodeURIComponent(url.pathname));
      if (!file.startsWith(root + path.sep)) {
        res.writeHead(403).end();
        return;
      }
      const data = await readFile(file);
      res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream" });
      res.end(data);
    } catch {
      res.writeHead(404).end("not found");
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}
