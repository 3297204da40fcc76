// What a new user tripped on (issue #11, Behaviour): each test failed before its fix.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startEmulator } from "./lib/emulator.mjs";
import { launch, newPage, screenshot, signIn } from "./lib/browser.mjs";
import { allMachines } from "./lib/bulk.mjs";

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
  await bulkCompose(page);

  await page.getByLabel("Remove the tag").check();
  await input.fill("Quarantne");
  await warnings.waitFor();
  assert.match(await warnings.textContent(), /no machine loaded carries “Quarantne”; did you mean “Quarantine”\?/);
  await input.fill("quarantine");
  assert.match(await warnings.textContent(), /did you mean “Quarantine”\?/, "a case variant is named too");
  await screenshot(page, "46-bulk-remove-did-you-mean");
  assert.deepEqual(page.problems, []);
});

test("the machine panel links to the Defender portal and shows the exact last-seen time; OS sorts without regard to case", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor();

  await page.getByRole("button", { name: "OS", exact: true }).click();
  await page.waitForURL(/[?&]sort=os/);
  const oses = await page.locator(".body-row:not([hidden]) .col-os").allTextContents();
  assert.equal(oses[0], "iOS", `lowercase-first platforms sort among the others (${oses.slice(0, 3).join(", ")})`);
  const folded = oses.map((o) => o.toLowerCase());
  assert.deepEqual(folded, [...folded].sort(), "ascending without regard to case");

  await page.locator(".body-row:not([hidden]) .machine-link").first().click();
  await page.waitForURL(/[?&]m=[0-9a-f]{40}/);
  const id = new URL(page.url()).searchParams.get("m");
  const link = page.getByTestId("portal-link");
  await link.waitFor();
  assert.match(await link.getAttribute("href"), new RegExp(`^https://security\\.microsoft\\.com/machines/v2/${id}/overview(\\?tid=[0-9a-f-]{36})?$`));
  assert.equal(await link.getAttribute("target"), "_blank");
  assert.match(await link.getAttribute("rel"), /noopener/);
  const seen = page.getByTestId("panel-last-seen");
  assert.match(await seen.getAttribute("title"), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? UTC$/);
  assert.match(await seen.textContent(), /ago|just now/);
  await screenshot(page, "47-machine-panel-portal-link");
  assert.deepEqual(page.problems, []);
});

test("a single change's notice offers Undo, goes by itself after a few seconds, and stays on its own page", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor();
  await page.locator(".body-row:not([hidden]) .machine-link").first().click();
  await page.waitForURL(/[?&]m=[0-9a-f]{40}/);
  const id = new URL(page.url()).searchParams.get("m");
  const tags = async () => (await emu.get(`/_emulator/machines/${id}`)).machineTags;

  await page.getByRole("combobox", { name: "Add a tag" }).fill("e2e-notice");
  await page.getByTestId("add-tag-button").click();
  const notice = page.getByTestId("notice");
  await notice.filter({ hasText: "Added “e2e-notice”" }).waitFor();
  assert.ok((await tags()).includes("e2e-notice"));
  await screenshot(page, "48-notice-undo");
  await page.getByTestId("notice-undo").click();
  await notice.filter({ hasText: "Removed “e2e-notice”" }).waitFor();
  for (let i = 0; i < 50 && (await tags()).includes("e2e-notice"); i++) await page.waitForTimeout(100);
  assert.ok(!(await tags()).includes("e2e-notice"), "Undo removed the tag in the emulator");

  // A success goes by itself.
  await notice.waitFor({ state: "detached", timeout: 10_000 });

  // A notice belongs to the page where it was raised.
  await page.getByRole("combobox", { name: "Add a tag" }).fill("e2e-notice-2");
  await page.getByTestId("add-tag-button").click();
  await notice.filter({ hasText: "Added “e2e-notice-2”" }).waitFor();
  await page.getByRole("link", { name: "Activity" }).click();
  await page.waitForURL(/\/activity$/);
  assert.equal(await notice.count(), 0, "gone once the page changed");
  assert.deepEqual(page.problems, []);
});

test("keyboard: skip link, '/' to search, the table is one tab stop, opening a machine focuses its panel, removing a chip keeps focus in the chips", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor();
  const active = () => page.evaluate(() => {
    const a = document.activeElement;
    return { id: a?.id ?? "", cls: a?.className ?? "", inTable: !!a?.closest(".table-scroll"), inPanel: !!a?.closest("[data-testid=machine-panel]"), inTags: !!a?.closest("[data-testid=tag-editor]") };
  });

  await page.locator(".skip-link").focus();
  await page.keyboard.press("Enter");
  assert.equal((await active()).id, "main", "the skip link moves focus to the main content");

  await page.keyboard.press("/");
  assert.equal((await active()).id, "search-input", "'/' focuses search");
  assert.equal(await page.locator("#search-input").inputValue(), "", "the '/' is not typed into it");

  const stops = await page.evaluate(() => [...document.querySelectorAll(".table-scroll a, .table-scroll button, .table-scroll [tabindex]")].filter((e) => e.tabIndex >= 0 && !e.closest("[hidden]")).length);
  assert.equal(stops, 1, "one tab stop in the table");
  await page.locator(".body-row:not([hidden]) .machine-link[tabindex='0']").focus();
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("ArrowDown");
  // Focus follows the arrows in the next frame (the row may first have to be rendered).
  await page.waitForFunction(() => document.activeElement?.closest("[role=row]")?.getAttribute("aria-rowindex") === "4");
  assert.ok((await active()).inTable);
  await page.keyboard.press("Tab");
  assert.equal((await active()).inTable, false, "Tab leaves the table in one step");
  await page.keyboard.press("Shift+Tab");
  assert.ok((await active()).inTable, "and Shift+Tab comes back to the current row");
  const rowIndex = await page.evaluate(() => document.activeElement.closest("[role=row]").getAttribute("aria-rowindex"));
  assert.equal(rowIndex, "4", "the current row is remembered");

  await page.keyboard.press("Enter");
  await page.waitForURL(/[?&]m=[0-9a-f]{40}/);
  await page.getByTestId("machine-panel").waitFor();
  await page.waitForFunction(() => !!document.activeElement?.closest("[data-testid=machine-panel]"));
  assert.ok((await active()).inPanel, "opening a machine focuses its panel");

  const input = page.getByRole("combobox", { name: "Add a tag" });
  for (const t of ["e2e-kb-1", "e2e-kb-2"]) {
    await input.fill(t);
    await page.getByTestId("add-tag-button").click();
    await page.getByRole("button", { name: `Remove tag ${t}` }).waitFor();
  }
  await page.getByRole("button", { name: "Remove tag e2e-kb-1" }).focus();
  await page.keyboard.press("Enter");
  await page.getByRole("button", { name: "Remove tag e2e-kb-1" }).waitFor({ state: "detached" });
  await page.waitForFunction(() => document.activeElement?.classList.contains("chip-remove"));
  const a = await active();
  assert.ok(a.inTags && /chip-remove/.test(a.cls), `focus stays in the chip list (${JSON.stringify(a)})`);
  assert.deepEqual(page.problems, []);
});

test("search finds any part of a name, any interface address (Wi-Fi, VPN, IPv6), a long part of an id, and offers the closest names when nothing matches", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor();
  const box = page.getByLabel("Search machines");
  const visible = () => page.locator(".body-row:not([hidden]) .machine-link").allTextContents();
  const all = await allMachines(emu);
  // Machines the API lists (seen within the retention period), laptops among them.
  const listed = all.filter((m) => m.computerDnsName?.includes("-lt-") && Date.now() - Date.parse(m.lastSeen) < 30 * 86_400_000);
  const target = listed.find((m) => m.ipAddresses.some((a) => a.type === "Wireless80211") && m.ipAddresses.some((a) => (a.ipAddress ?? "").startsWith("2001:db8:")));
  assert.ok(target, "the emulator has a laptop with Wi-Fi and IPv6");
  const find = async (text, why) => {
    await box.fill(text);
    await page.waitForFunction(
      ([name]) => [...document.querySelectorAll(".body-row:not([hidden]) .machine-link")].some((a) => a.textContent === name),
      [target.computerDnsName],
      { timeout: 10_000 },
    ).catch(() => {});
    assert.ok((await visible()).includes(target.computerDnsName), `${why}: ${text} → ${(await visible()).slice(0, 5).join(", ")}`);
  };
  // The middle of the name, in another case.
  const name = target.computerDnsName.split(".")[0];
  await find(name.slice(2).toUpperCase(), "a middle part of the name");
  const wifi = target.ipAddresses.find((a) => a.type === "Wireless80211").ipAddress;
  await find(wifi, "the Wi-Fi address");
  assert.match(await page.getByTestId("search-hint").textContent(), new RegExp(`IP address ${wifi.replace(/\./g, "\\.")}`));
  const v6 = target.ipAddresses.find((a) => (a.ipAddress ?? "").startsWith("2001:db8:")).ipAddress;
  await find(v6.toUpperCase(), "the global IPv6 address, any spelling");
  await find(target.id.slice(10, 22), "twelve characters from the middle of the id");

  await box.fill(`${name}zq`);
  const closest = page.getByTestId("closest-names");
  await closest.waitFor({ timeout: 10_000 });
  assert.match(await closest.textContent(), /No machine name contains/);
  await closest.getByRole("button", { name: target.computerDnsName }).click();
  await page.waitForFunction(
    ([name]) => {
      const shown = [...document.querySelectorAll(".body-row:not([hidden]) .machine-link")].map((a) => a.textContent);
      return shown.length === 1 && shown[0] === name;
    },
    [target.computerDnsName],
    { timeout: 10_000 },
  );
  assert.equal(await box.inputValue(), target.computerDnsName);
  await screenshot(page, "49-search-closest-names");
  assert.deepEqual(page.problems, []);
});

test("filters come from the data: the tenant's OS platforms with 'Linux (any distribution)', 'Unassigned' groups alike in filter and table, a tag filter that suggests and applies as you type", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor();
  const machines = await allMachines(emu);
  const used = new Set(machines.map((m) => m.osPlatform));

  const os = page.getByLabel("OS platform");
  await page.waitForFunction(() => document.querySelectorAll("#filter-os option").length > 2);
  const offered = await os.locator("option").evaluateAll((o) => o.map((x) => [x.value, x.textContent]));
  assert.deepEqual(offered[1], ["AnyLinux", "Linux (any distribution)"]);
  for (const [value] of offered.slice(2)) assert.ok(used.has(value), `${value} is used by the tenant`);
  assert.ok(!offered.some(([v]) => v === "Android" || v === "WindowsServer2016"), "no value the tenant does not use");

  await os.selectOption("AnyLinux");
  await page.waitForURL(/[?&]os=AnyLinux/);
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor();
  const oses = new Set(await page.locator(".body-row:not([hidden]) .col-os").allTextContents());
  assert.ok(oses.size >= 2, `several distributions (${[...oses].join(", ")})`);
  for (const o of oses) assert.match(o, /Ubuntu|RedHatEnterpriseLinux|Linux|CentOS|Debian|Suse/);
  await os.selectOption("");

  const group = page.getByLabel("Machine group");
  assert.ok((await group.locator("option").allTextContents()).includes("Unassigned (no device group)"));
  await group.selectOption({ label: "Unassigned (no device group)" });
  await page.waitForURL(/[?&]group=0/);
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor();
  const cells = new Set(await page.locator(".body-row:not([hidden]) .col-group").allTextContents());
  assert.deepEqual([...cells], ["Unassigned (no device group)"], "the table labels them the same way");
  await group.selectOption("");

  const tag = page.getByTestId("filter-tag");
  assert.ok(await page.locator("#filter-tag-options option[value='Quarantine']").count() === 1, "the tenant's tags are suggested");
  await tag.pressSequentially("Quarantine", { delay: 30 });
  await page.waitForURL(/[?&]tag=Quarantine/, { timeout: 5_000 });
  assert.equal(await tag.inputValue(), "Quarantine");
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor();
  const tagged = machines.filter((m) => m.machineTags.includes("Quarantine") && Date.now() - Date.parse(m.lastSeen) < 180 * 86_400_000).length;
  assert.ok(tagged > 0);
  await screenshot(page, "50-filters-from-data");
  assert.deepEqual(page.problems, []);
});

test("an imported name shared by several machines is settled by picking one, or the most recently seen; unreadable lines keep their text", async () => {
  const machines = await allMachines(emu);
  const byName = new Map();
  for (const m of machines) {
    const key = (m.computerDnsName ?? "").toLowerCase();
    if (key && /^[a-z0-9.-]+$/.test(key)) byName.set(key, [...(byName.get(key) ?? []), m]);
  }
  const dups = [...byName.values()].filter((l) => l.length > 1);
  assert.ok(dups.length >= 1, "the dataset has a duplicated name");
  const [first] = dups;
  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  await page.goto(`${emu.url}/bulk?source=import`);
  await page.getByTestId("import-text").fill(`${first[0].computerDnsName}\nbad name here\n`);
  await page.getByTestId("import-check").click();
  await page.getByTestId("import-summary").waitFor({ timeout: 60_000 });
  assert.equal(await page.getByTestId("import-resolved").textContent(), "0 machines found");
  const problems = page.getByTestId("import-problems");
  assert.match(await problems.locator("li").nth(1).textContent(), /^Line 2bad name here/, "an unreadable line keeps its text");

  // Pick the second candidate by hand.
  const chosen = first[1];
  await problems.getByRole("button", { name: new RegExp(`^Use ${chosen.id}`) }).click();
  assert.equal(await page.getByTestId("import-resolved").textContent(), "1 machine found");
  await page.getByLabel("Tag to add or remove").fill("e2e-picked");
  await page.getByTestId("preview-button").click();
  await page.getByTestId("bulk-preview").waitFor();
  await page.getByTestId("run-button").click();
  await page.getByTestId("bulk-report").waitFor({ timeout: 60_000 });
  const tagged = (await allMachines(emu)).filter((m) => m.machineTags.includes("e2e-picked")).map((m) => m.id);
  assert.deepEqual(tagged, [chosen.id], "exactly the machine picked");

  // Or the most recently seen, for every ambiguous name at once.
  await page.getByTestId("new-bulk").click();
  await page.goto(`${emu.url}/bulk?source=import`);
  await page.getByTestId("import-text").fill(first[0].computerDnsName);
  await page.getByTestId("import-check").click();
  await page.getByTestId("pick-most-recent").click();
  assert.equal(await page.getByTestId("import-resolved").textContent(), "1 machine found");
  await screenshot(page, "51-import-picked");
  assert.deepEqual(page.problems, []);
});

test("rights up front: a reader is told on the bulk and inventory pages what they cannot do and why, inventory actions are disabled, and an empty search names the device groups", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "reader");
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor();
  // A machine the reader cannot see (no such id, or outside their device groups) finds nothing, and says why it may not.
  await page.getByLabel("Search machines").fill("f".repeat(40));
  await page.locator(".empty").filter({ hasText: /outside the device groups your Defender role covers/ }).waitFor({ timeout: 10_000 });

  await page.goto(`${emu.url}/bulk`);
  const banner = page.getByTestId("read-only-banner");
  await banner.waitFor();
  assert.match(await banner.textContent(), /you can look and preview, but not run bulk changes\. That needs Machine\.ReadWrite \(you have Machine\.Read\)/);

  await page.goto(`${emu.url}/inventory`);
  await page.getByTestId("portal-breakers").waitFor({ timeout: 60_000 });
  assert.match(await page.getByTestId("read-only-banner").textContent(), /but not remove or merge tags/);
  assert.match(await page.getByTestId("inventory-scope").textContent(), /the machines your sign-in can see/);
  const actions = page.getByRole("button", { name: /^Remove everywhere|^Merge into/ });
  assert.ok((await actions.count()) > 0);
  for (const b of await actions.all()) assert.equal(await b.isDisabled(), true, await b.textContent());
  assert.match(await actions.first().getAttribute("title"), /Read-only sign-in/);
  await screenshot(page, "52-reader-inventory");
  assert.deepEqual(page.problems, []);
});
