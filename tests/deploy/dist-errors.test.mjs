// Bad input to `cargo xtask dist`: it exits non-zero, names the field and writes nothing.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { mkdtempSync } from "node:fs";
import path from "node:path";
import { runDist } from "./lib/dist.mjs";

const GOOD = {
  clientId: "0b5b6c1e-1111-4222-8333-944445555666",
  tenant: "contoso.onmicrosoft.com",
};

const dirs = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function refused(name, config, extra, ...expected) {
  test(`refused: ${name}`, () => {
    const dir = mkdtempSync(path.join(tmpdir(), "dt-dist-bad-"));
    dirs.push(dir);
    const r = runDist(dir, config, extra);
    assert.notEqual(r.status, 0, `exit status\n${r.stderr}`);
    assert.match(r.stderr, /is not a valid site configuration; nothing was written:/);
    // Each expected text starts a line of the field list, or (a bare parenthesis) ends one.
    for (const text of expected) {
      const found = text.startsWith("(") ? r.stderr.includes(`${text}\n`) : r.stderr.includes(`\n  ${text}`);
      assert.ok(found, `stderr names "${text}":\n${r.stderr}`);
    }
    assert.equal(existsSync(r.out), false, "no bundle folder");
    assert.deepEqual(readdirSync(dir), ["config.json"], "nothing else written (no staging folder)");
  });
}

refused("malformed JSON", '{ "clientId": "0b5b6c1e-1111-4222-8333-944445555666", ', [], "config.json is not valid JSON");
refused("not an object", "[]", [], "config.json must be a JSON object, found an array");
refused("unknown cloud", { ...GOOD, cloud: "azure" }, [], 'cloud: unknown cloud "azure"; use one of commercial, gcc, gcc-high, dod');
refused(
  "http API base URL to a non-loopback host",
  { ...GOOD, apiBaseUrl: "http://defender-proxy.contoso.com" },
  [],
  "apiBaseUrl: API base URL uses http for defender-proxy.contoso.com",
);
refused("http authority to a non-loopback host", { ...GOOD, authority: "http://login.contoso.com" }, [], "authority: uses http for login.contoso.com");
refused("missing clientId", { tenant: "contoso.onmicrosoft.com" }, [], "clientId: required");
refused("bad basePath in the file", { ...GOOD, basePath: "/tools/../x/" }, [], "basePath: ");
refused("bad --base-path", GOOD, ["--base-path", "tools/defender-tags"], "basePath: ", "(given with --base-path)");
refused("a typo'd key", { ...GOOD, clientID: GOOD.clientId }, [], 'clientID: unknown key; did you mean "clientId"?');
refused(
  "several problems at once",
  { tenants: [{ id: "a.com", cloud: "azure" }], frameAncestors: ["*"] },
  [],
  "clientId: required",
  "tenants[0].cloud: unknown cloud",
  "frameAncestors[0]: a wildcard",
);
