// The pages after sign-in and search load on first use (crates/web-ui/src/routes/lazy.rs): the
// first load fetches none of their modules; a slow module shows the page's own frame and a
// loading line, and the page then arrives without moving its heading; a failed download says so
// and "Try again" fetches it afresh. The hunting calls' code (crates/web-ui/src/hunting/mod.rs)
// loads the same way, when a machine's tag sources are first asked for.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startEmulator } from "./lib/emulator.mjs";
import { launch, newPage, screenshot, seriousA11yViolations, signIn } from "./lib/browser.mjs";
import { allMachines } from "./lib/bulk.mjs";

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

/** A page module of the split site (`pkg/split_dt_page_<name>.wasm`, hashed or not). */
const pageModule = (name) => new RegExp(`/pkg/split_dt_page_${name}(\\.[0-9a-f]{12})?\\.wasm$`);
const anyPageModule = /\/pkg\/(split|chunk)_[^/]*\.wasm$/;
/** The hunting calls' module (`pkg/split_dt_hunting.wasm`, hashed or not). */
const huntingModule = /\/pkg\/split_dt_hunting(\.[0-9a-f]{12})?\.wasm$/;

test("sign-in and search load no page module; a slow page shows its frame and a loading line, then arrives without moving", async () => {
  const page = await newPage(browser);
  const fetched = [];
  page.on("request", (r) => {
    if (anyPageModule.test(new URL(r.url()).pathname)) fetched.push(new URL(r.url()).pathname);
  });
  await signIn(page, emu.url, "admin");
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor();
  assert.deepEqual(fetched, [], "the first load (sign-in and search) fetched page modules");

  // Hold the settings page's module back until the placeholder has been looked at.
  let release;
  const held = new Promise((r) => { release = r; });
  await page.route(pageModule("settings"), async (route) => {
    await held;
    await route.continue();
  });
  await page.getByRole("navigation").getByRole("link", { name: "Settings" }).click();
  const placeholder = page.getByTestId("page-loading");
  await placeholder.waitFor();
  assert.equal(await placeholder.getAttribute("aria-busy"), "true");
  assert.equal(await placeholder.getByRole("heading", { level: 1 }).textContent(), "Settings");
  // The line appears after a short delay (a fast load does not flash it).
  const note = placeholder.getByRole("status");
  await note.filter({ hasText: "Loading…" }).waitFor({ state: "visible" });
  const headingBefore = await placeholder.getByRole("heading", { level: 1 }).boundingBox();
  await screenshot(page, "lazy-01-settings-loading");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: page placeholder");
  assert.ok(fetched.some((p) => pageModule("settings").test(p)), `${fetched}`);

  release();
  await page.locator("#settings-title").waitFor();
  await placeholder.waitFor({ state: "detached" });
  const headingAfter = await page.locator("#settings-title").boundingBox();
  assert.deepEqual(
    [headingAfter.x, headingAfter.y, headingAfter.height],
    [headingBefore.x, headingBefore.y, headingBefore.height],
    "the heading stays where the placeholder put it",
  );
  await screenshot(page, "lazy-02-settings-loaded");
  // Back and forth: the module is not fetched again.
  const settingsFetches = fetched.filter((p) => pageModule("settings").test(p)).length;
  await page.getByRole("navigation").getByRole("link", { name: "Machines" }).click();
  await page.getByTestId("results-summary").waitFor();
  await page.getByRole("navigation").getByRole("link", { name: "Settings" }).click();
  await page.locator("#settings-title").waitFor();
  assert.equal(fetched.filter((p) => pageModule("settings").test(p)).length, settingsFetches);
  assert.deepEqual(page.problems, []);
});

test("a page module that fails to download says so; Try again loads the page", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  let refused = 0;
  await page.route(pageModule("activity"), async (route) => {
    refused += 1;
    await route.abort("internetdisconnected");
  });
  await page.getByRole("navigation").getByRole("link", { name: "Activity" }).click();
  const failed = page.getByTestId("page-loading").getByRole("alert");
  await failed.waitFor();
  assert.match(await failed.textContent(), /could not be downloaded/);
  assert.equal(await page.getByTestId("page-loading").getAttribute("aria-busy"), "false");
  await screenshot(page, "lazy-03-activity-failed");
  assert.ok(refused >= 1);

  await page.unroute(pageModule("activity"));
  await failed.getByRole("button", { name: "Try again" }).click();
  await page.getByTestId("activity-scope").waitFor();
  await page.getByTestId("page-loading").waitFor({ state: "detached" });
  assert.equal(await page.getByRole("heading", { level: 1 }).textContent(), "Activity");
  // The app kept running: other pages still work.
  await page.getByRole("navigation").getByRole("link", { name: "Tag rules" }).click();
  await page.getByRole("heading", { name: "Saved rules" }).waitFor();
  assert.deepEqual(page.problems, []);
});

test("the hunting code loads when a machine's tag sources are first asked for; a failed download says so and the panel works", async () => {
  const DAY = 86_400_000;
  // A machine in hunting data (DeviceInfo: seen in the last 30 days) with a tag.
  const target = (await allMachines(emu)).find(
    (m) => m.lastSeen && Date.parse(m.lastSeen) > Date.now() - 30 * DAY && m.machineTags.length > 0,
  );
  assert.ok(target, "a machine in hunting data with a tag");
  const page = await newPage(browser);
  const fetched = [];
  page.on("request", (r) => {
    const path = new URL(r.url()).pathname;
    if (huntingModule.test(path)) fetched.push(path);
  });
  let refused = 0;
  await page.route(huntingModule, async (route) => {
    refused += 1;
    await route.abort("internetdisconnected");
  });
  await signIn(page, emu.url, "admin");
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor();
  assert.equal(refused, 0, "the search page asked for the hunting code");

  await page.goto(`${emu.url}/?m=${target.id}`);
  const panel = page.getByTestId("machine-panel");
  await panel.waitFor({ timeout: 30_000 });
  const note = panel.getByTestId("tag-sources-note");
  await note.waitFor({ timeout: 30_000 });
  assert.match(
    await note.textContent(),
    /^Tag sources \(manual, registry, rule\) are not shown: the code that reads them could not be downloaded\. Check the connection/,
  );
  assert.ok(refused >= 1);
  // The chips are there, without sources, and the panel still edits tags.
  const chips = panel.getByTestId("tag-chips").locator("li.chip");
  assert.equal(await chips.count(), target.machineTags.length);
  assert.equal(await panel.getByTestId("chip-source").count(), 0);
  await screenshot(page, "lazy-04-hunting-code-failed");

  // Once the code can be downloaded, a fresh page load shows where each tag comes from.
  await page.unroute(huntingModule);
  await page.reload();
  await panel.waitFor({ timeout: 30_000 });
  await panel.getByTestId("chip-source").first().waitFor({ timeout: 30_000 });
  assert.equal(await panel.getByTestId("tag-sources-note").count(), 0);
  assert.ok(fetched.length > refused, `the hunting code was fetched after the failure: ${fetched}`);
  assert.deepEqual(page.problems, []);
});
