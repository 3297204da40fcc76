// Tag rules (issue #13): create an exact rule, dry-run it (the bulk preview), run it (the bulk
// run and report), change a machine so it no longer matches and see the next dry run propose
// exactly its removal; conflicting rules block the dry run; export and import the rules file,
// and a bad file is refused naming the rule and field; a hunting-query rule (exact) tags exactly
// its query's machines, and a bad query is shown per rule with nothing run. Every claim is checked
// against the emulator's own state.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { writeFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { startEmulator } from "./lib/emulator.mjs";
import { launch, newPage, screenshot, seriousA11yViolations, signIn } from "./lib/browser.mjs";
import { allMachines, downloadText, eventually, runAndWait, statNumber } from "./lib/bulk.mjs";

let emu;
let browser;
let dir;
before(async () => {
  emu = await startEmulator({ machines: 600, extraArgs: ["--time-scale", "60"] });
  browser = await launch();
  dir = await mkdtemp(path.join(tmpdir(), "dt-rules-e2e-"));
});
after(async () => {
  await browser?.close();
  await emu?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const SOURCE_TAG = "Finance";
const RULE_TAG = "e2e-rule-finance";
const DAY = 86_400_000;
const recent = (m) => Date.parse(m.lastSeen) > Date.now() - 180 * DAY;

async function openRules(page) {
  await page.goto(`${emu.url}/rules`);
  await page.getByRole("heading", { name: "Saved rules" }).waitFor();
}

async function addRule(page, { name, tag, mode = "exact", query }) {
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByLabel("Tag", { exact: true }).fill(tag);
  await page.getByLabel("Mode").selectOption(mode);
  await page.getByLabel(/^Search/).fill(query);
  await page.getByTestId("rule-save").click();
  await row(page, name).waitFor();
}

const row = (page, name) => page.locator(`[data-testid=rule-row][data-rule="${name}"]`);

async function dryRun(page, name) {
  await row(page, name).getByTestId("rule-dry-run").click();
  await page.getByTestId("bulk-preview").waitFor({ timeout: 30_000 });
}

/** Token for the emulator's API (for changing a machine as another tool would). */
async function apiToken() {
  return (await emu.post("/_emulator/token", { persona: "app" })).access_token;
}

test("an exact rule: dry run, run, a machine stops matching, the next dry run removes exactly it", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  await openRules(page);
  await page.getByTestId("rules-empty").waitFor();
  await addRule(page, { name: "Finance copy", tag: RULE_TAG, query: `tag=${SOURCE_TAG}` });
  await screenshot(page, "rules-01-saved");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: rules page");

  const finance = (await allMachines(emu)).filter((m) => recent(m) && m.machineTags.some((t) => t.toLowerCase() === "finance"));
  assert.ok(finance.length > 3, `enough Finance machines (${finance.length})`);
  await dryRun(page, "Finance copy");
  assert.equal(await statNumber(page, "preview-will-change"), finance.length);
  assert.equal(await statNumber(page, "preview-already"), 0);
  assert.match(await page.getByTestId("bulk-preview").locator("h2").textContent(), /Rule “Finance copy” \(exact\)/);
  await screenshot(page, "rules-02-dry-run");

  await runAndWait(page);
  await screenshot(page, "rules-03-report");
  const tagged = (await allMachines(emu)).filter((m) => m.machineTags.includes(RULE_TAG)).map((m) => m.id).sort();
  assert.deepEqual(tagged, finance.map((m) => m.id).sort(), "exactly the matching machines carry the rule's tag");

  // The list shows when the rule last ran and with what result.
  await eventually(async () => new RegExp(`: ${finance.length} changed$`).test(await row(page, "Finance copy").getByTestId("rule-last-run").textContent()), "last run shown");

  // Another tool removes Finance from one machine: it no longer matches.
  const gone = finance[0];
  const token = await apiToken();
  for (const t of gone.machineTags.filter((t) => t.toLowerCase() === "finance")) {
    const res = await fetch(`${emu.url}/api/machines/${gone.id}/tags`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ Value: t, Action: "Remove" }),
    });
    assert.equal(res.status, 200);
  }

  await dryRun(page, "Finance copy");
  assert.equal(await statNumber(page, "preview-will-change"), 1, "only the removal");
  assert.equal(await statNumber(page, "preview-already"), finance.length - 1);
  const lines = page.getByTestId("list-will-change").locator("li");
  assert.equal(await lines.count(), 1);
  assert.match(await lines.first().textContent(), new RegExp(gone.id));
  assert.match(await lines.first().textContent(), /Remove/);
  await screenshot(page, "rules-04-removal");
  await runAndWait(page);
  assert.ok(!(await emu.get(`/_emulator/machines/${gone.id}`)).machineTags.includes(RULE_TAG), "the tag was removed");
  await page.close();
});

test("conflicting rules block the dry run; export and import the rules; a bad file names rule and field", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  await openRules(page);
  await addRule(page, { name: "Ubuntu exact", tag: "e2e-conflict", query: "os=Ubuntu" });
  await addRule(page, { name: "Finance add", tag: "e2e-conflict", mode: "add", query: `tag=${SOURCE_TAG}` });
  await row(page, "Ubuntu exact").getByTestId("rule-dry-run").click();
  await page.getByTestId("rule-conflicts").waitFor();
  assert.match(await page.getByTestId("rules-error").textContent(), /conflicts with another rule/);
  assert.match(await page.getByTestId("rule-conflicts").textContent(), /rule “Finance add” adds “e2e-conflict”, rule “Ubuntu exact” removes it/);
  assert.equal(await page.getByTestId("bulk-preview").count(), 0, "no preview, so nothing can run");
  await screenshot(page, "rules-05-conflict");

  // Export, delete, import: the rules come back exactly.
  const exported = JSON.parse(await downloadText(page, page.getByTestId("rules-export")));
  assert.equal(exported.version, 1);
  const names = exported.rules.map((r) => r.name);
  assert.ok(names.includes("Ubuntu exact") && names.includes("Finance add"), names.join(", "));
  assert.deepEqual(exported.rules.find((r) => r.name === "Ubuntu exact").source, { kind: "filter", query: "os=Ubuntu" });
  for (const name of names) await row(page, name).getByTestId("rule-delete").click();
  await page.getByTestId("rules-empty").waitFor();
  const good = path.join(dir, "rules.json");
  await writeFile(good, JSON.stringify(exported));
  await page.getByTestId("rules-import").setInputFiles(good);
  for (const name of names) await row(page, name).waitFor();
  assert.match(await page.getByTestId("rules-notice").textContent(), new RegExp(`Imported ${names.length} rules`));

  // A bad file changes nothing and says which rule and field.
  const bad = path.join(dir, "bad.json");
  await writeFile(bad, JSON.stringify({ version: 1, rules: [{ name: "Broken", tag: " padded ", mode: "add", source: { kind: "filter", query: "os=Ubuntu" } }] }));
  await page.getByTestId("rules-import").setInputFiles(bad);
  await eventually(async () => /rule 1 \("Broken"\): tag/.test(await page.getByTestId("rules-error").textContent()), "bad file refused");
  assert.equal(await page.getByTestId("rule-row").count(), names.length, "rules unchanged");
  const future = path.join(dir, "future.json");
  await writeFile(future, JSON.stringify({ version: 2, rules: [] }));
  await page.getByTestId("rules-import").setInputFiles(future);
  await eventually(async () => /schema version 2/.test(await page.getByTestId("rules-error").textContent()), "unknown version refused");
  assert.equal(await page.getByTestId("rule-row").count(), names.length, "rules unchanged");
  await screenshot(page, "rules-06-bad-import");
  await page.close();
});

test("an imported-list rule (pasted CSV): dry run adds exactly its machines; edited in place; a bad line is refused", async () => {
  const all = await allMachines(emu);
  const candidates = all.filter(recent);
  const nameCount = new Map();
  for (const m of all) nameCount.set(m.computerDnsName, (nameCount.get(m.computerDnsName) ?? 0) + 1);
  // Two by id, one by a computer name no other machine has, and one name nobody has.
  const [a, b] = candidates.slice(0, 2);
  const byName = candidates.slice(2).find((m) => m.computerDnsName && nameCount.get(m.computerDnsName) === 1);
  assert.ok(a && b && byName, "machines to list");
  const listed = [a, b, byName];
  const csv = ["machine,tag", `${a.id},ignored`, `${b.id},`, byName.computerDnsName, "no-such-host-e2e"].join("\n");

  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  await openRules(page);
  await page.getByLabel("Name", { exact: true }).fill("Listed");
  await page.getByLabel("Tag", { exact: true }).fill("e2e-listed");
  await page.getByLabel("Mode").selectOption("add");
  await page.getByLabel("Machines from").selectOption("import");
  // A line that is no machine: refused, naming the rule, the field and the line.
  await page.getByLabel(/^Machine ids or computer names/).fill(`${a.id}\nbad name with spaces`);
  await page.getByTestId("rule-save").click();
  await eventually(async () => /rule 1 \("Listed"\): source\.machines line 2:/.test(await page.getByTestId("rule-form-error").textContent()), "bad line refused");
  assert.equal(await row(page, "Listed").count(), 0, "nothing saved");

  await page.getByLabel(/^Machine ids or computer names/).fill(csv);
  await page.getByTestId("rule-save").click();
  await row(page, "Listed").waitFor();
  assert.match(await row(page, "Listed").textContent(), /Imported list: 4 machines/);
  await dryRun(page, "Listed");
  assert.equal(await statNumber(page, "preview-will-change"), 3);
  assert.equal(await statNumber(page, "preview-already"), 0);
  assert.equal(await statNumber(page, "preview-unresolved"), 1);
  const adds = await page.getByTestId("list-will-change").locator("li").allTextContents();
  assert.deepEqual(
    listed.map((m) => adds.some((l) => l.includes(m.id))),
    [true, true, true],
    adds.join("\n"),
  );
  assert.match(await page.getByTestId("bulk-preview").locator("h2").textContent(), /Rule “Listed” \(add\): add “e2e-listed” to 3 machines/);
  assert.match(await page.getByTestId("list-unresolved").textContent(), /no-such-host-e2e/);
  await screenshot(page, "rules-07-import-dry-run");
  await page.getByTestId("back-button").click();

  // Edit in place: new name, tag and mode; the list keeps one rule.
  await row(page, "Listed").getByTestId("rule-edit").click();
  assert.match(await page.getByTestId("rule-form-title").textContent(), /Edit rule “Listed”/);
  assert.equal(await page.getByLabel(/^Machine ids or computer names/).inputValue(), [a.id, b.id, byName.computerDnsName, "no-such-host-e2e"].join("\n"));
  await page.getByLabel("Name", { exact: true }).fill("Listed v2");
  await page.getByLabel("Tag", { exact: true }).fill("e2e-listed-2");
  await page.getByLabel("Mode").selectOption("exact");
  await page.getByTestId("rule-save").click();
  await row(page, "Listed v2").waitFor();
  assert.equal(await row(page, "Listed").count(), 0, "renamed, not copied");
  assert.match(await row(page, "Listed v2").textContent(), /e2e-listed-2.*Exact/);
  await dryRun(page, "Listed v2");
  assert.equal(await statNumber(page, "preview-will-change"), 3);
  assert.match(await page.getByTestId("bulk-preview").locator("h2").textContent(), /Rule “Listed v2” \(exact\): add “e2e-listed-2”/);
  await screenshot(page, "rules-08-edited");
  await page.close();
});

// DeviceInfo holds the machines seen in the last 30 days (crates/emulator/README.md).
const inHunting = (m) => m.lastSeen && Date.parse(m.lastSeen) > Date.now() - 30 * DAY;

/** Calls per endpoint group: hunting, and everything else (machines, tags). */
async function calls() {
  const stats = await emu.get("/_emulator/stats");
  let other = 0;
  for (const [name, e] of Object.entries(stats.endpoints ?? {})) if (name !== "runHuntingQuery") other += e.calls ?? 0;
  return { hunting: stats.endpoints?.runHuntingQuery?.calls ?? 0, other, tagOps: stats.tag_operations ?? 0 };
}

async function addHuntingRule(page, { name, tag, query }) {
  await page.getByLabel("Name", { exact: true }).fill(name);
  await page.getByLabel("Tag", { exact: true }).fill(tag);
  await page.getByLabel("Mode").selectOption("exact");
  // Offered once the sign-in's hunting permission is known.
  await page.waitForFunction(() => document.querySelector("option[value=hunting]")?.disabled === false, null, { timeout: 20_000 });
  await page.getByLabel("Machines from").selectOption("hunting");
  await page.getByLabel(/^Hunting query/).fill(query);
  await page.getByTestId("rule-save").click();
  await row(page, name).waitFor();
}

test("a hunting-query rule (exact): the dry run proposes exactly its machines, the run tags them, then nothing to do", async () => {
  const all = await allMachines(emu);
  // An incident-style query: every highly exposed machine, each reported twice (rows repeat).
  const expected = all.filter((m) => inHunting(m) && m.exposureLevel === "High").map((m) => m.id).sort();
  assert.ok(expected.length > 10, `enough highly exposed machines (${expected.length})`);
  const TAG = "e2e-hunt-exposed";
  const query = 'DeviceInfo\n| where ExposureLevel == "High"\n| project Timestamp, DeviceId, DeviceName';

  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  await openRules(page);
  await addHuntingRule(page, { name: "Exposed", tag: TAG, query });
  assert.match(await row(page, "Exposed").textContent(), /Hunting query: DeviceInfo…/);
  await screenshot(page, "rules-09-hunting-saved");

  const before = await calls();
  await dryRun(page, "Exposed");
  assert.equal((await calls()).hunting, before.hunting + 1, "the query ran once");
  assert.equal(await statNumber(page, "preview-will-change"), expected.length);
  assert.equal(await statNumber(page, "preview-already"), 0);
  const adds = await page.getByTestId("list-will-change").locator("li").allTextContents();
  assert.equal(adds.length, expected.length);
  assert.deepEqual(adds.map((l) => expected.find((id) => l.includes(id))).filter(Boolean).sort(), expected, "exactly the query's machines");
  assert.match(
    await page.getByTestId("bulk-preview").locator("h2").textContent(),
    new RegExp(`Rule “Exposed” \\(exact\\): add “${TAG}” to ${expected.length} machines, remove it from 0 machines`),
    "adds only",
  );
  await screenshot(page, "rules-10-hunting-dry-run");

  await runAndWait(page);
  const tagged = (await allMachines(emu)).filter((m) => m.machineTags.includes(TAG)).map((m) => m.id).sort();
  assert.deepEqual(tagged, expected, "exactly the query's machines carry the rule's tag");

  await dryRun(page, "Exposed");
  assert.equal(await statNumber(page, "preview-will-change"), 0, "nothing to do");
  assert.equal(await statNumber(page, "preview-already"), expected.length);
  await screenshot(page, "rules-11-hunting-nothing-to-do");
  assert.deepEqual(page.problems, []);
  await page.close();
});

test("a hunting rule with a syntax error: its error is shown for the rule and nothing else is called", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  await openRules(page);
  await addHuntingRule(page, { name: "Typo", tag: "e2e-hunt-typo", query: 'DeviceInfo\n| where ExposureLevel == "High" andd OSPlatform == "Windows11"' });
  await page.waitForLoadState("networkidle");
  const before = await calls();
  await row(page, "Typo").getByTestId("rule-dry-run").click();
  const errors = page.getByTestId("rule-source-errors");
  await errors.waitFor({ timeout: 30_000 });
  assert.match(await errors.textContent(), /Rule “Typo”: its hunting query failed, so nothing of it runs: The query was refused \(400\).*line \[2,\d+\]/);
  assert.match(await page.getByTestId("rules-error").textContent(), /Nothing was planned for “Typo”/);
  assert.equal(await page.getByTestId("bulk-preview").count(), 0, "no preview, so nothing can run");
  const after = await calls();
  assert.equal(after.hunting, before.hunting + 1, "the query was sent once");
  assert.equal(after.other, before.other, "no other call: no listing, no tag call");
  assert.equal(after.tagOps, before.tagOps);
  await screenshot(page, "rules-12-hunting-syntax-error");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: rules page with a blocked rule");
  await page.close();
});

test("without the hunting permission the hunting source is disabled and says why", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "reader");
  await openRules(page);
  const why = page.getByTestId("rule-hunting-unavailable");
  await why.waitFor({ timeout: 20_000 });
  assert.match(await why.textContent(), /ThreatHunting\.Read\.All.*your Graph token has no permissions/);
  assert.equal(await page.locator("option[value=hunting]").isDisabled(), true);
  await screenshot(page, "rules-13-hunting-unavailable");
  await page.close();
});
