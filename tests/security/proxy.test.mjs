// The edge proxy (`handleRequest`) against a recording upstream: only the caller's bearer token
// and the headers core builds go upstream (no cookies, no forwarded-for, no caller-chosen
// headers); only content-type and Retry-After come back (no Set-Cookie, no upstream CORS); an
// upstream redirect never carries the token to another origin; a config pointing at plain http
// off loopback is refused. (Foreign paths, methods, bodies and origins: tests/node/proxy.test.mjs
// and crates/wasm/src/edge/tests.rs.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadProxy, recordingServer } from "./lib.mjs";

const { handleRequest } = loadProxy();
const ID = "34e83ca3feea4dae2353006ba389262c033a025e";
const TOKEN = "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
const PORTAL = "https://portal.contoso.com";

const machine = JSON.stringify({ id: ID, computerDnsName: "web01", machineTags: [] });

test("only the token and core's headers go upstream; only content-type and Retry-After come back", async () => {
  const upstream = await recordingServer(() => ({
    status: 200,
    headers: {
      "content-type": "application/json",
      "set-cookie": "session=upstream; HttpOnly",
      "access-control-allow-origin": "*",
      "x-upstream-secret": "internal",
      "retry-after": "3",
    },
    body: machine,
  }));
  try {
    const res = await handleRequest(
      new Request(`https://edge.contoso.com/api/machines/${ID}/tags`, {
        method: "POST",
        headers: {
          authorization: TOKEN,
          "content-type": "application/json",
          cookie: "portal-session=abc",
          "x-forwarded-for": "10.0.0.1",
          "x-forwarded-host": "evil.example",
          "x-api-key": "caller-secret",
          origin: PORTAL,
          "x-http-method-override": "DELETE",
        },
        body: JSON.stringify({ Value: "Finance", Action: "Add" }),
      }),
      { apiBaseUrl: upstream.url, allowedOrigins: [PORTAL] },
    );
    assert.equal(res.status, 200);
    assert.equal(upstream.seen.length, 1);
    const sent = upstream.seen[0];
    assert.equal(sent.method, "POST");
    assert.equal(sent.url, `/api/machines/${ID}/tags`);
    assert.equal(sent.headers.authorization, TOKEN);
    for (const h of ["cookie", "x-forwarded-for", "x-forwarded-host", "x-api-key", "origin", "x-http-method-override"]) {
      assert.equal(sent.headers[h], undefined, `${h} was forwarded upstream`);
    }
    assert.equal(sent.headers.host, new URL(upstream.url).host);
    assert.deepEqual(JSON.parse(sent.body), { Value: "Finance", Action: "Add" }, "the body is rebuilt by core");

    assert.equal(res.headers.get("set-cookie"), null, "upstream cookies are not passed to the browser");
    assert.equal(res.headers.get("x-upstream-secret"), null);
    assert.equal(res.headers.get("access-control-allow-origin"), PORTAL, "CORS is the proxy's, not the upstream's");
    assert.equal(res.headers.get("retry-after"), "3");
    assert.match(res.headers.get("content-type"), /json/);
  } finally {
    await upstream.close();
  }
});

test("an upstream redirect never takes the token to another origin", async () => {
  const other = await recordingServer(() => ({ status: 200, headers: { "content-type": "application/json" }, body: '{"value":[]}' }));
  const upstream = await recordingServer((req) => ({ status: 302, headers: { location: `${other.url}${req.url}` } }));
  try {
    const res = await handleRequest(
      new Request("https://edge.contoso.com/api/machines?$top=1", { headers: { authorization: TOKEN } }),
      { apiBaseUrl: upstream.url },
    );
    assert.equal(upstream.seen.length, 1);
    for (const r of other.seen) {
      assert.equal(r.headers.authorization, undefined, "the token reached the redirect target");
    }
    await res.arrayBuffer();
  } finally {
    await upstream.close();
    await other.close();
  }
});

test("a request the proxy refuses never reaches upstream, whatever its headers", async () => {
  const upstream = await recordingServer(() => ({ status: 200, headers: { "content-type": "application/json" }, body: "{}" }));
  try {
    const config = { apiBaseUrl: upstream.url, allowedOrigins: [PORTAL] };
    const cases = [
      new Request("https://edge.contoso.com/api/machines", { headers: { authorization: TOKEN, origin: "https://evil.example" } }),
      new Request(`https://edge.contoso.com/api/machines/${ID}/offboard`, { method: "POST", headers: { authorization: TOKEN }, body: "{}" }),
      new Request("https://edge.contoso.com/api/machines/../alerts", { headers: { authorization: TOKEN } }),
      new Request("https://edge.contoso.com/api/machines", { method: "PATCH", headers: { authorization: TOKEN }, body: "{}" }),
      new Request("https://edge.contoso.com/api/machines?$filter=nonsense((", { headers: { authorization: TOKEN } }),
    ];
    for (const r of cases) {
      const res = await handleRequest(r, config);
      assert.ok(res.status >= 400, `${r.method} ${r.url} -> ${res.status}`);
      assert.equal(typeof (await res.json()).error.code, "string");
    }
    assert.equal(upstream.seen.length, 0, "nothing was forwarded");
  } finally {
    await upstream.close();
  }
});

test("a proxy config with plain http off loopback or a bad base is refused, not used", async () => {
  for (const apiBaseUrl of ["http://api.security.microsoft.com", "ftp://x", "https://user:pw@api.security.microsoft.com", "not a url"]) {
    const res = await handleRequest(
      new Request("https://edge.contoso.com/api/machines?$top=1", { headers: { authorization: TOKEN } }),
      { apiBaseUrl },
    );
    assert.ok(res.status >= 500 || res.status === 400, `${apiBaseUrl} -> ${res.status}`);
    const body = await res.json();
    assert.equal(typeof body.error.code, "string", apiBaseUrl);
  }
});

test("the proxy does not follow an upstream redirect to another origin", async () => {
  const other = await recordingServer(() => ({ status: 200, headers: { "content-type": "application/json" }, body: '{"value":[]}' }));
  const upstream = await recordingServer((req) => ({ status: 302, headers: { location: `${other.url}${req.url}` } }));
  try {
    const res = await handleRequest(
      new Request("https://edge.contoso.com/api/machines?$top=1", { headers: { authorization: TOKEN } }),
      { apiBaseUrl: upstream.url },
    );
    await res.arrayBuffer();
    assert.equal(other.seen.length, 0, "the proxy fetched from the redirect target");
    assert.notEqual(res.status, 200, "a redirect is not passed off as the API's answer");
  } finally {
    await upstream.close();
    await other.close();
  }
});
