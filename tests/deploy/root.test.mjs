// A bundle hosted at the origin's root (basePath "/", the default): the other shape of the
// generated server block, checked with real nginx.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { readableTempDir, startNginx } from "./lib/nginx.mjs";
import { runDist } from "./lib/dist.mjs";

let nginx;
let dir;
let app;
before(async () => {
  dir = readableTempDir("dt-deploy-root-");
  const r = runDist(dir, {
    clientId: "0b5b6c1e-1111-4222-8333-944445555666",
    tenants: [
      { id: "contoso.onmicrosoft.com", name: "Contoso" },
      { id: "fabrikam.onmicrosoft.com", name: "Fabrikam", cloud: "gcc-high" },
    ],
    apiBaseUrl: "https://defender-proxy.contoso.example",
  });
  assert.equal(r.status, 0, r.stderr);
  app = path.join(r.out, "public");
  nginx = await startNginx(r.out);
});
after(async () => {
  await nginx?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const get = (p) => fetch(nginx.origin + p, { redirect: "manual" });

test("root bundle: index, fallback, hashed assets, other hosts' files hidden", async () => {
  const index = await get("/");
  assert.equal(index.status, 200);
  assert.equal(index.headers.get("cache-control"), "no-cache");
  // Both tenants' sign-in origins, the proxy and their Graph origins (advanced hunting),
  // nothing else; nobody may frame the page.
  assert.match(
    index.headers.get("content-security-policy"),
    /; connect-src 'self' https:\/\/defender-proxy\.contoso\.example https:\/\/graph\.microsoft\.com https:\/\/graph\.microsoft\.us https:\/\/login\.microsoftonline\.com https:\/\/login\.microsoftonline\.us; frame-src 'none'; frame-ancestors 'none'; /,
  );
  const html = await index.text();
  assert.ok(html.includes('<meta name="defender-tags-base" content="/">'));
  const deep = await get("/machines/abc");
  assert.equal(deep.status, 200);
  assert.equal(await deep.text(), html);
  const css = /href="(\/app\.[0-9a-f]{12}\.css)"/.exec(html)?.[1];
  assert.ok(css, "hashed stylesheet at the root");
  const asset = await get(css);
  assert.equal(asset.status, 200);
  assert.equal(asset.headers.get("cache-control"), "public, max-age=31536000, immutable");
  assert.equal(await asset.text(), readFileSync(path.join(app, css), "utf8"));
  for (const hidden of ["/_headers", "/_redirects", "/staticwebapp.config.json"]) {
    const res = await get(hidden);
    assert.equal(res.status, 404, hidden);
    await res.arrayBuffer();
  }
  const config = await (await get("/config.json")).json();
  assert.equal(config.tenants.length, 2);
});
