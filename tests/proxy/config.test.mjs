// `defender-tags-proxy --config proxy.json` with bad input: each mistake gets its own message
// naming the field, a non-zero exit, no listening socket and no request to the upstream.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PORTAL, fakeUpstream, freePort, isListening, runServer, startServer } from "./lib.mjs";

let dir;
let upstream;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "dt-proxy-config-"));
  upstream = await fakeUpstream({ redirectTo: "http://127.0.0.1:9" });
});
after(async () => {
  await upstream?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Writes `text` as a proxy.json and runs the server on it. */
async function run(name, text) {
  const file = path.join(dir, `${name}.json`);
  writeFileSync(file, text);
  return runServer(["--config", file]);
}

test("each bad proxy.json is refused with its own message, exit code 1, nothing listened or sent", async () => {
  const port = await freePort();
  const listen = { host: "127.0.0.1", port };
  const good = { apiBaseUrl: upstream.url, allowedOrigins: [PORTAL], listen };
  const cases = [
    ["malformed JSON", `{"apiBaseUrl": "${upstream.url}", `, /\nnot valid JSON: EOF while parsing/],
    ["not an object", "[]", /the configuration must be a JSON object, not an array/],
    ["no allowedOrigins", JSON.stringify({ apiBaseUrl: upstream.url, listen }), /\nallowedOrigins: is required/],
    ["empty allowedOrigins", JSON.stringify({ ...good, allowedOrigins: [] }), /\nallowedOrigins: is empty/],
    [
      "http apiBaseUrl off loopback",
      JSON.stringify({ ...good, apiBaseUrl: "http://api.security.microsoft.com" }),
      /\napiBaseUrl: "http:\/\/api\.security\.microsoft\.com" uses http for api\.security\.microsoft\.com; use https/,
    ],
    [
      "origin with a path",
      JSON.stringify({ ...good, allowedOrigins: [PORTAL, `${PORTAL}/`] }),
      /\nallowedOrigins\[1\]: "https:\/\/portal\.contoso\.com\/" is not written as browsers send it; use "https:\/\/portal\.contoso\.com"/,
    ],
    ["wildcard origin", JSON.stringify({ ...good, allowedOrigins: ["*"] }), /\nallowedOrigins\[0\]: "\*": wildcards are not allowed/],
    [
      "http origin off loopback",
      JSON.stringify({ ...good, allowedOrigins: ["http://portal.contoso.com"] }),
      /\nallowedOrigins\[0\]: "http:\/\/portal\.contoso\.com" uses http off loopback/,
    ],
    ["unknown key", JSON.stringify({ ...good, allowedOrigin: [PORTAL] }), /\nallowedOrigin: unknown key; expected one of:/],
    ["unknown listen key", JSON.stringify({ ...good, listen: { ...listen, hots: "x" } }), /\nlisten\.hots: unknown key/],
    ["bad port", JSON.stringify({ ...good, listen: { port: 70000 } }), /\nlisten\.port: must be a whole number from 0 to 65535/],
    ["bad timeout", JSON.stringify({ ...good, timeoutMs: -5 }), /\ntimeoutMs: must be a whole number of milliseconds/],
    ["bad publicUrl", JSON.stringify({ ...good, publicUrl: "edge.contoso.com" }), /\npublicUrl: "edge\.contoso\.com" has no scheme/],
  ];
  for (const [name, text, message] of cases) {
    const { code, stdout, stderr } = await run(name.replace(/\W+/g, "-"), text);
    assert.equal(code, 1, `${name}: exit code\n${stderr}`);
    assert.match(stderr, message, name);
    assert.match(stderr, /^defender-tags-proxy: .*\.json: /, name);
    assert.equal(stdout, "", `${name}: printed ${stdout}`);
    assert.equal(await isListening(port), false, `${name}: something listens on ${port}`);
  }
  assert.equal(upstream.seen.length, 0, "a refused configuration sent nothing upstream");

  // Every error at once, one per line.
  const many = await run("many", JSON.stringify({ apiBaseUrl: "ftp://x", allowedOrigins: [], extra: 1, listen }));
  assert.equal(many.code, 1);
  const fields = many.stderr
    .split("\n")
    .slice(1)
    .filter(Boolean)
    .map((l) => l.split(":")[0]);
  assert.deepEqual(fields.sort(), ["allowedOrigins", "apiBaseUrl", "extra"]);

  // The good configuration does start (so the cases above failed for their own reason).
  const server = await startServer(good);
  try {
    assert.equal(server.url, `http://127.0.0.1:${port}`);
    assert.equal(await isListening(port), true);
  } finally {
    await server.stop();
  }
});

test("command line and file errors", async () => {
  const none = await runServer([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /--config is required\nusage: defender-tags-proxy --config proxy\.json/);
  const unknown = await runServer(["--port", "1"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown argument "--port"/);
  const missing = await runServer(["--config", path.join(dir, "absent.json")]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read .*absent\.json: ENOENT/);
  const help = await runServer(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: defender-tags-proxy --config proxy\.json/);
});
