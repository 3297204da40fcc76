// Search and filters: server-side OData through the client, instant narrowing, state in the URL.
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

const visibleNames = (page) => page.locator(".body-row:not([hidden]) .machine-link").allTextContents();
const summary = (page) => page.getByTestId("results-summary").textContent();

test("search box, filters, URL state, reload and back/forward", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor();
  const all = await summary(page);

  // Any part of a name: instant narrowing, then the URL (and the server query) follow.
  await page.getByLabel("Search machines").fill("fin-");
  await page.waitForURL(/[?&]q=fin-/);
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor();
  assert.match(await page.getByTestId("search-hint").textContent(), /Computer names containing/);
  let names = await visibleNames(page);
  assert.ok(names.length > 0);
  assert.ok(names.every((n) => n.toLowerCase().includes("fin-")), names.join(", "));
  assert.notEqual(await summary(page), all);

  // A filter goes to the URL at once.
  await page.getByLabel("Health").selectOption("Active");
  await page.waitForURL(/[?&]health=Active/);
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor();
  const healths = await page.locator(".body-row:not([hidden]) .col-health").allTextContents();
  assert.ok(healths.length > 0 && healths.every((h) => h === "Active"), healths.join(", "));
  const filtered = await summary(page);
  await screenshot(page, "03-search-filtered");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: filtered search");

  // Sorting is in the URL too.
  await page.getByRole("button", { name: "Computer name" }).click();
  await page.waitForURL(/[?&]dir=desc/);
  names = await visibleNames(page);
  assert.deepEqual(names, [...names].sort((a, b) => b.toLowerCase().localeCompare(a.toLowerCase())));

  // Arrow keys move between machines, scrolling the virtual window (rows past it are not in
  // the DOM until scrolled to).
  await page.locator(".body-row:not([hidden]) .machine-link").first().focus();
  const nextFrame = () => page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  for (let i = 0; i < 30; i++) await page.keyboard.press("ArrowDown");
  await nextFrame();
  const focusedRow = await page.evaluate(() => document.activeElement.closest("[role=row]").getAttribute("aria-rowindex"));
  assert.equal(focusedRow, "32", "30 rows below the first data row (aria-rowindex 2)");
  const rowOf = () => page.evaluate(() => document.activeElement.closest("[role=row]").getAttribute("aria-rowindex"));
  assert.ok((await page.evaluate(() => document.activeElement.textContent)).toLowerCase().startsWith("fin-"));
  await page.keyboard.press("ArrowUp");
  await nextFrame();
  assert.equal(await rowOf(), "31");

  // Reload keeps everything.
  await page.reload();
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor();
  assert.equal(await page.getByLabel("Search machines").inputValue(), "fin-");
  assert.equal(await page.getByLabel("Health").inputValue(), "Active");
  assert.equal(await summary(page), filtered);

  // Back twice: before sorting, then before the health filter.
  await page.goBack();
  await page.goBack();
  await page.waitForURL((u) => !u.search.includes("health="));
  assert.equal(await page.getByLabel("Health").inputValue(), "");
  assert.equal(await page.getByLabel("Search machines").inputValue(), "fin-");

  // Laptop size: everything still fits and stays usable.
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.locator(".body-row:not([hidden])").first().locator(".machine-link").click();
  await page.getByTestId("machine-panel").waitFor();
  await screenshot(page, "27-laptop-1280x720");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: laptop size with panel");
  await page.setViewportSize({ width: 1440, height: 900 });

  // An IP prefix is understood as an IP.
  await page.getByLabel("Search machines").fill("10.1.");
  await page.waitForURL(/[?&]q=10\.1\./);
  assert.match(await page.getByTestId("search-hint").textContent(), /Any IP address starting with 10\.1\./);
  assert.deepEqual(page.problems, []);
});

test("tag filter (exact and prefix) finds tagged machines", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor();
  // Take a tag that some machine carries.
  const tag = (await page.locator(".body-row:not([hidden]) .col-tags .chip").first().textContent()).trim();
  await page.getByLabel("Tag", { exact: true }).fill(tag);
  await page.getByLabel("Tag", { exact: true }).press("Enter");
  await page.waitForURL(/[?&]tag=/);
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines?/ }).waitFor();
  const count = Number((await summary(page)).match(/^(\d+)/)[1]);
  assert.ok(count > 0);
  await page.getByLabel("Tag match").selectOption("prefix");
  await page.waitForURL(/tagmode=prefix/);
  assert.deepEqual(page.problems, []);
});

/** Machines as the API lists them to `persona` (every page). */
async function listedMachines(base, persona) {
  const res = await fetch(`${base}/_emulator/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ persona }) });
  const token = (await res.json()).access_token;
  const all = [];
  for (let skip = 0; ; skip += 10_000) {
    const page = await fetch(`${base}/api/machines?$top=10000&$skip=${skip}`, { headers: { authorization: `Bearer ${token}` } });
    const value = (await page.json()).value;
    all.push(...value);
    if (value.length < 10_000) break;
  }
  return all;
}

/** What the search box should find, written out independently of the app: core's rules. */
function expected(machines, text) {
  const t = text.trim();
  const addrs = (m) => [m.lastIpAddress, ...(m.ipAddresses ?? []).map((a) => a.ipAddress)].filter(Boolean);
  let hit;
  if (t.includes(":")) {
    const canonical = (a) => { try { return new URL(`http://[${a}]/`).hostname; } catch { return null; } };
    const want = canonical(t);
    hit = (m) => addrs(m).some((a) => a.includes(":") && canonical(a) === want);
  } else if (/^\d{1,3}(\.\d{1,3}){0,3}\.?$/.test(t) && t.includes(".")) {
    hit = (m) => addrs(m).some((a) => a.startsWith(t));
  } else {
    const needle = t.toLowerCase();
    hit = (m) => (m.computerDnsName ?? "").toLowerCase().includes(needle) || (needle.length >= 8 && m.id.includes(needle));
  }
  const names = machines.filter(hit).map((m) => m.computerDnsName ?? "");
  return names.sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : a.toLowerCase() > b.toLowerCase() ? 1 : 0));
}

test("at 6,000 machines (whole-column scans), substring, Wi-Fi, VPN, IPv6 and id-part searches find exactly what the API's machines hold, typed or pasted", async () => {
  const big = await startEmulator({ machines: 6000, seed: 7 });
  try {
    const machines = await listedMachines(big.url, "admin");
    assert.ok(machines.length >= 5000, `listed ${machines.length}`);
    const page = await newPage(browser);
    await signIn(page, big.url, "admin");
    await page.getByTestId("results-summary").filter({ hasText: new RegExp(`^${machines.length} machines`) }).waitFor({ timeout: 60_000 });
    const box = page.getByLabel("Search machines");
    const withV6 = machines.find((m) => m.ipAddresses.some((a) => (a.ipAddress ?? "").startsWith("2001:db8:")));
    const v6 = withV6.ipAddresses.find((a) => (a.ipAddress ?? "").startsWith("2001:db8:")).ipAddress;
    const cases = [
      ["srv-00", "the middle of server names"],
      ["-LT-01", "part of laptop names, another case"],
      ["192.168.3.", "the start of Wi-Fi addresses (never a last IP)"],
      ["10.200.1", "the start of VPN addresses"],
      [v6.toUpperCase(), "a global IPv6 address in another spelling"],
      [machines[1234].id.slice(14, 24), "ten characters from the middle of an id"],
    ];
    for (const [text, why] of cases) {
      const want = expected(machines, text);
      assert.ok(want.length > 0, `${why}: the dataset has matches for ${text}`);
      for (const how of ["pasted", "typed"]) {
        await box.fill("");
        await page.getByTestId("results-summary").filter({ hasText: new RegExp(`^${machines.length} machines`) }).waitFor();
        if (how === "pasted") await box.fill(text);
        else await box.pressSequentially(text);
        const summaryRe = new RegExp(`^${want.length} machines?\\b`);
        await page.getByTestId("results-summary").filter({ hasText: summaryRe }).waitFor({ timeout: 10_000 }).catch(() => {});
        assert.match(await summary(page), summaryRe, `${why} (${how}: ${text})`);
        const shown = await visibleNames(page);
        assert.deepEqual(shown.map((n) => n.toLowerCase()), want.slice(0, shown.length).map((n) => n.toLowerCase()), `${why} (${how}): the first rows in name order`);
      }
    }
    const scans = await page.evaluate(() => performance.getEntriesByName("dt-narrow-scan").length);
    assert.ok(scans >= cases.length, `the whole-column scan answered (${scans} times)`);
    await screenshot(page, "52-search-at-scale");
    assert.deepEqual(page.problems, []);
  } finally {
    await big.stop();
  }
});
