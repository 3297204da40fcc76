// Every page at a desktop size (1440×900) and a phone size (390×844): no sideways scrolling, no
// serious accessibility violation, a screenshot of each; on the phone the filters fold away and
// the machine panel is a full-height sheet over the list.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startEmulator } from "./lib/emulator.mjs";
import { launch, newPage, screenshot, seriousA11yViolations, signIn } from "./lib/browser.mjs";

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

const PAGES = [
  ["/", (p) => p.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor()],
  ["/bulk", (p) => p.getByTestId("bulk-match-summary").filter({ hasText: /matching machines selected/ }).waitFor({ timeout: 60_000 })],
  ["/inventory", (p) => p.getByTestId("portal-breakers").waitFor({ timeout: 60_000 })],
  ["/rules", (p) => p.getByRole("heading", { name: "Saved rules" }).waitFor()],
  ["/activity", (p) => p.getByTestId("activity-scope").waitFor()],
  ["/settings", (p) => p.getByRole("heading", { name: "Settings" }).waitFor()],
  ["/check", (p) => p.getByRole("heading", { level: 1 }).first().waitFor()],
];

for (const [width, height, label] of [[1440, 900, "desktop"], [390, 844, "phone"]]) {
  test(`every page at ${width}×${height} (${label}): fits, accessible, screenshotted`, async () => {
    const page = await newPage(browser);
    await page.setViewportSize({ width, height });
    await signIn(page, emu.url, "admin");
    for (const [path, ready] of PAGES) {
      await page.goto(`${emu.url}${path}`);
      await ready(page);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `${path} at ${width}px scrolls sideways by ${overflow}px`);
      const header = await page.locator(".top-bar").boundingBox();
      assert.ok(header.width <= width, `${path}: header ${header.width}px wide`);
      await screenshot(page, `60-${label}${path === "/" ? "-search" : path.replace("/", "-")}`);
      assert.deepEqual(await seriousA11yViolations(page), [], `axe: ${path} at ${width}px`);
    }
    assert.deepEqual(page.problems, []);
  });
}

test("on a phone the filters fold away and the machine panel is a full-height sheet", async () => {
  const page = await newPage(browser);
  await page.setViewportSize({ width: 390, height: 844 });
  await signIn(page, emu.url, "admin");
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor();
  const toggle = page.getByTestId("filters-toggle");
  assert.equal(await page.getByLabel("Health").isVisible(), false, "filters folded");
  await toggle.click();
  assert.equal(await toggle.getAttribute("aria-expanded"), "true");
  await page.getByLabel("Health").selectOption("Active");
  await page.waitForURL(/[?&]health=Active/);
  assert.match(await toggle.textContent(), /Filters \(1 set\)/);
  await toggle.click();
  assert.equal(await page.getByLabel("Health").isVisible(), false);

  await page.locator(".body-row:not([hidden]) .machine-link").first().click();
  const panel = page.getByTestId("machine-panel");
  await panel.waitFor();
  const box = await panel.boundingBox();
  assert.deepEqual([box.x, box.y, box.width], [0, 0, 390], "the panel covers the screen");
  assert.ok(box.height >= 840, `full height (${box.height})`);
  const onTop = await page.evaluate(() => !!document.elementFromPoint(195, 500)?.closest("[data-testid=machine-panel]"));
  assert.ok(onTop, "nothing draws over the panel");
  await screenshot(page, "61-phone-machine-panel");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: phone panel");
  await page.getByRole("button", { name: "Close machine details" }).click();
  await panel.waitFor({ state: "detached" });
  assert.deepEqual(page.problems, []);
});
