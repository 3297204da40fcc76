// Bulk tagging (issue #6): select "all matching" → preview → run with progress → cancel midway →
// the report names exactly the changed machines → undo restores them; a large run stays inside
// the rate budget; CSV import with bad rows and an ambiguous name; the activity log.
// Every claim is checked against the emulator's own state.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startEmulator } from "./lib/emulator.mjs";
import { launch, newPage, screenshot, seriousA11yViolations, signIn } from "./lib/browser.mjs";
import { allMachines, csvObjects, downloadText, eventually, runAndWait, statNumber, throttledCount } from "./lib/bulk.mjs";

let emu;
let browser;
before(async () => {
  emu = await startEmulator({ machines: 3000, extraArgs: ["--time-scale", "60"] });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await emu?.stop();
});

const matchSummary = (page) => page.getByTestId("bulk-match-summary");

async function openBulk(page, query = "") {
  await page.goto(`${emu.url}/bulk${query}`);
  await matchSummary(page).filter({ hasText: /matching machines selected/ }).waitFor({ timeout: 60_000 });
}

async function preview(page, tag, action = "Add") {
  if (action === "Remove") await page.getByLabel("Remove the tag").check();
  await page.getByLabel("Tag to add or remove").fill(tag);
  await page.getByTestId("preview-button").click();
  await page.getByTestId("bulk-preview").waitFor();
}

test("select all matching, preview, run, cancel midway, exact report, undo restores", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  // From the search page: its filter carries over to /bulk.
  await page.goto(`${emu.url}/?health=Active`);
  await page.getByTestId("results-summary").filter({ hasText: /^\d[\d,]* machines/ }).waitFor();
  await screenshot(page, "09-search-bulk-link");
  await page.getByRole("link", { name: "Bulk change these machines…" }).click();
  await page.waitForURL(/\/bulk\?health=Active$/);
  await matchSummary(page).filter({ hasText: /matching machines selected/ }).waitFor({ timeout: 60_000 });
  assert.equal(await page.getByLabel("Health").inputValue(), "Active");
  const expected = (await allMachines(emu)).filter((m) => m.healthStatus === "Active");
  assert.ok(expected.length > 1500, `enough machines for several calls (${expected.length})`);

  await page.getByTestId("select-all-matching").click();
  await matchSummary(page).filter({ hasText: `${expected.length.toLocaleString("en-US")} of ${expected.length.toLocaleString("en-US")}` }).waitFor();
  await screenshot(page, "10-bulk-compose-all-matching");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: bulk compose");

  const tag = "e2e-bulk-cancel";
  await preview(page, tag);
  assert.equal(await statNumber(page, "preview-will-change"), expected.length);
  assert.equal(await statNumber(page, "preview-already"), 0);
  assert.equal(await statNumber(page, "preview-unresolved"), 0);
  const calls = Math.ceil(expected.length / 500);
  assert.match(await page.getByTestId("preview-calls").textContent(), new RegExp(`^${calls} API calls`));
  await screenshot(page, "11-bulk-preview");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: preview");

  // Every call takes 6 s, so the run can be cancelled midway: the client keeps two calls in
  // flight, so calls finish in pairs (the count may go from 0 straight to 2), and the checks
  // below (screenshot, axe) have ~6 s before the last call would be sent, even on a busy machine.
  await emu.put("/_emulator/faults", { slow: 1.0, slow_ms: 6000 });
  try {
    await page.getByTestId("run-button").click();
    await page.getByTestId("bulk-running").waitFor();
    const midway = Array.from({ length: calls - 1 }, (_, k) => k + 1).join("|");
    await page.getByTestId("progress-counts").filter({ hasText: new RegExp(`^(${midway}) of ${calls} calls`) }).waitFor({ timeout: 30_000 });
    assert.match(await page.getByTestId("progress-budget").textContent(), /Rate budget: \d+ of 100 calls this minute, \d+ of 1,500 this hour/);
    assert.match(await page.getByTestId("progress-eta").textContent(), /left|Waiting|Estimating/);
    assert.ok(Number(await page.locator("#bulk-progress").getAttribute("value")) > 0);
    await screenshot(page, "12-bulk-running");
    assert.deepEqual(await seriousA11yViolations(page), [], "axe: bulk running");
    // Leaving mid-run asks first: a reload would lose the run's report, undo and log entry.
    const leaveBlocked = () => page.evaluate(() => !window.dispatchEvent(new Event("beforeunload", { cancelable: true })));
    assert.equal(await leaveBlocked(), true, "leaving the page is guarded while running");
    await page.getByTestId("cancel-button").click();
    await page.getByTestId("bulk-report").waitFor({ timeout: 30_000 });
  } finally {
    await emu.put("/_emulator/faults", {});
  }
  assert.match(await page.getByTestId("report-headline").textContent(), /^Cancelled after \d+ of \d+ calls/);
  assert.equal(await page.evaluate(() => !window.dispatchEvent(new Event("beforeunload", { cancelable: true }))), false, "no guard once the run ended");
  const applied = await statNumber(page, "count-applied");
  const notAttempted = await statNumber(page, "count-notAttempted");
  assert.ok(applied >= 500 && applied < expected.length, `some but not all changed (${applied})`);
  assert.equal(applied + notAttempted, expected.length);
  await screenshot(page, "13-bulk-report-cancelled");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: bulk report (cancelled)");

  // The report (its CSV export) names exactly the machines the emulator shows changed.
  const rows = csvObjects(await downloadText(page, page.getByTestId("export-csv")));
  assert.equal(rows.length, expected.length);
  const changed = new Set(rows.filter((r) => r.status === "applied").map((r) => r.machineId));
  assert.equal(changed.size, applied);
  const state = await allMachines(emu);
  const nowTagged = new Set(state.filter((m) => m.machineTags.includes(tag)).map((m) => m.id));
  assert.deepEqual([...nowTagged].sort(), [...changed].sort(), "report = emulator state");
  for (const id of [...changed].slice(0, 25)) {
    const m = await emu.get(`/_emulator/machines/${id}`);
    assert.ok(m.machineTags.includes(tag), id);
  }
  const json = JSON.parse(await downloadText(page, page.getByTestId("export-json")));
  assert.equal(json.cancelled, true);
  assert.equal(json.machines.filter((m) => m.status === "applied").length, applied);

  // Undo: a preview of exactly the changed machines, then the run.
  await page.getByTestId("undo-button").click();
  await page.getByTestId("bulk-preview").waitFor();
  assert.match(await page.locator("#bulk-job-title").textContent(), new RegExp(`^Preview: Undo — Remove “${tag}” on ${applied.toLocaleString("en-US")} machines`));
  assert.equal(await statNumber(page, "preview-will-change"), applied);
  await screenshot(page, "14-bulk-undo-preview");
  await runAndWait(page);
  assert.match(await page.getByTestId("report-headline").textContent(), /^Finished/);
  assert.equal(await statNumber(page, "count-applied"), applied);
  for (const id of [...changed].slice(0, 25)) {
    const m = await emu.get(`/_emulator/machines/${id}`);
    assert.ok(!m.machineTags.includes(tag), `undone on ${id}`);
  }
  const after = await allMachines(emu);
  assert.equal(after.filter((m) => m.machineTags.includes(tag)).length, 0, "no machine keeps the tag");
  await screenshot(page, "15-bulk-undo-report");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: undo report");
  assert.deepEqual(page.problems, []);
});

test("all matching beyond one 10,000-row page; the run stays inside the rate budget with zero 429s", async () => {
  // Its own tenant of 12,000 machines: listing them takes more than one API page.
  const big = await startEmulator({ machines: 12000, extraArgs: ["--time-scale", "60"] });
  try {
    const page = await newPage(browser);
    await signIn(page, big.url, "admin");
    await page.goto(`${big.url}/bulk`);
    const summary = await page.getByTestId("bulk-match-summary").filter({ hasText: /matching machines selected/ }).textContent({ timeout: 120_000 });
    const total = Number(/of ([\d,]+) matching/.exec(summary)[1].replace(/,/g, ""));
    assert.ok(total > 10_000, `more than one page of machines (${total})`);
    let stats = await big.get("/_emulator/stats");
    const listCalls = Object.entries(stats.endpoints).filter(([k]) => k === "listMachines").reduce((n, [, e]) => n + e.calls, 0);
    assert.ok(listCalls >= 2, `paged listing (${JSON.stringify(Object.keys(stats.endpoints))})`);

    await page.getByTestId("select-all-matching").click();
    await preview(page, "e2e-budget");
    assert.equal(await statNumber(page, "preview-will-change"), total);
    await runAndWait(page);
    assert.match(await page.getByTestId("report-headline").textContent(), /^Finished/);
    assert.equal(await statNumber(page, "count-applied"), total);
    await screenshot(page, "19-bulk-report-12000");
    assert.equal(await throttledCount(big), 0, "no 429 from the emulator");
    stats = await big.get("/_emulator/stats");
    const bulkCalls = Object.entries(stats.endpoints).filter(([k]) => k === "bulkTagMachines").reduce((n, [, e]) => n + e.calls, 0);
    assert.equal(bulkCalls, Math.ceil(total / 500), "one bulk call per 500 machines");
    const state = await allMachines(big);
    assert.equal(state.filter((m) => m.machineTags.includes("e2e-budget")).length, total);
    assert.deepEqual(page.problems, []);
    await page.context().close();
  } finally {
    await big.stop();
  }
});

test("CSV import: bad rows numbered, unknown and ambiguous names listed, never guessed", async () => {
  await emu.post("/_emulator/reset");
  const machines = await allMachines(emu);
  const byName = new Map();
  for (const m of machines) {
    const key = (m.computerDnsName ?? "").toLowerCase();
    if (key) byName.set(key, [...(byName.get(key) ?? []), m]);
  }
  const plain = (m) => /^[A-Za-z0-9.-]+$/.test(m.computerDnsName ?? "");
  const dup = [...byName.values()].find((list) => list.length > 1 && list.every(plain));
  assert.ok(dup, "the dataset has a duplicated name");
  const unique = [...byName.values()].filter((l) => l.length === 1 && plain(l[0])).map((l) => l[0]).slice(0, 3);
  const csv = [
    "owner,computerDnsName,os,notes",
    `ann,${unique[0].computerDnsName},x,1`,
    `bob,${unique[1].computerDnsName.toUpperCase()},y,2`,
    "cy,bad name,z,3",
    "dee,,w,4",
    `eve,${dup[0].computerDnsName},v,5`,
    "fay,no-such-machine.contoso.com,u,6",
    `gus,${unique[2].id},t,7`,
  ].join("\n");

  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  await page.goto(`${emu.url}/bulk?source=import`);
  await page.getByRole("tab", { name: "Import a list" }).waitFor();
  assert.equal(await page.getByRole("tab", { name: "Import a list" }).getAttribute("aria-selected"), "true");
  await page.getByLabel("Or choose a CSV or text file").setInputFiles({ name: "machines.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
  await page.getByTestId("import-summary").waitFor({ timeout: 60_000 });
  assert.equal(await page.getByTestId("import-resolved").textContent(), "3 machines found");
  const problems = await page.getByTestId("import-problems").locator("li").allTextContents();
  assert.equal(problems.length, 4, problems.join("\n"));
  assert.match(problems[0], /^Line 4.*invalid.*"bad name".*whitespace/i);
  assert.match(problems[1], /^Line 5.*invalid.*machine column is empty/i);
  assert.match(problems[2], new RegExp(`^Line 6${dup[0].computerDnsName}ambiguous.*${dup[0].id}.*${dup[1].id}`, "i"));
  assert.match(problems[3], /^Line 7no-such-machine\.contoso\.comunknown/);
  await screenshot(page, "16-bulk-import-checked");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: import");

  await preview(page, "e2e-imported");
  assert.equal(await statNumber(page, "preview-will-change"), 3);
  assert.equal(await statNumber(page, "preview-unresolved"), 4);
  await screenshot(page, "17-bulk-import-preview");
  await runAndWait(page);
  assert.equal(await statNumber(page, "count-applied"), 3);
  // The lines that were not part of the run stay in the report and its CSV, with line and text.
  assert.match(await page.getByTestId("report-unresolved").locator("summary").textContent(), /^Not part of the run \(4\)/);
  const exported = csvObjects(await downloadText(page, page.getByTestId("export-csv")));
  const left = exported.filter((r) => ["invalid", "unknown", "ambiguous"].includes(r.status));
  assert.deepEqual(left.map((r) => [r.line, r.status]), [["4", "invalid"], ["5", "invalid"], ["6", "ambiguous"], ["7", "unknown"]]);
  assert.equal(left[3].input, "no-such-machine.contoso.com");
  assert.equal(left[2].input, dup[0].computerDnsName);
  for (const m of unique) {
    assert.ok((await emu.get(`/_emulator/machines/${m.id}`)).machineTags.includes("e2e-imported"));
  }
  for (const m of dup) {
    assert.ok(!(await emu.get(`/_emulator/machines/${m.id}`)).machineTags.includes("e2e-imported"), "ambiguous name not guessed");
  }
  assert.deepEqual(page.problems, []);
});

test("the activity log lists single edits and bulk runs and exports them", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  // A single edit from the machine panel.
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor();
  await page.locator(".body-row:not([hidden]) .machine-link").first().click();
  await page.getByTestId("machine-panel").waitFor();
  await page.getByRole("combobox", { name: "Add a tag" }).fill("e2e-single");
  await page.getByTestId("add-tag-button").click();
  await page.getByTestId("notice").filter({ hasText: "Added" }).waitFor();
  // A bulk run on two machines.
  await page.getByRole("link", { name: "Bulk change", exact: true }).click();
  await matchSummary(page).filter({ hasText: /matching machines selected/ }).waitFor({ timeout: 60_000 });
  const boxes = page.getByTestId("pick-list").getByRole("checkbox");
  await boxes.nth(0).check();
  await boxes.nth(1).check();
  await matchSummary(page).filter({ hasText: /^2 of / }).waitFor();
  await preview(page, "e2e-activity");
  await runAndWait(page);

  await page.getByRole("link", { name: "Activity" }).click();
  await page.getByTestId("activity-table").waitFor();
  const rows = await page.getByTestId("activity-row").allTextContents();
  assert.equal(rows.length, 2, rows.join("\n"));
  assert.match(rows[0], /bulk.*Add “e2e-activity” to 2 machines/);
  assert.match(rows[1], /single.*Add “e2e-single”/);
  await screenshot(page, "18-activity");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: activity");
  const json = JSON.parse(await downloadText(page, page.getByTestId("activity-export-json")));
  assert.deepEqual(json.map((e) => e.kind), ["single", "bulk"]);
  assert.ok(json.every((e) => e.who && e.atMs > 0));
  assert.equal(json[1].changes.filter((c) => c.status === "applied").length, 2);
  const csv = csvObjects(await downloadText(page, page.getByTestId("activity-export-csv")));
  assert.equal(csv.length, 3, "one row per machine line");
  // The log survives a reload (sessionStorage), tokens are not in it.
  await page.reload();
  await page.getByTestId("activity-table").waitFor();
  assert.equal(await page.getByTestId("activity-row").count(), 2);
  // Kept per tenant: the key carries the tenant in use.
  const stored = await page.evaluate(() =>
    Object.keys(sessionStorage)
      .filter((k) => k.startsWith("defender-tags.activity:"))
      .map((k) => sessionStorage.getItem(k))
      .join("\n"),
  );
  assert.ok(stored && !/eyJ[A-Za-z0-9_-]{10,}\./.test(stored), "no JWT in the stored log");
  assert.deepEqual(page.problems, []);
});

test("keyboard only: pick a row, preview with Enter; a read-only user cannot run", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "reader");
  await openBulk(page, "?health=Active");
  const first = page.getByTestId("pick-list").getByRole("checkbox").first();
  await first.focus();
  await page.keyboard.press("Space");
  await matchSummary(page).filter({ hasText: /^1 of / }).waitFor();
  await page.getByLabel("Remove the tag").focus();
  await page.keyboard.press("Space");
  assert.equal(await page.getByLabel("Remove the tag").isChecked(), true);
  await page.getByLabel("Add the tag").focus();
  await page.keyboard.press("Space");
  await page.getByLabel("Tag to add or remove").focus();
  await page.keyboard.type("e2e-reader");
  await page.keyboard.press("Enter");
  await page.getByTestId("bulk-preview").waitFor();
  // Focus moves to the preview's heading, so keyboard and screen-reader users land on it.
  assert.equal(await page.evaluate(() => document.activeElement?.id), "bulk-job-title");
  assert.match(await page.locator("#bulk-job-title").textContent(), /Add “e2e-reader” to 1 machine/);
  assert.equal(await page.getByTestId("preview-source").textContent(), "Machines from: Hand-picked: 1 machine from the search health=Active");
  assert.equal(await statNumber(page, "preview-will-change"), 1);
  // Something to change, but a read-only sign-in: the run button stays disabled.
  assert.equal(await page.getByTestId("run-button").isDisabled(), true);
  await page.getByText("Your sign-in is read-only").waitFor();
  await screenshot(page, "26-bulk-reader-preview");
  await page.getByTestId("back-button").focus();
  await page.keyboard.press("Enter");
  await page.getByTestId("pick-list").waitFor();
  assert.deepEqual(page.problems, []);
});

test("a sign-in that needs interaction when Run is pressed stops before anything is sent; the page stays", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  await openBulk(page);
  const boxes = page.getByTestId("pick-list").getByRole("checkbox");
  await boxes.nth(0).check();
  await matchSummary(page).filter({ hasText: /^1 of / }).waitFor();
  const tag = "e2e-held-redirect";
  await preview(page, tag);
  // Entra refuses an expired refresh token with invalid_grant (+ bad_token), which MSAL turns into
  // InteractionRequiredAuthError; outside a run the app would redirect to sign in. The run's
  // first call is the re-read of the machines' tags (fresh plan), made under the run's guard.
  const refuse = (route) =>
    route.fulfill({
      status: 400,
      contentType: "application/json",
      body: JSON.stringify({ error: "invalid_grant", error_description: "AADSTS700082: The refresh token has expired.", error_codes: [700082] }),
    });
  await page.route(/\/oauth2\/v2\.0\/token/, refuse);
  const topNavigations = [];
  page.on("framenavigated", (f) => {
    if (f === page.mainFrame()) topNavigations.push(f.url());
  });
  await new Promise((r) => setTimeout(r, 2100));
  await emu.put("/_emulator/faults", { max_token_age_secs: 1 });
  try {
    await page.getByTestId("run-button").click();
    await page.getByTestId("preview-recheck-failed").waitFor({ timeout: 60_000 });
  } finally {
    await emu.put("/_emulator/faults", {});
    await page.unroute(/\/oauth2\/v2\.0\/token/, refuse);
  }
  assert.deepEqual(topNavigations, [], "the page never left for the sign-in page");
  assert.match(await page.getByTestId("preview-recheck-failed").textContent(), /nothing was changed.*sign-in needs renewing/);
  await screenshot(page, "29-bulk-stopped-sign-in-needed");
  const state = await allMachines(emu);
  assert.equal(state.filter((m) => m.machineTags.includes(tag)).length, 0, "nothing was sent");
  // Leaving is no longer guarded, and the preview is still there to run after signing in again.
  assert.equal(await page.evaluate(() => !window.dispatchEvent(new Event("beforeunload", { cancelable: true }))), false);
  assert.equal(await page.getByTestId("bulk-preview").count(), 1);
});

test("the bulk run's code loads when Run is pressed; a failed download sends nothing and a later Run works", async () => {
  // crates/web-ui/src/bulk/runner.rs: running plans is a split point of the site's release build.
  const runModule = /\/pkg\/split_dt_bulk_run(\.[0-9a-f]{12})?\.wasm$/;
  const page = await newPage(browser);
  const fetched = [];
  page.on("request", (r) => {
    if (runModule.test(new URL(r.url()).pathname)) fetched.push(new URL(r.url()).pathname);
  });
  await signIn(page, emu.url, "admin");
  await openBulk(page);
  await page.getByTestId("pick-list").getByRole("checkbox").nth(0).check();
  await matchSummary(page).filter({ hasText: /^1 of / }).waitFor();
  const tag = "e2e-run-code-unavailable";
  await preview(page, tag);
  assert.deepEqual(fetched, [], "composing and previewing fetched the run's code");

  let refused = 0;
  await page.route(runModule, async (route) => {
    refused += 1;
    await route.abort("internetdisconnected");
  });
  await page.getByTestId("run-button").click();
  const failed = page.getByTestId("preview-recheck-failed");
  await failed.waitFor({ timeout: 30_000 });
  assert.match(
    await failed.textContent(),
    /nothing was changed: the code that runs bulk changes could not be downloaded \(check the connection/,
  );
  assert.ok(refused >= 1);
  assert.equal((await allMachines(emu)).filter((m) => m.machineTags.includes(tag)).length, 0, "nothing was sent");
  await screenshot(page, "30-bulk-run-code-unavailable");

  await page.unroute(runModule);
  await runAndWait(page);
  assert.equal(await statNumber(page, "count-applied"), 1);
  assert.equal((await allMachines(emu)).filter((m) => m.machineTags.includes(tag)).length, 1);
  assert.ok(fetched.length > refused, `the run's code was fetched after the failure: ${fetched}`);
  assert.deepEqual(page.problems, []);
});
