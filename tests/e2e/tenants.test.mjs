// Several tenants in config.json (the emulator's demo config lists Contoso and Fabrikam, each with
// its own machines): the switcher shows each tenant's machines only, and the activity log stays
// with its tenant.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startEmulator } from "./lib/emulator.mjs";
import { launch, newPage, screenshot, seriousA11yViolations, signIn } from "./lib/browser.mjs";

const CONTOSO = "11111111-2222-3333-4444-555555555555";
const FABRIKAM = "22222222-3333-4444-5555-666666666666";

let emu;
let browser;
before(async () => {
  emu = await startEmulator({ machines: 300, extraArgs: ["--second-tenant-machines", "120"] });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await emu?.stop();
});

const visibleNames = (page) => page.locator(".body-row:not([hidden]) .machine-link").allTextContents();
const loaded = (page) => page.getByTestId("results-summary").filter({ hasText: /^[\d,]+ machines/ }).waitFor({ timeout: 30_000 });

async function signInHere(page, persona) {
  await page.getByRole("button", { name: "Sign in" }).first().click();
  await page.waitForURL((u) => u.pathname.endsWith("/oauth2/v2.0/authorize"), { timeout: 15_000 });
  await page.locator(`#persona-${persona}`).click();
  await page.getByTestId("user-name").waitFor({ timeout: 20_000 });
}

test("switching tenants shows each tenant's machines only; activity stays per tenant", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  const switcher = page.getByTestId("tenant-switcher");
  assert.equal(await switcher.inputValue(), CONTOSO);
  assert.deepEqual(await switcher.locator("option").allTextContents(), ["Contoso", "Fabrikam"]);
  await loaded(page);
  const contosoNames = await visibleNames(page);
  assert.ok(contosoNames.length > 0);
  assert.ok(contosoNames.every((n) => !/fabrikam/i.test(n)), contosoNames.join(", "));

  // A change in Contoso goes to Contoso's activity log.
  await page.locator(".body-row:not([hidden]) .machine-link").first().click();
  await page.getByTestId("machine-panel").waitFor();
  await page.getByRole("combobox", { name: "Add a tag" }).fill("e2e-contoso-only");
  await page.getByTestId("add-tag-button").click();
  await page.getByText(/Added .*e2e-contoso-only/).first().waitFor({ timeout: 15_000 });

  // Switch: the app reloads for Fabrikam and asks for a Fabrikam sign-in.
  await switcher.selectOption(FABRIKAM);
  await page.getByRole("button", { name: "Sign in" }).first().waitFor({ timeout: 20_000 });
  await signInHere(page, "admin");
  await loaded(page);
  const fabrikamNames = await visibleNames(page);
  assert.ok(fabrikamNames.length > 0);
  assert.ok(fabrikamNames.every((n) => /fabrikam/i.test(n)), fabrikamNames.join(", "));
  assert.equal(await page.getByTestId("tenant-switcher").inputValue(), FABRIKAM);
  await screenshot(page, "45-tenant-fabrikam");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: tenant switcher");
  const fabrikamMachines = await emu.get(`/_emulator/machines?tenant=${FABRIKAM}`);
  const fabrikamList = Array.isArray(fabrikamMachines) ? fabrikamMachines : fabrikamMachines.value;
  assert.ok(fabrikamList.every((m) => !m.machineTags.includes("e2e-contoso-only")), "Fabrikam untouched");

  await page.getByRole("link", { name: "Activity" }).click();
  await page.getByRole("heading", { name: "Activity" }).first().waitFor();
  assert.doesNotMatch(await page.locator("main").textContent(), /e2e-contoso-only/, "Contoso's change is not in Fabrikam's log");

  // Back to Contoso: still signed in there, and its log has the change.
  await page.getByTestId("tenant-switcher").selectOption(CONTOSO);
  await page.getByTestId("user-name").waitFor({ timeout: 20_000 });
  await loaded(page);
  assert.ok((await visibleNames(page)).every((n) => !/fabrikam/i.test(n)));
  await page.getByRole("link", { name: "Activity" }).click();
  await page.getByTestId("activity-table").waitFor();
  assert.match((await page.getByTestId("activity-row").allTextContents()).join("\n"), /e2e-contoso-only/);
  assert.deepEqual(page.problems, []);
});
