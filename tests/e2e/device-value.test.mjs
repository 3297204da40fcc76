// Device value in the machine panel (issue #13): shown, changed with one API call, checked
// against the emulator's state; a read-only sign-in sees why it cannot change it, and no call
// is offered.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startEmulator } from "./lib/emulator.mjs";
import { launch, newPage, screenshot, seriousA11yViolations, signIn } from "./lib/browser.mjs";
import { eventually } from "./lib/bulk.mjs";

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
