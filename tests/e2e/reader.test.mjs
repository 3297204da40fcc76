// The read-only persona sees tags but no edit controls.
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

test("reader: tags visible, no add box, no remove buttons", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "reader");
  assert.match(await page.getByTestId("user-permission").textContent(), /Read-only.*Machine\.Read/);
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor();
  // Open a machine that has tags.
  await page.locator(".body-row:not([hidden])").filter({ has: page.locator(".col-tags .chip") }).first().locator(".machine-link").click();
  await page.getByTestId("machine-panel").waitFor();
  assert.ok((await page.locator("[data-testid=tag-chips] .chip").count()) > 0);
  assert.equal(await page.getByRole("combobox", { name: "Add a tag" }).count(), 0);
  assert.equal(await page.locator(".chip-remove").count(), 0);
  await page.getByTestId("read-only-note").waitFor();
  await screenshot(page, "07-reader");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: reader");
  assert.deepEqual(page.problems, []);
});
