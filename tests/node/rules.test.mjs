// examples/rules/apply-rules.mjs end to end: the real script in a child process, its token from
// @azure/msal-node (client credentials) against the emulator's OIDC authority, the rules
// planned and run by the built package. Checks the tenant after each run through the API.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, writeFile, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { startEmulator, reset, token, loadPackage, requireEnv, apiCalls, admin } from "./emulator.mjs";

const SCRIPT = fileURLToPath(new URL("../../examples/rules/apply-rules.mjs", import.meta.url));
const TENANT = "11111111-2222-3333-4444-555555555555";
const TAG = "Rule Ubuntu";

let emu;
let dir;
let api;

before(async () => {
  emu = await startEmulator();
  dir = await mkdtemp(path.join(tmpdir(), "dt-rules-"));
  const { DefenderClient } = loadPackage();
  api = new DefenderClient({ baseUrl: emu.url, getToken: () => token(emu.url, "app") });
});

after(async () => {
  await emu?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs the script; resolves to { code, report, stderr }. */
async function applyRules(rules, extra = []) {
  const rulesPath = path.join(dir, `rules-${Math.random().toString(16).slice(2)}.json`);
  const reportPath = rulesPath.replace(/\.json$/, ".report.json");
  await writeFile(rulesPath, typeof rules === "string" ? rules : JSON.stringify(rules));
  const args = [
    SCRIPT,
    "--rules", rulesPath,
    "--tenant", TENANT,
    "--client-id", "00000000-0000-4000-8000-00000000a991",
    "--authority", `${emu.url}/${TENANT}/v2.0`,
    "--base-url", emu.url,
    "--scope", "https://api.securitycenter.microsoft.com/.default",
    "--package", requireEnv("DT_PKG_DIR"),
    "--report", reportPath,
    ...extra,
  ];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, DEFENDER_TAGS_CLIENT_SECRET: "emulator-accepts-any-secret" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const code = await new Promise((resolve) => child.on("exit", resolve));
  const report = JSON.parse(await readFile(reportPath, "utf8"));
  return { code, report, stderr };
}

const exactUbuntu = {
  version: 1,
  rules: [{ name: "Ubuntu hosts", tag: TAG, mode: "exact", source: { kind: "filter", query: "os=Ubuntu" } }],
};

/** Ids of the listed machines carrying TAG, and of those the rule matches. */
async function tenantState() {
  const machines = await api.listAllMachines();
  const tagged = machines.filter((m) => m.machineTags.includes(TAG)).map((m) => m.id).sort();
  const ubuntu = machines.filter((m) => m.osPlatform === "Ubuntu").map((m) => m.id).sort();
  return { machines, tagged, ubuntu };
}

test("an exact rule: dry run changes nothing, the run converges the tenant, the next run has nothing to do", async () => {
  await reset(emu.url);
  const before = await tenantState();
  assert.ok(before.ubuntu.length >= 3, "the seeded tenant has Ubuntu machines");
  // A stale holder the exact rule must untag.
  const stale = before.machines.find((m) => m.osPlatform === "Windows11");
  await api.addTag(stale.id, TAG);

  const dry = await applyRules(exactUbuntu, ["--dry-run"]);
  assert.equal(dry.code, 2, dry.stderr);
  assert.equal(dry.report.status, "would-change");
  assert.equal(dry.report.rules[0].adds, before.ubuntu.length);
  assert.deepEqual(dry.report.rules[0].removing, [stale.id]);
  assert.deepEqual((await tenantState()).tagged, [stale.id], "a dry run changes nothing");

  const run = await applyRules(exactUbuntu);
  assert.equal(run.code, 2, run.stderr);
  assert.equal(run.report.status, "changed");
  assert.equal(run.report.rules[0].run.applied, before.ubuntu.length + 1);
  assert.equal(run.report.rules[0].run.failed, 0);
  const afterRun = await tenantState();
  assert.deepEqual(afterRun.tagged, afterRun.ubuntu, "exactly the matching machines carry the tag");

  const again = await applyRules(exactUbuntu);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.report.status, "nothing-to-do");
  assert.equal(again.report.rules[0].calls, 0);
});

test("a bad rules file names the rule and field and makes no call", async () => {
  await reset(emu.url);
  const cases = [
    [{ version: 1, rules: [{ name: "bad tag", tag: " padded", mode: "add", source: { kind: "filter", query: "os=Ubuntu" } }] }, /rule 1 \("bad tag"\): tag/],
    [{ version: 1, rules: [{ name: "old filter", tag: "T", mode: "exact", source: { kind: "filter", query: "seen=2y" } }] }, /rule 1 \("old filter"\): source\.query/],
    [{ version: 1, rules: [{ name: "blank hunt", tag: "T", mode: "exact", source: { kind: "hunting", query: "  " } }] }, /rule 1 \("blank hunt"\): source\.query the hunting query is empty/],
    [{ version: 7, rules: [] }, /schema version 7/],
    ["{ not json", /not valid JSON/],
  ];
  for (const [rules, message] of cases) {
    const { code, report } = await applyRules(rules);
    assert.equal(code, 1);
    assert.equal(report.status, "failed");
    assert.match(report.error.message, message);
  }
  assert.equal(await apiCalls(emu.url), 0, "no API call for a refused file");
});

test("conflicting rules are refused before anything runs", async () => {
  await reset(emu.url);
  const rules = {
    version: 1,
    rules: [
      exactUbuntu.rules[0],
      { name: "Named list", tag: TAG, mode: "add", source: { kind: "filter", query: "os=macOS" } },
    ],
  };
  const before = await tenantState();
  const { code, report } = await applyRules(rules);
  assert.equal(code, 1);
  assert.equal(report.error.code, "conflict");
  assert.ok(report.conflicts.length > 0);
  assert.equal(report.conflicts[0].addingRule, "Named list");
  assert.equal(report.conflicts[0].removingRule, "Ubuntu hosts");
  assert.deepEqual((await tenantState()).tagged, before.tagged, "nothing ran");
});

test("a hunting rule: the query's machines (each once) get the tag exactly; a failed query blocks the file", async () => {
  await reset(emu.url);
  const HUNT_TAG = "Rule Exposed";
  const DAY = 86_400_000;
  // DeviceInfo holds the machines seen in the last 30 days (crates/emulator/README.md); the
  // emulator reports each machine twice, so rows repeat machines.
  const query = 'DeviceInfo\n| where ExposureLevel == "High"\n| project Timestamp, DeviceId, DeviceName';
  const machines = await api.listAllMachines();
  const expected = machines
    .filter((m) => m.lastSeen && Date.parse(m.lastSeen) > Date.now() - 30 * DAY && m.exposureLevel === "High")
    .map((m) => m.id)
    .sort();
  assert.ok(expected.length >= 3, `enough highly exposed machines (${expected.length})`);
  const stale = machines.find((m) => !expected.includes(m.id));
  await api.addTag(stale.id, HUNT_TAG);
  const rules = { version: 1, rules: [{ name: "Exposed", tag: HUNT_TAG, mode: "exact", source: { kind: "hunting", query } }] };
  const graph = ["--graph-base-url", emu.url];
  const holders = async () => (await api.listAllMachines()).filter((m) => m.machineTags.includes(HUNT_TAG)).map((m) => m.id).sort();

  const dry = await applyRules(rules, ["--dry-run", ...graph]);
  assert.equal(dry.code, 2, dry.stderr);
  assert.equal(dry.report.huntingQueries, 1);
  assert.equal(dry.report.rules[0].blocked, null);
  assert.deepEqual([...dry.report.rules[0].adding].sort(), expected);
  assert.deepEqual(dry.report.rules[0].removing, [stale.id]);
  assert.deepEqual(await holders(), [stale.id], "a dry run changes nothing");

  const run = await applyRules(rules, graph);
  assert.equal(run.code, 2, run.stderr);
  assert.deepEqual(await holders(), expected, "exactly the query's machines carry the tag");
  const again = await applyRules(rules, graph);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.report.status, "nothing-to-do");

  // A syntax error: the rule is blocked with the service's message; nothing is tagged or untagged.
  const bad = {
    version: 1,
    rules: [{ name: "Typo", tag: HUNT_TAG, mode: "exact", source: { kind: "hunting", query: 'DeviceInfo | where ExposureLevel == "High" andd OSPlatform == "Linux"' } }],
  };
  const opsBefore = (await admin(emu.url, "GET", "/_emulator/stats")).tag_operations ?? 0;
  const refused = await applyRules(bad, graph);
  assert.equal(refused.code, 1, refused.stderr);
  assert.equal(refused.report.error.code, "hunting");
  assert.match(refused.report.rules[0].blocked, /hunting query failed.*refused \(400\)/);
  assert.deepEqual(refused.report.rules[0].removing, [], "an exact rule without an answer removes nothing");
  assert.equal((await admin(emu.url, "GET", "/_emulator/stats")).tag_operations ?? 0, opsBefore, "no tag call");
  assert.deepEqual(await holders(), expected, "the tag stays where it was");

  // Without a Graph origin next to a custom --base-url, the query is not sent and the rule is blocked.
  const noGraph = await applyRules(rules);
  assert.equal(noGraph.code, 1, noGraph.stderr);
  assert.match(noGraph.report.rules[0].blocked, /no Microsoft Graph origin is configured/);
});
