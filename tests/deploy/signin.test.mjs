// The whole path of a real deployment, on loopback: a `cargo xtask dist` bundle under a sub-path
// whose config.json names the emulator as both the sign-in authority and the API, served by real
// nginx with the generated server block (and so the generated CSP). Sign in, search, tag.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { admin, startEmulator } from "../lib/harness.mjs";
import { freePort, readableTempDir, startNginx } from "./lib/nginx.mjs";
import { BASE_PATH, runDist } from "./lib/dist.mjs";
import { launch, newPage } from "./lib/browser.mjs";

const TENANT = "11111111-2222-3333-4444-555555555555";

let emu;
let nginx;
let browser;
let dir;
before(async () => {
  // The origins depend on each other: the emulator allows nginx's origin (CORS) and the bundle's
  // config.json and CSP name the emulator's. So nginx's port is chosen first.
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  emu = await startEmulator(["--machines", "300", "--seed", "42", "--cors-origin", origin]);
  dir = readableTempDir("dt-deploy-");
  const r = runDist(dir, {
    clientId: "0b5b6c1e-1111-4222-8333-944445555666",
    tenant: TENANT,
    authority: emu.url,
    apiBaseUrl: emu.url,
  }, ["--base-path", BASE_PATH]);
  assert.equal(r.status, 0, r.stderr);
  nginx = await startNginx(r.out, { port });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await nginx?.stop();
  await emu?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs `flow`; on failure, says where the page was and what it reported, with a screenshot. */
async function explained(page, flow) {
  try {
    await flow();
  } catch (e) {
    const shots = process.env.DT_SCREENSHOTS || tmpdir();
    mkdirSync(shots, { recursive: true });
    const shot = path.join(shots, "deploy-signin-failure.png");
    await page.screenshot({ path: shot }).catch(() => {});
    const text = await page.locator("body").innerText().catch(() => "");
    e.message += `\nat ${page.url()}\nproblems: ${JSON.stringify(page.problems)}\npage text: ${text.slice(0, 500)}\nscreenshot: ${shot}`;
    throw e;
  }
}

test("sign in with the emulator as authority, search and tag a machine through nginx", async () => {
  // Page errors and CSP reports only: redirects through the sign-in abort requests on purpose.
  const page = await newPage(browser, { http: false });
  await explained(page, async () => {
    await page.goto(nginx.origin + BASE_PATH);
    await page.getByRole("button", { name: "Sign in" }).first().click();
    await page.waitForURL((u) => u.origin === emu.url && u.pathname.endsWith("/oauth2/v2.0/authorize"), { timeout: 15_000 });
    await page.locator("#persona-admin").click();
    await page.getByTestId("user-name").waitFor({ timeout: 20_000 });
    // Back on the app, under the base path (the redirect URI is {origin}{base}).
    assert.ok(page.url().startsWith(nginx.origin + BASE_PATH), page.url());

    await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor({ timeout: 20_000 });
    // A department-style prefix ("fin-") of a listed computer name.
    const listed = await page.locator(".body-row:not([hidden]) .machine-link").allTextContents();
    const prefix = listed.map((n) => /^[a-z]{2,}-/i.exec(n.trim())?.[0]).find(Boolean);
    assert.ok(prefix, `a name with a prefix among ${listed.slice(0, 10)}`);
    await page.getByLabel("Search machines").fill(prefix);
    // The router may write its root route as the base without the trailing slash; nginx
    // redirects that (query kept) on a reload.
    const underBase = (u) => u.pathname.startsWith(BASE_PATH) || u.pathname === BASE_PATH.slice(0, -1);
    await page.waitForURL((u) => underBase(u) && u.searchParams.get("q") === prefix);
    await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor();
    const names = await page.locator(".body-row:not([hidden]) .machine-link").allTextContents();
    assert.ok(names.length > 0 && names.every((n) => n.toLowerCase().startsWith(prefix.toLowerCase())), names.join(", "));

    await page.locator(".body-row:not([hidden]) .machine-link").first().click();
    await page.waitForURL(/[?&]m=[0-9a-f]{40}/);
    const id = new URL(page.url()).searchParams.get("m");
    await page.getByTestId("machine-panel").waitFor();
    await page.getByRole("combobox", { name: "Add a tag" }).fill("deployed-via-nginx");
    await page.getByTestId("add-tag-button").click();
    await page.getByTestId("notice").filter({ hasText: "Added" }).waitFor();
    const machine = await admin(emu.url, "GET", `/_emulator/machines/${id}`);
    assert.ok(machine.machineTags.includes("deployed-via-nginx"), JSON.stringify(machine.machineTags));

    // A reload of a deep link is served by nginx (SPA fallback, or the redirect of the bare base)
    // and keeps the session and the open machine.
    await page.reload();
    await page.getByTestId("machine-panel").waitFor({ timeout: 20_000 });
    assert.equal(new URL(page.url()).searchParams.get("m"), id);
    assert.deepEqual(page.problems, []);

    // A page that loads on first use: its module comes from nginx under the base path, by its
    // hashed name, cached for a year.
    const modules = [];
    page.on("response", (r) => {
      if (/\/pkg\/split_dt_page_activity\.[0-9a-f]{12}\.wasm$/.test(new URL(r.url()).pathname)) modules.push(r);
    });
    await page.getByRole("navigation").getByRole("link", { name: "Activity" }).click();
    await page.getByTestId("activity-scope").waitFor({ timeout: 20_000 });
    assert.ok(new URL(page.url()).pathname.startsWith(BASE_PATH), page.url());
    assert.equal(modules.length, 1, "the activity page's module was fetched once");
    assert.ok(new URL(modules[0].url()).pathname.startsWith(`${BASE_PATH}pkg/`), modules[0].url());
    assert.equal(modules[0].status(), 200);
    assert.match((await modules[0].allHeaders())["cache-control"] ?? "", /immutable/);
    assert.deepEqual(page.problems, []);
  });
});
