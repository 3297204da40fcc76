// Device value (issue #13): in the machine panel, shown and changed with one API call; in bulk,
// through the bulk preview (current → new and the cost: one call per machine), run and report,
// and undone. Checked against the emulator's state; a read-only sign-in sees why it cannot
// change it, and no call is sent; a value the API would refuse is refused before any call.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startEmulator } from "./lib/emulator.mjs";
import { launch, newPage, screenshot, seriousA11yViolations, signIn } from "./lib/browser.mjs";
import { allMachines, csvObjects, downloadText, eventually, runAndWait, statNumber } from "./lib/bulk.mjs";

let emu;
let browser;
before(async () => {
  emu = await startEmulator({ machines: 300 });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await emu?.stop();
});

async function openFirstMachine(page) {
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor();
  await page.locator(".body-row:not([hidden]) .machine-link").first().click();
  await page.getByTestId("machine-panel").waitFor();
  // By id: computer names are not unique in the seeded tenant.
  const id = (await page.getByTestId("machine-panel").locator(".machine-id").textContent()).trim();
  return emu.get(`/_emulator/machines/${id}`);
}

const calls = async () => (await emu.get("/_emulator/stats")).endpoints?.setDeviceValue?.calls ?? 0;

test("admin: the machine panel shows the device value and sets it with one call", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  const machine = await openFirstMachine(page);
  assert.ok(machine, "the opened machine is in the emulator");
  const before = machine.deviceValue ?? "Normal";
  assert.equal((await page.getByTestId("device-value-current").textContent()).trim(), machine.deviceValue ?? "—");
  const next = before === "High" ? "Low" : "High";
  await page.getByTestId("device-value-choice").selectOption(next);
  await page.getByTestId("device-value-set").click();
  await eventually(async () => (await page.getByTestId("device-value-message").textContent()).includes(`set to ${next}`), "confirmation shown");
  assert.equal((await emu.get(`/_emulator/machines/${machine.id}`)).deviceValue, next);
  assert.equal((await page.getByTestId("device-value-current").textContent()).trim(), next);
  assert.equal(await calls(), 1, "one call for one machine");
  await screenshot(page, "device-value-01-set");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: device value");
  // The change is in the activity log, with the value it replaced.
  await page.getByRole("link", { name: "Activity" }).click();
  await page.getByTestId("activity-table").waitFor();
  const rows = await page.getByTestId("activity-row").allTextContents();
  assert.equal(rows.length, 1, rows.join("\n"));
  assert.ok(rows[0].includes(`Set device value “${next}” on`), rows[0]);
  assert.ok(rows[0].includes(`(was ${machine.deviceValue ?? "unknown"})`), rows[0]);
  await page.close();
});

test("reader: the value is shown, the change is refused up front, nothing is sent", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "reader");
  const machine = await openFirstMachine(page);
  assert.equal((await page.getByTestId("device-value-current").textContent()).trim(), machine.deviceValue ?? "—");
  assert.match(await page.getByTestId("device-value-read-only").textContent(), /Read-only.*Machine\.ReadWrite/);
  assert.equal(await page.getByTestId("device-value-choice").count(), 0);
  assert.equal(await page.getByTestId("device-value-set").count(), 0);
  await screenshot(page, "device-value-02-reader");
  await page.close();
});

const DAY = 86_400_000;
const recent = (m) => Date.parse(m.lastSeen) > Date.now() - 180 * DAY;
const BULK_TAG = "e2e-device-value";

/** Token for the emulator's API, to set up machines as another tool would. */
async function apiCall(path, body) {
  const { access_token: token } = await emu.post("/_emulator/token", { persona: "app" });
  const res = await fetch(`${emu.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200, `${path}: ${await res.text()}`);
}

/** 30 recent machines tagged BULK_TAG: 5 already High, the rest Low or Normal. Returns them. */
let chosen;
async function thirtyMachines() {
  if (chosen) return chosen;
  const picked = (await allMachines(emu)).filter(recent).slice(-30);
  assert.equal(picked.length, 30);
  for (const [k, m] of picked.entries()) {
    const value = k < 5 ? "High" : k % 2 ? "Low" : "Normal";
    await apiCall(`/api/machines/${m.id}/setDeviceValue`, { DeviceValue: value });
  }
  await apiCall("/api/machines/AddOrRemoveTagForMultipleMachines", { Value: BULK_TAG, Action: "Add", MachineIds: picked.map((m) => m.id) });
  chosen = await Promise.all(picked.map((m) => emu.get(`/_emulator/machines/${m.id}`)));
  return chosen;
}

async function openBulkWithAll(page) {
  await page.goto(`${emu.url}/bulk?tag=${BULK_TAG}`);
  const summary = page.getByTestId("bulk-match-summary");
  await summary.filter({ hasText: /matching machines selected/ }).waitFor({ timeout: 60_000 });
  await page.getByTestId("select-all-matching").click();
  await summary.filter({ hasText: /^30 of 30/ }).waitFor();
}

test("admin: bulk device value over 30 machines — preview with cost and current → new, run, report, undo", async () => {
  const machines = await thirtyMachines();
  const before = new Map(machines.map((m) => [m.id, m.deviceValue]));
  const toChange = machines.filter((m) => m.deviceValue !== "High");
  assert.equal(toChange.length, 25);
  const callsBefore = await calls();

  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  await openBulkWithAll(page);
  await page.getByLabel("Set the device value").check();
  await page.getByTestId("bulk-device-value").selectOption("High");
  await screenshot(page, "device-value-03-bulk-compose");
  await page.getByTestId("preview-button").click();
  await page.getByTestId("bulk-preview").waitFor();
  assert.equal(await statNumber(page, "preview-will-change"), 25);
  assert.equal(await statNumber(page, "preview-already"), 5);
  assert.match(
    await page.getByTestId("preview-calls").textContent(),
    /^25 calls, one per machine \(no bulk endpoint\) — under a minute at the API's 100 calls\/min/,
  );
  // Each machine's line says what changes, from the value the emulator holds.
  const lines = await page.getByTestId("list-will-change").locator("li").allTextContents();
  assert.equal(lines.length, 25);
  for (const m of toChange) {
    const line = lines.find((l) => l.includes(m.id));
    assert.ok(line, `${m.id} listed`);
    assert.ok(line.includes(`${m.deviceValue} → High`), line);
  }
  assert.equal(await calls(), callsBefore, "a preview sends nothing");
  await screenshot(page, "device-value-04-bulk-preview");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: device-value preview");

  await runAndWait(page);
  assert.equal(await page.getByTestId("report-headline").textContent(), "Finished.");
  assert.equal(await statNumber(page, "count-applied"), 25);
  assert.equal(await statNumber(page, "count-alreadyInPlace"), 5);
  assert.equal(await calls(), callsBefore + 25, "one call per machine that changed");
  for (const m of machines) {
    assert.equal((await emu.get(`/_emulator/machines/${m.id}`)).deviceValue, "High", m.id);
  }
  const report = JSON.parse(await downloadText(page, page.getByTestId("export-json")));
  const applied = report.machines.filter((r) => r.status === "applied");
  assert.deepEqual(applied.map((r) => r.machineId).sort(), toChange.map((m) => m.id).sort());
  for (const r of applied) assert.equal(r.previous, before.get(r.machineId), r.machineId);
  // The CSV export carries the same earlier values.
  const csvRows = csvObjects(await downloadText(page, page.getByTestId("export-csv")));
  const csvApplied = csvRows.filter((r) => r.status === "applied");
  assert.equal(csvApplied.length, 25);
  for (const r of csvApplied) assert.equal(r.previous, before.get(r.machineId), `CSV ${r.machineId}`);
  await screenshot(page, "device-value-05-bulk-report");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: device-value report");

  // Undo puts each changed machine back to its earlier value (after its own preview).
  await page.getByTestId("undo-button").click();
  await page.getByTestId("bulk-preview").waitFor();
  assert.equal(await statNumber(page, "preview-will-change"), 25);
  await runAndWait(page);
  assert.equal(await statNumber(page, "count-applied"), 25);
  for (const m of machines) {
    assert.equal((await emu.get(`/_emulator/machines/${m.id}`)).deviceValue, before.get(m.id), m.id);
  }

  // Both runs are in the activity log.
  await page.getByRole("link", { name: "Activity" }).click();
  await page.getByTestId("activity-table").waitFor();
  const rows = await page.getByTestId("activity-row").allTextContents();
  assert.ok(rows.some((r) => /device-value.*Set device value “High” on 30 machines/.test(r)), rows.join("\n"));
  assert.ok(rows.some((r) => /undo.*put back the earlier device value on 25 machines/.test(r)), rows.join("\n"));
  const log = csvObjects(await downloadText(page, page.getByTestId("activity-export-csv")));
  assert.ok(log.length > 0);
  await page.close();
});

test("admin: a bulk device-value run shows progress and the budget, is cancelled midway, and resumes what is left", async () => {
  const machines = await thirtyMachines();
  const now = await Promise.all(machines.map((m) => emu.get(`/_emulator/machines/${m.id}`)));
  const toChange = now.filter((m) => m.deviceValue !== "Low");
  const n = toChange.length;
  assert.ok(n > 4, `enough machines to cancel midway (${n})`);

  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  await openBulkWithAll(page);
  await page.getByLabel("Set the device value").check();
  await page.getByTestId("bulk-device-value").selectOption("Low");
  await page.getByTestId("preview-button").click();
  await page.getByTestId("bulk-preview").waitFor();
  assert.equal(await statNumber(page, "preview-will-change"), n);
  assert.equal(await statNumber(page, "preview-already"), 30 - n);

  // Every call takes 1.5 s, so the run can be cancelled midway (two calls are in flight).
  await emu.put("/_emulator/faults", { slow: 1.0, slow_ms: 1500 });
  try {
    await page.getByTestId("run-button").click();
    await page.getByTestId("bulk-running").waitFor();
    const midway = Array.from({ length: n - 3 }, (_, k) => k + 1).join("|");
    await page.getByTestId("progress-counts").filter({ hasText: new RegExp(`^(${midway}) of ${n} calls`) }).waitFor({ timeout: 30_000 });
    assert.match(await page.getByTestId("progress-budget").textContent(), /Rate budget: \d+ of 100 calls this minute, \d+ of 1,500 this hour/);
    await screenshot(page, "device-value-07-bulk-running");
    await page.getByTestId("cancel-button").click();
    await page.getByTestId("bulk-report").waitFor({ timeout: 30_000 });
  } finally {
    await emu.put("/_emulator/faults", {});
  }
  assert.match(await page.getByTestId("report-headline").textContent(), new RegExp(`^Cancelled after \\d+ of ${n} calls`));
  const applied = await statNumber(page, "count-applied");
  const notAttempted = await statNumber(page, "count-notAttempted");
  assert.ok(applied > 0 && applied < n, `some but not all changed (${applied} of ${n})`);
  assert.equal(applied + notAttempted, n);
  // The report names exactly the machines the emulator now has at Low (of those that were not).
  const report = JSON.parse(await downloadText(page, page.getByTestId("export-json")));
  const reported = report.machines.filter((r) => r.status === "applied").map((r) => r.machineId).sort();
  const after = await Promise.all(toChange.map((m) => emu.get(`/_emulator/machines/${m.id}`)));
  assert.deepEqual(reported, after.filter((m) => m.deviceValue === "Low").map((m) => m.id).sort(), "report = emulator state");

  // Resume previews exactly what is left, and finishes it.
  await page.getByTestId("resume-button").click();
  await page.getByTestId("bulk-preview").waitFor();
  assert.equal(await statNumber(page, "preview-will-change"), n - applied);
  await runAndWait(page);
  assert.equal(await statNumber(page, "count-applied"), n - applied);
  for (const m of machines) {
    assert.equal((await emu.get(`/_emulator/machines/${m.id}`)).deviceValue, "Low", m.id);
  }
  await page.close();
});

test("reader: the bulk device-value choice is disabled with its reason, and nothing is sent", async () => {
  await thirtyMachines();
  const callsBefore = await calls();
  const page = await newPage(browser);
  await signIn(page, emu.url, "reader");
  await openBulkWithAll(page);
  const choice = page.getByLabel("Set the device value");
  assert.equal(await choice.isDisabled(), true);
  assert.match(await page.getByTestId("bulk-device-value-read-only").textContent(), /Read-only sign-in.*Machine\.ReadWrite/);
  assert.equal(await page.getByTestId("bulk-device-value").isDisabled(), true);
  await page.getByTestId("preview-button").scrollIntoViewIfNeeded();
  await screenshot(page, "device-value-06-bulk-reader");
  assert.equal(await calls(), callsBefore, "no setDeviceValue call");
  await page.close();
});

test("a value the API would refuse gets a specific error and nothing is planned or sent", async () => {
  await thirtyMachines();
  const callsBefore = await calls();
  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  await openBulkWithAll(page);
  await page.getByLabel("Set the device value").check();
  // A crafted option (as edited in the page): the form reads the value as text and checks it.
  await page.getByTestId("bulk-device-value").evaluate((select) => {
    const o = document.createElement("option");
    o.value = "Critical";
    o.textContent = "Critical";
    select.append(o);
  });
  await page.getByTestId("bulk-device-value").selectOption("Critical");
  await page.getByTestId("preview-button").click();
  await eventually(async () => /Device value: device value "Critical" is not one of Low, Normal, High/.test(await page.getByTestId("bulk-tag-error").textContent()), "specific error");
  assert.equal(await page.getByTestId("bulk-preview").count(), 0, "no preview");
  assert.equal(await calls(), callsBefore, "no call");
  await page.close();
});
