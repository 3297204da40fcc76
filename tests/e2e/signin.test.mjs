// Sign-in through real MSAL (redirect flow, PKCE) against the emulator's identity provider.
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

test("signs in through MSAL and shows the user and their permission", async () => {
  const page = await newPage(browser);
  const authHeaders = [];
  page.on("request", (req) => {
    const auth = req.headers()["authorization"];
    if (auth) authHeaders.push(new URL(req.url()).origin);
  });
  await page.goto(emu.url + "/");
  await page.getByRole("heading", { name: "Find machines and manage their tags" }).waitFor();
  await screenshot(page, "01-signed-out");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: signed-out page");

  await signIn(page, emu.url, "analyst");
  assert.equal((await page.getByTestId("user-name").textContent()).trim(), "Avery Analyst");
  const permission = await page.getByTestId("user-permission").textContent();
  assert.match(permission, /Can edit tags/);
  assert.match(permission, /Machine\.ReadWrite/);
  await page.getByTestId("results-summary").filter({ hasText: /\d+ machines?/ }).waitFor();
  assert.ok((await page.locator(".body-row:not([hidden])").count()) > 0, "results are listed");

  // The token is only ever sent to the API's origin (here the emulator), and our code stores
  // nothing token-like in localStorage (MSAL's own cache is in sessionStorage).
  assert.ok(authHeaders.length > 0, "API calls carry a bearer token");
  assert.deepEqual([...new Set(authHeaders)], [emu.url]);
  const local = await page.evaluate(() => JSON.stringify({ ...localStorage }));
  assert.ok(!/eyJ[A-Za-z0-9_-]{10,}/.test(local), "no JWT in localStorage");

  await screenshot(page, "02-search-signed-in");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: search page");

  // A reload keeps the session (MSAL's sessionStorage cache), with no new sign-in.
  await page.reload();
  await page.getByTestId("user-name").waitFor();
  assert.deepEqual(page.problems, []);
});

test("settings page is usable and accessible", async () => {
  const page = await newPage(browser);
  await page.goto(emu.url + "/settings");
  await page.getByRole("heading", { name: "Settings" }).waitFor();
  assert.equal(await page.getByLabel("Demo mode (local emulator)").isChecked(), true);
  await screenshot(page, "06-settings");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: settings page");
  assert.deepEqual(page.problems, []);
});
