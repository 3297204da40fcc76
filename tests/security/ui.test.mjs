// The web UI and the embed example in headless Chromium against the emulator:
// - the bearer token is only ever sent to the API origin's /api/ paths, and our code writes it to
//   no storage, cookie, IndexedDB or console (MSAL's own token cache is MSAL's, and is listed);
// - XSS payloads in the URL (reflected) and in API data (stored) render as inert text;
// - the CSP is sent as a header and blocks injected inline script.
// (Hostile machine names and tags in the SPA's table and panel: tests/e2e/xss.test.mjs.)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { startEmulator, requireEnv, mintToken } from "./lib.mjs";

const require = createRequire(import.meta.url);
const { chromium } = require("playwright-core");

const XSS_NAME = "<img src=x onerror=alert(1)>"; // machine #7 of every emulator dataset
const XSS_TAG = "<svg onload=alert('tag')>";
let browser;

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
  });
});
after(async () => {
  await browser?.close();
});

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  page.consoleText = [];
  page.dialogs = [];
  page.errors = [];
  page.on("console", (m) => page.consoleText.push(m.text()));
  page.on("pageerror", (e) => page.errors.push(e.message));
  page.on("dialog", async (d) => {
    page.dialogs.push(d.message());
    await d.dismiss();
  });
  return { context, page };
}

async function signIn(page, base, persona) {
  await page.goto(`${base}/`);
  await page.getByRole("button", { name: "Sign in" }).first().click();
  await page.waitForURL((u) => u.pathname.endsWith("/oauth2/v2.0/authorize"), { timeout: 20_000 });
  await page.locator(`#persona-${persona}`).click();
  await page.getByTestId("user-name").waitFor({ timeout: 30_000 });
}

/** Every storage the page can write, as [where, key, value] rows. */
async function storageRows(page) {
  return page.evaluate(async () => {
    const rows = [];
    for (const [where, store] of [["localStorage", localStorage], ["sessionStorage", sessionStorage]]) {
      for (let i = 0; i < store.length; i += 1) {
        const key = store.key(i);
        rows.push([where, key, store.getItem(key) ?? ""]);
      }
    }
    rows.push(["cookie", "document.cookie", document.cookie]);
    const dbs = indexedDB.databases ? await indexedDB.databases() : [];
    for (const db of dbs) {
      rows.push(["indexedDB", db.name ?? "", ""]);
      // Our own databases (run journal, activity log; the shared rate budget): every record is
      // scanned.
      if (db.name !== "defender-tags" && db.name !== "defender-tags-rate-budget") continue;
      const open = await new Promise((resolve, reject) => {
        const r = indexedDB.open(db.name);
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
      for (const storeName of open.objectStoreNames) {
        const tx = open.transaction(storeName, "readonly").objectStore(storeName);
        const [keys, values] = await Promise.all(
          [tx.getAllKeys(), tx.getAll()].map((req) => new Promise((resolve, reject) => {
            req.onsuccess = () => resolve(req.result);
            req.onerror = () => reject(req.error);
          })),
        );
        keys.forEach((k, i) => rows.push([`indexedDB:${db.name}`, String(k), typeof values[i] === "string" ? values[i] : JSON.stringify(values[i])]));
      }
      open.close();
    }
    return rows;
  });
}

test("the token goes to the API origin only; our code stores and logs none of it", async () => {
  const site = requireEnv("DT_SITE_DIR");
  const emu = await startEmulator(["--machines", "300", "--seed", "9", "--static", site]);
  const { context, page } = await newPage();
  const bearers = [];
  page.on("request", (r) => {
    const auth = r.headers().authorization;
    if (auth) bearers.push({ url: r.url(), auth });
  });
  try {
    await signIn(page, emu.url, "admin");
    await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor({ timeout: 30_000 });
    await page.getByLabel("Search machines").fill("eng");
    await page.waitForURL(/[?&]q=eng/);
    await page.getByTestId("results-summary").filter({ hasText: /of \d+ loaded|^\d+ machines/ }).waitFor();
    // A tag change, so the activity log has an entry in our IndexedDB database to scan.
    await page.locator(".body-row:not([hidden]) .machine-link").first().click();
    await page.getByRole("combobox", { name: "Add a tag" }).fill("security-scan");
    await page.getByTestId("add-tag-button").click();
    await page.getByTestId("notice").filter({ hasText: "Added" }).waitFor();
    await page.reload();
    await page.getByTestId("results-summary").filter({ hasText: /machines/ }).waitFor({ timeout: 30_000 });

    assert.ok(bearers.length >= 2, "API calls carried a bearer token");
    const origin = new URL(emu.url).origin;
    // The emulator is both the Defender API and the Graph origin (the machine panel's tag
    // sources are a hunting query): each token goes to its own path only, by its audience.
    const audience = (auth) => JSON.parse(Buffer.from(auth.replace(/^Bearer /, "").split(".")[1], "base64url").toString()).aud;
    for (const b of bearers) {
      const u = new URL(b.url);
      assert.equal(u.origin, origin, `bearer sent to ${u.origin}`);
      if (u.pathname === "/v1.0/security/runHuntingQuery") {
        assert.equal(audience(b.auth), "https://graph.microsoft.com", "only a Graph token goes to Graph");
      } else {
        assert.match(u.pathname, /^\/api\//, `bearer sent to ${u.pathname}`);
        assert.notEqual(audience(b.auth), "https://graph.microsoft.com", "the Graph token never goes to the API");
      }
    }
    const signatures = [...new Set(bearers.map((b) => b.auth.replace(/^Bearer /, "").split(".")[2]))];
    const rows = await storageRows(page);
    const holding = rows.filter(([, , value]) => signatures.some((s) => value.includes(s)));
    // The scan must see the one copy that is supposed to exist (MSAL's cache), or it proves nothing.
    assert.ok(holding.length >= 1, `the storage scan did not find MSAL's cached token (${rows.length} entries scanned)`);
    // MSAL.js keeps its own token cache (cacheLocation: sessionStorage, by design); nothing else may.
    for (const [where, key] of holding) {
      assert.equal(where, "sessionStorage", `token found in ${where} ${key}`);
      assert.match(key, /accesstoken/i, `token found in a non-MSAL sessionStorage entry ${key}`);
    }
    assert.ok(rows.some(([w, , v]) => w === "indexedDB:defender-tags" && v.includes("security-scan")), "the scan read our IndexedDB records");
    // The rate budget the tabs share (crates/wasm/src/budget.rs): call times and ids, scanned too.
    assert.ok(rows.some(([w, k, v]) => w === "indexedDB:defender-tags-rate-budget" && k.startsWith("v1|") && v.includes('"calls"')), "the scan read the shared rate budget");
    for (const [where, key] of rows.filter(([w]) => w === "indexedDB")) {
      assert.match(key, /msal|^defender-tags$|^defender-tags-rate-budget$/i, `unexpected IndexedDB database ${key} (${where})`);
    }
    for (const text of page.consoleText) {
      assert.ok(!signatures.some((s) => text.includes(s)), `token in the console: ${text.slice(0, 120)}`);
    }
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
    await emu.stop();
  }
});

test("XSS payloads in the URL render as text; the CSP header blocks injected inline script", async () => {
  const site = requireEnv("DT_SITE_DIR");
  const emu = await startEmulator(["--machines", "300", "--seed", "9", "--static", site]);
  const { context, page } = await newPage();
  try {
    const first = await page.goto(`${emu.url}/`);
    const csp = first.headers()["content-security-policy"] ?? "";
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.match(csp, /frame-ancestors 'none'/);

    await signIn(page, emu.url, "admin");
    const payload = `"><img src=x onerror="window.__xss=1">`;
    await page.goto(`${emu.url}/?q=${encodeURIComponent(payload)}&tag=${encodeURIComponent(XSS_TAG)}`);
    await page.getByTestId("results-summary").waitFor({ timeout: 30_000 });
    await page.waitForTimeout(500);
    assert.equal(await page.getByLabel("Search machines").inputValue(), payload, "the search box shows the text as typed");
    assert.equal(await page.locator("img[src=x]").count(), 0, "no <img> was created");
    assert.equal(await page.locator("svg[onload]").count(), 0, "no <svg onload> was created");
    assert.equal(await page.evaluate(() => window.__xss), undefined);

    // An injected inline script is refused by the CSP (and reported).
    const blocked = await page.evaluate(
      () =>
        new Promise((resolve) => {
          document.addEventListener("securitypolicyviolation", (e) => resolve(e.violatedDirective), { once: true });
          const s = document.createElement("script");
          s.textContent = "window.__inline = 1";
          document.body.append(s);
          setTimeout(() => resolve(window.__inline === 1 ? "ran" : "no event"), 1000);
        }),
    );
    assert.match(blocked, /script-src/);
    assert.equal(await page.evaluate(() => window.__inline), undefined);
    assert.deepEqual(page.dialogs, []);
  } finally {
    await context.close();
    await emu.stop();
  }
});

test("the embed example renders hostile machine names and tags as text", async () => {
  // The bare-client example is served by the site build at /embed/ (with the package's web build).
  const site = requireEnv("DT_SITE_DIR");
  assert.ok(existsSync(path.join(site, "embed", "index.html")), `${site}/embed/index.html is built by the site build`);
  const emu = await startEmulator(["--machines", "300", "--seed", "9", "--static", site]);
  const { context, page } = await newPage();
  try {
    // Put the hostile tag on the hostile machine through the API.
    const token = await mintToken(emu.url);
    const all = await (await fetch(`${emu.url}/_emulator/machines`)).json();
    const hostile = all.find((m) => m.computerDnsName === XSS_NAME);
    assert.ok(hostile, "the dataset has the hostile machine name");
    const res = await fetch(`${emu.url}/api/machines/${hostile.id}/tags`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ Value: XSS_TAG, Action: "Add" }),
    });
    assert.equal(res.status, 200);

    await page.goto(`${emu.url}/embed/`);
    await page.locator("#filter").fill(`id eq '${hostile.id}'`);
    await page.getByRole("button", { name: "Search" }).click();
    await page.locator("#rows tr").first().waitFor({ timeout: 20_000 });
    const text = await page.locator("#rows").innerText();
    assert.ok(text.includes(XSS_NAME), `the name is shown as text: ${text}`);
    assert.ok(text.includes(XSS_TAG), `the tag is shown as text: ${text}`);
    assert.equal(await page.locator("#rows img").count(), 0);
    assert.equal(await page.locator("#rows svg").count(), 0);
    assert.deepEqual(page.dialogs, []);
    assert.deepEqual(page.errors, []);
  } finally {
    await context.close();
    await emu.stop();
  }
});
