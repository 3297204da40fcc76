// Hostile data from the API (a machine name and a tag with markup) renders as text.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startEmulator } from "./lib/emulator.mjs";
import { launch, newPage, screenshot, signIn } from "./lib/browser.mjs";

const XSS_MACHINE_NAME = "<img src=x onerror=alert(1)>";
const XSS_TAG = "<script>alert('tag')</script>";

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

test("machine name and tag with markup are shown as text", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor();

  await page.getByLabel("Search machines").fill("<img");
  await page.waitForURL(/[?&]q=%3Cimg/);
  const link = page.locator(".body-row:not([hidden]) .machine-link").filter({ hasText: XSS_MACHINE_NAME });
  await link.first().waitFor();
  await link.first().click();
  await page.getByTestId("machine-panel").waitFor();
  assert.equal((await page.locator("#panel-title").textContent()).trim(), XSS_MACHINE_NAME);

  await page.getByLabel("Search machines").fill("");
  await page.getByLabel("Tag", { exact: true }).fill(XSS_TAG);
  await page.getByLabel("Tag", { exact: true }).press("Enter");
  await page.waitForURL(/[?&]tag=/);
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines?/ }).waitFor();
  await page.locator(".body-row:not([hidden]) .machine-link").first().click();
  await page.locator("[data-testid=tag-chips] .chip-text").filter({ hasText: XSS_TAG }).first().waitFor();
  await screenshot(page, "08-xss-as-text");

  assert.equal(await page.locator("img[src=x]").count(), 0, "no <img> was created");
  assert.deepEqual(page.dialogs, [], "no alert() ran");
  assert.deepEqual(page.problems, []);
});
