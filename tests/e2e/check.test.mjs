// The connection check (/check): all green, a read-only token, an expired session, a CORS
// refusal (the API on another origin that does not allow the page's), and an invalid config.json.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startEmulator } from "./lib/emulator.mjs";
import { startEmulator as startBare } from "../lib/harness.mjs";
import { customSite } from "./lib/site.mjs";
import { launch, newPage, screenshot, seriousA11yViolations, signIn } from "./lib/browser.mjs";

const DEMO_TENANT = "11111111-2222-3333-4444-555555555555";
const CLIENT_ID = "00000000-0000-4000-8000-000000000de0";

let emu;
let browser;
before(async () => {
  emu = await startEmulator({ machines: 200 });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await emu?.stop();
});

/** Runs the check page and returns { id: { verdict, text } } once every step has a verdict. */
async function runCheck(page, base) {
  await page.goto(base + "/check");
  await page.locator('[data-step="budget"]').waitFor({ timeout: 30_000 });
  const steps = await page.locator("[data-step]").evaluateAll((els) =>
    els.map((e) => [e.dataset.step, { verdict: e.dataset.verdict, text: e.textContent }]),
  );
  return Object.fromEntries(steps);
}

test("all green for an admin: every step passes and the report has no token", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  const steps = await runCheck(page, emu.url);
  for (const [id, s] of Object.entries(steps)) assert.equal(s.verdict, "pass", `${id}: ${s.text}`);
  assert.match(steps.token.text, new RegExp(`tid ${DEMO_TENANT}`));
  assert.match(steps.token.text, /Machine\.ReadWrite/);
  await screenshot(page, "40-check-all-green");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: connection check");
  // The report (what "Copy report" copies) holds the claims but never a token.
  const report = await page.evaluate(async () => {
    let copied = null;
    Object.defineProperty(navigator, "clipboard", { value: { writeText: async (t) => { copied = t; } }, configurable: true });
    document.querySelector('[data-testid="check-copy"]').click();
    await new Promise((r) => setTimeout(r, 50));
    return copied;
  });
  assert.match(report, /Result: all steps passed/);
  assert.match(report, /\[pass\] Read permission/);
  assert.ok(!/eyJ[A-Za-z0-9_-]{10,}/.test(report), "no JWT in the report");
  assert.deepEqual(page.problems, []);
});

test("a read-only token warns at the write step only, with the fix", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "reader");
  const steps = await runCheck(page, emu.url);
  assert.equal(steps.write.verdict, "warning");
  assert.match(steps.write.text, /read-only/);
  assert.match(steps.write.text, /Machine\.ReadWrite/);
  for (const id of ["config", "authority", "signed-in", "token", "api", "read"]) {
    assert.equal(steps[id].verdict, "pass", `${id}: ${steps[id].text}`);
  }
  await screenshot(page, "41-check-read-only");
});

test("an expired session fails at 'signed in' without leaving the page", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  // The search page's listing takes its token after sign-in; let it finish first, or it meets
  // the refused refresh below and (rightly, outside a run) redirects to sign in.
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor();
  const refuse = (route) =>
    route.fulfill({
      status: 400,
      contentType: "application/json",
      body: JSON.stringify({ error: "invalid_grant", error_description: "AADSTS700082: The refresh token has expired.", error_codes: [700082] }),
    });
  await page.route(/\/oauth2\/v2\.0\/token/, refuse);
  // MSAL's cached access token must be expired too: drop it from MSAL's cache (sessionStorage),
  // keeping the account and the (refused) refresh token.
  await page.evaluate(() => {
    for (const k of Object.keys(sessionStorage)) {
      if (/accesstoken/i.test(k)) sessionStorage.removeItem(k);
    }
  });
  const navigations = [];
  page.on("framenavigated", (f) => {
    if (f === page.mainFrame()) navigations.push(f.url());
  });
  try {
    const steps = await runCheck(page, emu.url);
    assert.equal(steps["signed-in"].verdict, "fail", steps["signed-in"].text);
    assert.match(steps["signed-in"].text, /sign in again/i);
    for (const id of ["token", "api", "read", "write", "budget"]) assert.equal(steps[id].verdict, "not run", id);
    await screenshot(page, "42-check-expired");
  } finally {
    await page.unroute(/\/oauth2\/v2\.0\/token/, refuse);
  }
  assert.ok(navigations.every((u) => u.startsWith(emu.url + "/check")), `stayed on the check: ${navigations}`);
});

test("a CORS refusal is told apart from a network failure and points at the edge proxy", async () => {
  // The API on a second origin that allows no page origin (no --cors-origin), as Defender does
  // for an origin it does not know; the page's CSP allows it, as a dist build would.
  const api = await startBare(["--machines", "50"]);
  const site = customSite({ connectSrc: [api.url] });
  const page = await newPage(browser);
  let host;
  try {
    host = await startBare(["--static", site.dir, "--machines", "10"]);
    // The authority is the page's own emulator, known only once it listens.
    site.writeConfig({ clientId: CLIENT_ID, tenant: DEMO_TENANT, authority: host.url, apiBaseUrl: api.url });
    await signIn(page, host.url, "admin");
    const started = Date.now();
    const steps = await runCheck(page, host.url);
    assert.equal(steps.api.verdict, "fail", steps.api.text);
    assert.match(steps.api.text, /CORS/);
    assert.match(steps.api.text, /edge proxy/);
    assert.equal(steps.read.verdict, "not run");
    assert.ok(Date.now() - started < 15_000, "no retrying for seconds");
    await screenshot(page, "43-check-cors-refused");
    // The search page says the same, instead of "network error: Failed to fetch".
    await page.goto(host.url + "/");
    await page.getByText(/refused this page's origin \(CORS\)/).first().waitFor({ timeout: 15_000 });
    // ...and links the check from the error.
    await page.getByTestId("search-error-check").click();
    await page.getByRole("heading", { name: "Connection check" }).waitFor();
  } finally {
    await host?.stop();
    await api.stop();
    site.remove();
  }
  // Network failure of the same shape: nothing listens at the API origin.
  const dead = customSite({ connectSrc: ["http://127.0.0.1:9"] });
  try {
    host = await startBare(["--static", dead.dir, "--machines", "10"]);
    dead.writeConfig({ clientId: CLIENT_ID, tenant: DEMO_TENANT, authority: host.url, apiBaseUrl: "http://127.0.0.1:9" });
    const p2 = await newPage(browser);
    await signIn(p2, host.url, "admin");
    const steps = await runCheck(p2, host.url);
    assert.equal(steps.api.verdict, "fail");
    assert.doesNotMatch(steps.api.text, /CORS/);
    assert.match(steps.api.text, /could not be reached/);
  } finally {
    await host?.stop();
    dead.remove();
  }
});

test("an invalid config.json is reported field by field and nothing is called", async () => {
  const site = customSite({
    config: { clientId: "not-a-guid", tenant: DEMO_TENANT, cloud: "azure", apiBaseUrl: "http://defender.example.com" },
  });
  let host;
  try {
    host = await startBare(["--static", site.dir, "--machines", "10"]);
    const page = await newPage(browser);
    const calls = [];
    page.on("request", (r) => {
      const u = new URL(r.url());
      if (u.pathname.startsWith("/api/") || /oauth2|openid/.test(u.pathname)) calls.push(u.pathname);
    });
    await page.goto(host.url + "/");
    const errors = page.getByTestId("config-errors");
    await errors.waitFor({ timeout: 15_000 });
    const text = await errors.textContent();
    assert.match(text, /clientId/);
    assert.match(text, /cloud/);
    assert.match(text, /azure/);
    assert.match(text, /apiBaseUrl/);
    await screenshot(page, "44-config-invalid");
    assert.deepEqual(calls, [], "nothing is called while the configuration is invalid");
  } finally {
    await host?.stop();
    site.remove();
  }
});

test("a locked configuration shows the organisation's values and offers no override", async () => {
  const site = customSite();
  let host;
  try {
    host = await startBare(["--static", site.dir, "--machines", "10"]);
    site.writeConfig({ clientId: CLIENT_ID, tenant: DEMO_TENANT, authority: host.url, apiBaseUrl: host.url, lockSettings: true });
    const page = await newPage(browser);
    await page.goto(host.url + "/settings");
    const org = page.getByTestId("org-config");
    await org.waitFor({ timeout: 15_000 });
    assert.match(await org.textContent(), /locked/);
    assert.match(await page.getByTestId("org-client-id").textContent(), new RegExp(CLIENT_ID));
    assert.equal(await page.getByLabel("Use my own values instead of the organisation's").count(), 0);
    assert.equal(await page.getByLabel("Application (client) id").isVisible(), false, "nothing to edit");
    assert.equal(await page.getByRole("button", { name: "Save and sign in again" }).isVisible(), false);
    await screenshot(page, "46-settings-locked");
    assert.deepEqual(await seriousA11yViolations(page), [], "axe: locked settings");
    // The app still signs in with the organisation's values.
    await signIn(page, host.url, "analyst");
  } finally {
    await host?.stop();
    site.remove();
  }
});
