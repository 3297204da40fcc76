// What a new user tripped on (issue #11, Behaviour): each test failed before its fix.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startEmulator } from "./lib/emulator.mjs";
import { launch, newPage, screenshot, signIn } from "./lib/browser.mjs";

let emu;
let browser;
before(async () => {
  emu = await startEmulator({ machines: 400 });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await emu?.stop();
});

async function bulkCompose(page) {
  await page.goto(`${emu.url}/bulk`);
  await page.getByTestId("bulk-match-summary").filter({ hasText: /matching machines selected/ }).waitFor({ timeout: 60_000 });
  await page.getByTestId("select-all-matching").click();
}

test("removing a tag that breaks the portal filter is not warned about; a tag nobody carries suggests the spelling in use", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  await bulkCompose(page);
  const input = page.getByLabel("Tag to add or remove");
  const warnings = page.getByTestId("bulk-tag-warnings");

  await input.fill("Berlin, DE");
  await warnings.waitFor();
  assert.match(await warnings.textContent(), /portal's tag filter cannot handle/, "adding it is warned about");
  await page.getByLabel("Remove the tag").check();
  await warnings.waitFor({ state: "detached" });
  await page.getByTestId("preview-button").click();
  await page.getByTestId("bulk-preview").waitFor();
  assert.equal(await page.getByTestId("preview-warnings").count(), 0, "no portal-filter warning on the removal's preview");
  await page.getByTestId("back-button").click();

  await page.getByLabel("Remove the tag").check();
  await input.fill("Quarantne");
  await warnings.waitFor();
  assert.match(await warnings.textContent(), /no machine loaded carries “Quarantne”; did you mean “Quarantine”\?/);
  await input.fill("quarantine");
  assert.match(await warnings.textContent(), /did you mean “Quarantine”\?/, "a case variant is named too");
  await screenshot(page, "46-bulk-remove-did-you-mean");
  assert.deepEqual(page.problems, []);
});
