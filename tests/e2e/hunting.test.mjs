// Advanced hunting as a bulk source (issue #12): an incident-style query tags its machines in
// bulk (each machine once, however many rows name it) and the report agrees with the emulator;
// bad queries are refused with a specific message and nothing tagged; a user without the Graph
// permission sees the source disabled with the reason; a registry tag removed through the app is
// warned about first, comes back at the next sync, and its chip says where it comes from.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startEmulator } from "./lib/emulator.mjs";
import { launch, newPage, screenshot, seriousA11yViolations, signIn } from "./lib/browser.mjs";
import { allMachines, runAndWait, statNumber } from "./lib/bulk.mjs";

let emu;
let browser;
before(async () => {
  emu = await startEmulator({ machines: 2300, extraArgs: ["--time-scale", "60"] });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await emu?.stop();
});

const DAY = 86_400_000;
// DeviceInfo holds the machines seen in the last 30 days (crates/emulator/README.md).
const inHunting = (m) => m.lastSeen && Date.parse(m.lastSeen) > Date.now() - 30 * DAY;

async function openHunting(page) {
  await page.goto(`${emu.url}/bulk?source=hunting`);
  await page.getByRole("tab", { name: "Hunting query" }).waitFor();
  assert.equal(await page.getByRole("tab", { name: "Hunting query" }).getAttribute("aria-selected"), "true");
}

async function runQuery(page, query) {
  await page.getByLabel("Hunting query (KQL)").fill(query);
  await page.getByTestId("hunting-run").click();
}

async function errorText(page) {
  const alert = page.getByTestId("hunting-error");
  await alert.filter({ hasText: /\S/ }).waitFor({ timeout: 20_000 });
  return alert.textContent();
}

async function huntingCalls() {
  const stats = await emu.get("/_emulator/stats");
  return stats.endpoints?.runHuntingQuery?.calls ?? 0;
}

test("an incident query of about 300 machines is tagged in bulk; bad queries are refused first", async () => {
  const all = await allMachines(emu);
  // The incident: every highly exposed machine (a field the dataset has, like an alert's filter).
  const expected = all.filter((m) => inHunting(m) && m.exposureLevel === "High");
  assert.ok(expected.length >= 250 && expected.length <= 400, `about 300 machines match (${expected.length})`);

  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  await openHunting(page);
  const editor = page.getByLabel("Hunting query (KQL)");
  await assert.doesNotReject(editor.waitFor());
  await page.waitForFunction(() => !document.querySelector("[data-testid=hunting-query]").disabled, null, { timeout: 20_000 });

  // Empty: refused before anything is sent.
  const before = await huntingCalls();
  await runQuery(page, "   \n  ");
  assert.match(await errorText(page), /The hunting query is empty/);
  assert.equal(await huntingCalls(), before, "an empty query is not sent");
  // Over the length limit: refused before anything is sent.
  await runQuery(page, `DeviceInfo | where DeviceName == "${"x".repeat(10_050)}"`);
  assert.match(await errorText(page), /10,?0\d\d characters long; at most 10000 are sent/);
  assert.equal(await huntingCalls(), before, "a too long query is not sent");
  // A syntax error: the service's message with its position, and no machines.
  await runQuery(page, 'DeviceInfo\n| where ExposureLevel == "High" andd OSPlatform == "Windows11"');
  const syntax = await errorText(page);
  assert.match(syntax, /refused \(400\).*line \[2,\d+\]/, syntax);
  assert.equal(await page.getByTestId("hunting-summary").count(), 0);
  await screenshot(page, "hunting-01-syntax-error");
  // A result without a device column.
  await runQuery(page, "DeviceInfo | summarize count() by OSPlatform");
  assert.match(await errorText(page), /no DeviceId or DeviceName column \(its columns: OSPlatform, count_\)/);
  assert.equal(await page.getByTestId("hunting-summary").count(), 0);
  assert.equal(await page.getByTestId("preview-button").isDisabled(), true, "nothing to preview");

  // The incident query: two reports per machine, so every machine is named twice.
  const query = 'DeviceInfo\n| where ExposureLevel == "High"\n| project Timestamp, DeviceId, DeviceName';
  await runQuery(page, query);
  await page.getByTestId("hunting-summary").waitFor({ timeout: 60_000 });
  assert.equal(await page.getByTestId("hunting-error").textContent(), "");
  const summary = await page.getByTestId("hunting-summary").locator("p").first().textContent();
  assert.equal(await page.getByTestId("hunting-machines").textContent(), `${expected.length} machines found in the tenant`);
  const rows = Number(summary.match(/([\d,]+) rows? \u00b7/)[1].replace(/,/g, ""));
  assert.ok(rows > expected.length, `rows (${rows}) repeat machines (${expected.length})`);
  assert.match(summary, new RegExp(`${rows - expected.length} rows repeated a machine \\(used once\\)`));
  assert.equal(await page.getByTestId("hunting-rows").locator("tbody tr").count(), 50);
  // Result cells are text: the seeded machine named `<img src=x onerror=alert(1)>` is among them.
  assert.ok((await page.getByTestId("hunting-rows").textContent()).includes("<img src=x onerror=alert(1)>"));
  assert.deepEqual(page.dialogs, [], "no script ran from a result cell");
  await screenshot(page, "hunting-02-result");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: hunting source");

  // Saved per tenant: it is there after a reload.
  await page.getByTestId("hunting-save-name").fill("Incident 4711");
  await page.getByTestId("hunting-save").click();
  await page.getByTestId("hunting-save-note").filter({ hasText: "Saved" }).waitFor();
  await openHunting(page);
  await page.waitForFunction(() => !document.querySelector("[data-testid=hunting-saved]").disabled, null, { timeout: 20_000 });
  await page.getByTestId("hunting-saved").selectOption("Incident 4711");
  assert.equal(await editor.inputValue(), query);
  await page.getByTestId("hunting-run").click();
  await page.getByTestId("hunting-summary").waitFor({ timeout: 60_000 });

  // Preview, run, report; then the emulator's machines.
  await page.getByLabel("Tag to add or remove").fill("IR-4711");
  await page.getByTestId("preview-button").click();
  await page.getByTestId("bulk-preview").waitFor();
  assert.equal(await statNumber(page, "preview-will-change"), expected.length);
  assert.match(await page.getByTestId("bulk-preview").textContent(), /Hunting query/);
  await screenshot(page, "hunting-03-preview");
  await runAndWait(page);
  assert.equal(await statNumber(page, "count-applied"), expected.length);
  await screenshot(page, "hunting-04-report");
  const tagged = (await allMachines(emu)).filter((m) => m.machineTags.includes("IR-4711")).map((m) => m.id).sort();
  assert.deepEqual(tagged, expected.map((m) => m.id).sort(), "exactly the query's machines carry the tag");
  assert.deepEqual(page.problems, []);
});

test("without the hunting permission the source is disabled and says why", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "reader");
  // Reached through its tab, which keeps it in the URL.
  await page.goto(`${emu.url}/bulk`);
  await page.getByRole("tab", { name: "Hunting query" }).click();
  await page.waitForURL((u) => u.searchParams.get("source") === "hunting");
  assert.equal(await page.getByRole("tab", { name: "Hunting query" }).getAttribute("aria-selected"), "true");
  const why = page.getByTestId("hunting-unavailable");
  await why.waitFor({ timeout: 20_000 });
  assert.match(await why.textContent(), /Hunting queries are unavailable\..*ThreatHunting\.Read\.All.*your Graph token has no permissions/);
  assert.equal(await page.getByLabel("Hunting query (KQL)").isDisabled(), true);
  assert.equal(await page.getByTestId("hunting-run").isDisabled(), true);
  await screenshot(page, "hunting-05-no-permission");
  // Everything else works as before: the search source still lists machines.
  await page.getByRole("tab", { name: "From a search" }).click();
  await page.getByRole("tab", { name: "From a search" }).and(page.locator("[aria-selected=true]")).waitFor();
  assert.deepEqual(page.problems, []);
});

test("a registry tag removed through the app: warned first, comes back at the next sync, its chip says registry", async () => {
  const all = await allMachines(emu);
  const target = all.find((m) => inHunting(m) && m.machineTags.length > 0 && !m.machineTags.includes("IR-4711"));
  assert.ok(target, "a machine in hunting data with a manual tag");
  const manualTag = target.machineTags[0];
  const REG = "Kiosk-Registry";
  // The device's registry value sets the tag (the emulator syncs at once).
  await emu.put("/_emulator/tag-sources", { registry: { [target.id]: REG } });
  assert.ok((await emu.get(`/_emulator/machines/${target.id}`)).machineTags.includes(REG));

  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  await openHunting(page);
  await page.waitForFunction(() => !document.querySelector("[data-testid=hunting-query]").disabled, null, { timeout: 20_000 });
  await runQuery(page, `DeviceInfo | where DeviceId == "${target.id}" | project DeviceId`);
  await page.getByTestId("hunting-summary").waitFor({ timeout: 60_000 });
  await page.getByLabel("Remove the tag").check();
  await page.getByLabel("Tag to add or remove").fill(REG);
  await page.getByTestId("preview-button").click();
  await page.getByTestId("bulk-preview").waitFor();
  assert.equal(await statNumber(page, "preview-will-change"), 1);
  // The warning comes before the run, and says what would actually remove the tag.
  const warning = page.getByTestId("provenance-warnings");
  await warning.waitFor({ timeout: 30_000 });
  assert.match(
    await warning.textContent(),
    /1 machine: registry tag “Kiosk-Registry”: set by the device's registry value .*will not stick.*change the registry value on the device/,
  );
  await screenshot(page, "hunting-06-registry-warning");
  await runAndWait(page);
  assert.equal(await statNumber(page, "count-applied"), 1);
  assert.ok(!(await emu.get(`/_emulator/machines/${target.id}`)).machineTags.includes(REG), "removed through the API");
  // The device reports its registry value again: the tag is back.
  await emu.post("/_emulator/tag-sources/sync", {});
  assert.ok((await emu.get(`/_emulator/machines/${target.id}`)).machineTags.includes(REG), "back after the sync");

  // The machine's chips say where each tag comes from, in text.
  await page.goto(`${emu.url}/?m=${target.id}`);
  const panel = page.getByTestId("machine-panel");
  await panel.waitFor({ timeout: 30_000 });
  const chip = (tag) => panel.getByTestId("tag-chips").locator("li.chip").filter({ has: page.locator(".chip-text", { hasText: new RegExp(`^${tag.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`) }) });
  await chip(REG).getByTestId("chip-source").waitFor({ timeout: 30_000 });
  assert.equal((await chip(REG).getByTestId("chip-source").textContent()).trim(), ", set by registry");
  assert.equal(await chip(REG).getAttribute("data-source"), "registry");
  assert.equal(await chip(manualTag).getAttribute("data-source"), "manual");
  assert.match(await chip(REG).getByRole("button").getAttribute("aria-label"), /registry; removing it will not stick/);
  await screenshot(page, "hunting-07-registry-chip");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: chips with sources");

  // The inventory splits each tag's machines by source.
  await page.goto(`${emu.url}/inventory`);
  const row = page.getByTestId("inventory-table").locator("tbody tr").filter({ has: page.locator("th", { hasText: /^Kiosk-Registry$/ }) });
  await row.getByTestId("inventory-by-source").filter({ hasText: /\S/ }).waitFor({ timeout: 60_000 });
  assert.equal(await row.getByTestId("inventory-by-source").textContent(), "0 manual \u00b7 1 registry");
  const manualRow = page.getByTestId("inventory-table").locator("tbody tr").filter({ has: page.locator("th", { hasText: new RegExp(`^${manualTag.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`) }) });
  const split = await manualRow.getByTestId("inventory-by-source").textContent();
  const counted = [...split.matchAll(/(\d+) (manual|registry|rule|unknown)/g)].reduce((n, m) => n + Number(m[1]), 0);
  const holders = Number((await manualRow.locator("td.num").textContent()).replace(/,/g, ""));
  assert.ok(holders > 0);
  assert.equal(counted, holders, `every machine with ${manualTag} is counted once (${split})`);
  assert.match(split, /^[1-9]\d* manual/, "manual tags read as manual");
  await screenshot(page, "hunting-08-inventory-by-source");
  assert.deepEqual(page.problems, []);
});
