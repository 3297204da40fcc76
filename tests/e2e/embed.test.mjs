// Embedding (issue #6): the single-machine tag editor and the whole manager mounted by a page of
// another origin (a second static server), calling the emulator cross-origin (--cors-origin)
// with the host page's own token callback. Checked against the emulator's state.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startEmulator } from "./lib/emulator.mjs";
import { startStaticSite } from "./lib/static.mjs";
import { launch, newPage, screenshot, seriousA11yViolations } from "./lib/browser.mjs";
import { allMachines, eventually, runAndWait, statNumber } from "./lib/bulk.mjs";

let emu;
let portal;
let browser;
before(async () => {
  portal = await startStaticSite(() => emu.url);
  emu = await startEmulator({ machines: 500, extraArgs: ["--time-scale", "60", "--cors-origin", portal.url] });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await emu?.stop();
  await portal?.stop();
});

const query = (extra = "") => `?api=${encodeURIComponent(emu.url)}&tokenUrl=/portal/token&timeScale=60${extra}`;
const chips = (page) => page.locator("[data-testid=tag-chips] .chip-text").allTextContents();

test("the tag editor on another origin reads and changes one machine's tags", async () => {
  assert.notEqual(new URL(portal.url).origin, new URL(emu.url).origin);
  const machine = (await allMachines(emu)).find((m) => /^[a-z0-9.-]+$/i.test(m.computerDnsName ?? ""));
  const page = await newPage(browser);
  await page.goto(`${portal.url}/embed/editor.html${query(`&machine=${machine.id}`)}`);
  await page.getByTestId("embedded-editor").waitFor({ timeout: 30_000 });
  await page.getByRole("heading", { name: machine.computerDnsName }).waitFor({ timeout: 30_000 });
  assert.deepEqual((await chips(page)).sort(), [...machine.machineTags].sort());

  await page.getByRole("combobox", { name: "Add a tag" }).fill("e2e-embedded");
  await page.getByTestId("add-tag-button").click();
  await page.getByTestId("notice").filter({ hasText: "Added" }).waitFor();
  await eventually(async () => (await emu.get(`/_emulator/machines/${machine.id}`)).machineTags.includes("e2e-embedded"), "emulator has the tag");
  await screenshot(page, "23-embed-editor");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: embedded editor");

  await page.getByRole("button", { name: "Remove tag e2e-embedded" }).click();
  await eventually(async () => !(await emu.get(`/_emulator/machines/${machine.id}`)).machineTags.includes("e2e-embedded"), "emulator lost the tag");
  assert.equal(new URL(page.url()).pathname, "/embed/editor.html", "the host's URL is left alone");
  assert.deepEqual(page.problems, []);
});

test("the whole manager on another origin runs an imported bulk change", async () => {
  const machines = (await allMachines(emu)).filter((m) => /^[a-z0-9.-]+$/i.test(m.computerDnsName ?? ""));
  const names = new Map();
  for (const m of machines) names.set(m.computerDnsName.toLowerCase(), (names.get(m.computerDnsName.toLowerCase()) ?? 0) + 1);
  const picked = machines.filter((m) => names.get(m.computerDnsName.toLowerCase()) === 1).slice(0, 4);
  const page = await newPage(browser);
  await page.goto(`${portal.url}/embed/manager.html${query()}`);
  await page.getByTestId("embedded-manager").waitFor({ timeout: 30_000 });
  await page.getByRole("tab", { name: "Import a list" }).click();
  await page.getByLabel("Machine names or ids").fill(picked.map((m) => m.computerDnsName).join("\n"));
  await page.getByTestId("import-check").click();
  await page.getByTestId("import-resolved").filter({ hasText: "4 machines found" }).waitFor({ timeout: 30_000 });
  await page.getByLabel("Tag to add or remove").fill("e2e-embedded-bulk");
  await page.getByTestId("preview-button").click();
  await page.getByTestId("bulk-preview").waitFor();
  assert.equal(await statNumber(page, "preview-will-change"), 4);
  await runAndWait(page);
  assert.equal(await statNumber(page, "count-applied"), 4);
  for (const m of picked) {
    assert.ok((await emu.get(`/_emulator/machines/${m.id}`)).machineTags.includes("e2e-embedded-bulk"), m.id);
  }
  await screenshot(page, "24-embed-manager-report");

  // The manager's tabs work from the keyboard (arrow keys, one tab stop).
  await page.getByRole("tab", { name: "Bulk change" }).focus();
  await page.keyboard.press("ArrowRight");
  assert.equal(await page.getByRole("tab", { name: "Tag inventory" }).getAttribute("aria-selected"), "true");
  // Ids are unique per mount: each embedded mount prefixes its own (`dt<N>-`).
  // (The manager renders in a shadow root of #manager: the document's focus is its host.)
  assert.match(await page.evaluate(() => document.activeElement?.shadowRoot?.activeElement?.id), /^dt\d+-dt-tab-inventory$/);
  await page.getByTestId("inventory-summary").waitFor({ timeout: 30_000 });
  await page.getByRole("tab", { name: "Activity" }).click();
  assert.equal(await page.getByTestId("activity-row").count(), 1);
  await screenshot(page, "25-embed-manager-activity");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: embedded manager");
  assert.equal(new URL(page.url()).pathname, "/embed/manager.html", "the host's URL is left alone");
  assert.deepEqual(page.problems, []);
});
