// Tag inventory (issue #6): counts, case-variant clusters, portal-breaking tags, and merging two
// case variants through the bulk preview → run flow, checked against the emulator's state.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startEmulator } from "./lib/emulator.mjs";
import { launch, newPage, screenshot, seriousA11yViolations, signIn } from "./lib/browser.mjs";
import { allMachines, eventually, runAndWait, statNumber } from "./lib/bulk.mjs";

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

test("inventory lists counts, variants and portal breakers; merging Finance/finance", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  await page.getByRole("link", { name: "Tag inventory" }).click();
  await page.getByTestId("inventory-summary").waitFor({ timeout: 60_000 });

  // The table's counts agree with what the API lists (a row per tag).
  const rows = page.getByTestId("inventory-table").locator("tbody tr");
  const vipRow = rows.filter({ has: page.locator("th", { hasText: /^VIP$/ }) });
  const vipCount = Number((await vipRow.locator("td.num").textContent()).replace(/,/g, ""));
  assert.ok(vipCount > 0);

  // Portal breakers: commas and parentheses.
  const breakers = await page.getByTestId("portal-breakers").locator("li .chip").allTextContents();
  assert.ok(breakers.includes("Legacy (EOL)") && breakers.includes("Berlin, DE"), breakers.join(" | "));

  // The Finance cluster.
  const cluster = page.getByTestId("variant-cluster").filter({ hasText: /Spellings of “finance”/ });
  await cluster.waitFor();
  await screenshot(page, "20-inventory");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: inventory");

  const before = await allMachines(emu);
  const withLower = before.filter((m) => m.machineTags.includes("finance"));
  const withUpper = before.filter((m) => m.machineTags.includes("Finance"));
  assert.ok(withLower.length > 0 && withUpper.length > 0, "both spellings exist");
  const lowerOnly = withLower.filter((m) => !m.machineTags.includes("Finance"));

  await cluster.getByLabel(/Keep “Finance”/).check();
  await cluster.getByTestId("merge-button").click();
  await page.waitForURL(/\/bulk$/);
  await page.getByTestId("bulk-preview").waitFor();
  assert.match(await page.locator("#bulk-job-title").textContent(), /Merge “finance” into “Finance”/);
  // Adds to machines with only "finance", removes "finance" from all that carry it — as far as
  // the API lists them (machines past retention are not listed, so compare with the preview).
  const willChange = await statNumber(page, "preview-will-change");
  assert.ok(willChange >= lowerOnly.length, `${willChange} >= ${lowerOnly.length}`);
  await screenshot(page, "21-inventory-merge-preview");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: merge preview");
  await runAndWait(page);
  assert.match(await page.getByTestId("report-headline").textContent(), /^Finished/);
  assert.equal(await statNumber(page, "count-applied"), willChange);
  await screenshot(page, "22-inventory-merge-report");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: merge report");

  // The emulator: no listed machine keeps "finance"; each that had it now has "Finance".
  for (const m of withLower.slice(0, 40)) {
    const now = await emu.get(`/_emulator/machines/${m.id}`);
    if (now.machineTags.includes("finance")) {
      // Only machines the API does not list (past retention) may keep it.
      continue;
    }
    assert.ok(now.machineTags.includes("Finance"), `${m.id} got Finance`);
  }
  const after = await allMachines(emu);
  const stillLower = after.filter((m) => m.machineTags.includes("finance")).length;
  assert.ok(stillLower < withLower.length / 4, `most lower-case tags are gone (${stillLower} of ${withLower.length})`);

  // Back on the inventory, the cluster is gone (counts are read again after the run).
  await page.getByRole("link", { name: "Tag inventory" }).click();
  await page.getByTestId("inventory-summary").waitFor({ timeout: 60_000 });
  await eventually(async () => (await page.getByTestId("variant-cluster").filter({ hasText: /Spellings of “finance”/ }).count()) === 0, "cluster gone");

  // Undo the merge (two steps, reversed) from its report: every machine is as before.
  await page.getByRole("link", { name: "Bulk change", exact: true }).click();
  await page.getByTestId("undo-button").click();
  await page.getByTestId("bulk-preview").waitFor();
  assert.match(await page.locator("#bulk-job-title").textContent(), /Undo — Add “finance”, then Remove “Finance”/);
  await runAndWait(page);
  assert.match(await page.getByTestId("report-headline").textContent(), /^Finished/);
  assert.equal(await statNumber(page, "count-applied"), willChange);
  const restored = await allMachines(emu);
  const tagsOf = (list) => new Map(list.map((m) => [m.id, [...m.machineTags].sort().join("\u0000")]));
  const beforeTags = tagsOf(before);
  const differing = [...tagsOf(restored)].filter(([id, t]) => beforeTags.get(id) !== t);
  assert.deepEqual(differing, [], "every machine's tags are as before the merge");
  assert.deepEqual(page.problems, []);
});
