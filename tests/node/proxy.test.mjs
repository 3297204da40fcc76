// The edge proxy (`handleRequest`) under Node 20, forwarding to the emulator.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { loadProxy, startEmulator, reset, token, machineTags, apiCalls } from "./emulator.mjs";

const { handleRequest } = loadProxy();
const PORTAL = "https://portal.contoso.com";
const PROXY = "https://edge.contoso.com";
let emu;
let config;
let bearer;

before(async () => {
  emu = await startEmulator();
  config = { apiBaseUrl: emu.url, allowedOrigins: [PORTAL] };
});
after(async () => {
  await emu?.stop();
});
beforeEach(async () => {
  await reset(emu.url);
  bearer = `Bearer ${await token(emu.url, "app")}`;
});

const call = (path, init = {}) =>
  handleRequest(new Request(`${PROXY}${path}`, { ...init, headers: { authorization: bearer, ...(init.headers ?? {}) } }), config);

async function listIds(n) {
  const res = await call(`/api/machines?$top=${n}`);
  assert.equal(res.status, 200);
  return (await res.json()).value.map((m) => m.id);
}

test("forwards the five endpoints with the caller's token", async () => {
  const res = await call("/api/machines?$top=3&$filter=healthStatus%20eq%20'Active'");
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.value.length, 3);
  assert.ok(body.value.every((m) => m.healthStatus === "Active"));
  const [id] = body.value.map((m) => m.id);

  const one = await call(`/api/machines/${id}`);
  assert.equal(one.status, 200);
  assert.equal((await one.json()).id, id);

  const tag = `proxy-${Date.now()}`;
  const post = await call(`/api/machines/${id}/tags`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ Value: tag, Action: "Add" }),
  });
  assert.equal(post.status, 200);
  assert.ok((await machineTags(emu.url, id)).includes(tag));

  const found = await call(`/api/machines/findbytag?tag=${encodeURIComponent(tag)}&useStartsWithFilter=false`);
  assert.equal(found.status, 200);
  const foundBody = await found.json();
  assert.deepEqual((Array.isArray(foundBody) ? foundBody : foundBody.value).map((m) => m.id), [id]);

  const ids = await listIds(3);
  const bulk = await call("/api/machines/AddOrRemoveTagForMultipleMachines", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ Value: tag, Action: "Remove", MachineIds: ids }),
  });
  assert.equal(bulk.status, 200);
  for (const m of ids) {
    assert.ok(!(await machineTags(emu.url, m)).includes(tag));
  }
});

test("the token passes through untouched: a bad one is the API's 401, none is refused locally", async () => {
  const bad = await handleRequest(new Request(`${PROXY}/api/machines?$top=1`, { headers: { authorization: "Bearer not-valid" } }), config);
  assert.equal(bad.status, 401);
  const before = await apiCalls(emu.url);
  assert.equal(before, 1, "the bad token reached the API");
  const none = await handleRequest(new Request(`${PROXY}/api/machines?$top=1`), config);
  assert.equal(none.status, 401);
  assert.equal((await none.json()).error.code, "Unauthorized");
  assert.equal(await apiCalls(emu.url), before, "no token, no forward");
});

test("refuses other paths, methods, traversal, encoded slashes and bad bodies without forwarding", async () => {
  const id = (await listIds(1))[0];
  const calls = await apiCalls(emu.url);
  const cases = [
    ["/api/alerts", {}, 404],
    ["/_emulator/stats", {}, 404],
    ["/api/machines/..%2F..%2F_emulator%2Fstats", {}, 400],
    [`/api/machines/${id}%2Ftags`, { method: "POST", body: "{}" }, 400],
    ["/api/machines/%2e%2e/alerts", {}, 404],
    [`/api/machines/${id}`, { method: "DELETE" }, 405],
    ["/api/machines", { method: "POST", body: "{}" }, 405],
    ["/api/machines?$expand=evidence", {}, 400],
    ["/api/machines?$top=20000", {}, 400],
    ["/api/machines/findbytag", {}, 400],
    [`/api/machines/${id}/tags`, { method: "POST", body: '{"value":"x","action":"Add"}' }, 400],
    [`/api/machines/${id}/tags`, { method: "POST", body: '{"Value":"","Action":"Add"}' }, 400],
    ["/api/machines/AddOrRemoveTagForMultipleMachines", { method: "POST", body: '{"Value":"x","Action":"Add","MachineIds":[]}' }, 400],
    ["/api/machines/AddOrRemoveTagForMultipleMachines", { method: "POST", body: "x".repeat(70_000) }, 413],
  ];
  for (const [path, init, status] of cases) {
    const res = await call(path, init);
    assert.equal(res.status, status, `${init.method ?? "GET"} ${path}`);
    const body = await res.json();
    assert.equal(typeof body.error.code, "string");
  }
  // An absolute-form or Host-header trick cannot change the upstream: it is always apiBaseUrl.
  const evil = await handleRequest(
    new Request(`https://evil.example/api/machines?$top=1`, { headers: { authorization: bearer, host: "evil.example" } }),
    config,
  );
  assert.equal(evil.status, 200);
  assert.equal(await apiCalls(emu.url), calls + 1, "only the allowed request reached the emulator");
});

test("CORS only for configured origins, including preflight", async () => {
  const ok = await call("/api/machines?$top=1", { headers: { origin: PORTAL } });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get("access-control-allow-origin"), PORTAL);
  assert.match(ok.headers.get("vary") ?? "", /Origin/);

  const preflight = await handleRequest(
    new Request(`${PROXY}/api/machines/AddOrRemoveTagForMultipleMachines`, {
      method: "OPTIONS",
      headers: { origin: PORTAL, "access-control-request-method": "POST", "access-control-request-headers": "authorization,content-type" },
    }),
    config,
  );
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-origin"), PORTAL);
  assert.equal(preflight.headers.get("access-control-allow-methods"), "POST");
  assert.match(preflight.headers.get("access-control-allow-headers"), /authorization/);

  const calls = await apiCalls(emu.url);
  const denied = await call("/api/machines?$top=1", { headers: { origin: "https://evil.example" } });
  assert.equal(denied.status, 403);
  assert.equal(denied.headers.get("access-control-allow-origin"), null);
  const deniedPreflight = await handleRequest(
    new Request(`${PROXY}/api/machines`, { method: "OPTIONS", headers: { origin: "https://evil.example" } }),
    config,
  );
  assert.equal(deniedPreflight.status, 403);
  assert.equal(await apiCalls(emu.url), calls, "denied origins are not forwarded");

  const serverToServer = await call("/api/machines?$top=1");
  assert.equal(serverToServer.status, 200);
  assert.equal(serverToServer.headers.get("access-control-allow-origin"), null);
});

test("a misconfigured proxy answers 500 and forwards nothing", async () => {
  for (const bad of [{}, { apiBaseUrl: "ftp://x" }, { apiBaseUrl: emu.url, extra: 1 }]) {
    const res = await handleRequest(new Request(`${PROXY}/api/machines`, { headers: { authorization: bearer } }), bad);
    assert.equal(res.status, 500);
    assert.equal((await res.json()).error.code, "ProxyMisconfigured");
  }
  assert.equal(await apiCalls(emu.url), 0);
});
