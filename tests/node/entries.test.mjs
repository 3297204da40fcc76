// The package's entries hold what their names promise, and no more: a portal page that embeds the
// client downloads neither the edge proxy nor rules and hunting (xtask/src/package.rs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadPackage, loadFull, loadProxy } from "./emulator.mjs";

test("the client entry has the client and its bulk planner, without rules, hunting or the proxy", () => {
  const client = loadPackage();
  assert.equal(typeof client.DefenderClient, "function");
  assert.equal(typeof client.isDefenderError, "function");
  assert.equal(typeof client.DefenderClient.prototype.planBulk, "function");
  assert.equal(typeof client.DefenderClient.prototype.runPlan, "function");
  assert.equal(client.DefenderClient.prototype.runHuntingQuery, undefined);
  for (const name of ["parseRules", "planRules", "huntingQueries", "handleRequest", "EdgeProxy"]) {
    assert.equal(client[name], undefined, name);
  }
});

test("the full entry adds rules files and advanced hunting to the same client", () => {
  const full = loadFull();
  for (const name of ["DefenderClient", "isDefenderError", "parseRules", "planRules", "huntingQueries"]) {
    assert.equal(typeof full[name], "function", name);
  }
  assert.equal(typeof full.DefenderClient.prototype.runHuntingQuery, "function");
  assert.equal(typeof full.DefenderClient.prototype.runPlan, "function");
  assert.equal(full.handleRequest, undefined);
  // The same rules as the library: a bad file is refused with its reason.
  assert.throws(() => full.parseRules("{"), (e) => full.isDefenderError(e) && e.code === "invalid_input");
});

test("the proxy entry has the proxy alone", () => {
  const proxy = loadProxy();
  assert.equal(typeof proxy.handleRequest, "function");
  assert.equal(typeof proxy.EdgeProxy, "function");
  assert.equal(proxy.DefenderClient, undefined);
  assert.equal(proxy.parseRules, undefined);
});
