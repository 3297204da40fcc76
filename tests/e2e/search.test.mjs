// Search and filters: server-side OData through the client, instant narrowing, state in the URL.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startEmulator } from "./lib/emulator.mjs";
import { launch, newPage, screenshot, seriousA11yViolations, signIn } from "./lib/browser.mjs";

let emu;
let browser;
before(async () => {
  emu = await startEmulator();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await emu?.stop();
});

const visibleNames = (page) => page.locator(".body-row:not([hidden]) .machine-link").allTextContents();
const summary = (page) => page.getByTestId("results-summary").textContent();

test("search box, filters, URL state, reload and back/forward", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor();
  const all = await summary(page);

  // Any part of a name: instant narrowing, then the URL (and the server query) follow.
  await page.getByLabel("Search machines").fill("fin-");
  await page.waitForURL(/[?&]q=fin-/);
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor();
  assert.match(await page.getByTestId("search-hint").textContent(), /Computer names containing/);
  let names = await visibleNames(page);
  assert.ok(names.length > 0);
  assert.ok(names.every((n) => n.toLowerCase().includes("fin-")), names.join(", "));
  assert.notEqual(await summary(page), all);

  // A filter goes to the URL at once.
  await page.getByLabel("Health").selectOption("Active");
  await page.waitForURL(/[?&]health=Active/);
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor();
  const healths = await page.locator(".body-row:not([hidden]) .col-health").allTextContents();
  assert.ok(healths.length > 0 && healths.every((h) => h === "Active"), healths.join(", "));
  const filtered = await summary(page);
  await screenshot(page, "03-search-filtered");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: filtered search");

  // Sorting is in the URL too.
  await page.getByRole("button", { name: "Computer name" }).click();
  await page.waitForURL(/[?&]dir=desc/);
  names = await visibleNames(page);
  assert.deepEqual(names, [...names].sort((a, b) => b.toLowerCase().localeCompare(a.toLowerCase())));

  // Arrow keys move between machines, scrolling the virtual window (rows past it are not in
  // the DOM until scrolled to).
  await page.locator(".body-row:not([hidden]) .machine-link").first().focus();
  const nextFrame = () => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  for (let i = 0; i < 30; i++) await page.keyboard.press("ArrowDown");
  await nextFrame();
  const focusedRow = await page.evaluate(() => document.activeElement.closest("[role=row]").getAttribute("aria-rowindex"));
  assert.equal(focusedRow, "32", "30 rows below the first data row (aria-rowindex 2)");
  const rowOf = () => page.evaluate(() => document.activeElement.closest("[role=row]").getAttribute("aria-rowindex"));
  assert.ok((await page.evaluate(() => document.activeElement.textContent)).toLowerCase().startsWith("fin-"));
  await page.keyboard.press("ArrowUp");
  await nextFrame();
  assert.equal(await rowOf(), "31");

  // Reload keeps everything.
  await page.reload();
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor();
  assert.equal(await page.getByLabel("Search machines").inputValue(), "fin-");
  assert.equal(await page.getByLabel("Health").inputValue(), "Active");
  assert.equal(await summary(page), filtered);

  // Back twice: before sorting, then before the health filter.
  await page.goBack();
  await page.goBack();
  await page.waitForURL((u) => !u.search.includes("health="));
  assert.equal(await page.getByLabel("Health").inputValue(), "");
  assert.equal(await page.getByLabel("Search machines").inputValue(), "fin-");

  // Laptop size: everything still fits and stays usable.
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.locator(".body-row:not([hidden])").first().locator(".machine-link").click();
  await page.getByTestId("machine-panel").waitFor();
  await screenshot(page, "27-laptop-1280x720");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: laptop size with panel");
  await page.setViewportSize({ width: 1440, height: 900 });

  // An IP prefix is understood as an IP.
  await page.getByLabel("Search machines").fill("10.1.");
  await page.waitForURL(/[?&]q=10\.1\./);
  assert.match(await page.getByTestId("search-hint").textContent(), /Any IP address starting with 10\.1\./);
  assert.deepEqual(page.problems, []);
});

test("tag filter (exact and prefix) finds tagged machines", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor();
  // Take a tag that some machine carries.
  const tag = (await page.locator(".body-row:not([hidden]) .col-tags .chip").first().textContent()).trim();
  await page.getByLabel("Tag", { exact: true }).fill(tag);
  await page.getByLabel("Tag", { exact: true }).press("Enter");
  await page.waitForURL(/[?&]tag=/);
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines?/ }).waitFor();
  const count = Number((await summary(page)).match(/^(\d+)/)[1]);
  assert.ok(count > 0);
  await page.getByLabel("Tag match").selectOption("prefix");
  await page.waitForURL(/tagmode=prefix/);
  assert.deepEqual(page.problems, []);
});
