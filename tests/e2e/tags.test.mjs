// Tag chips: add (autocomplete, warnings), remove, optimistic update and rollback on failure,
// checked against the emulator's state.
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

async function openFirstMachine(page) {
  await page.getByTestId("results-summary").filter({ hasText: /^\d+ machines/ }).waitFor();
  await page.locator(".body-row:not([hidden]) .machine-link").first().click();
  await page.waitForURL(/[?&]m=[0-9a-f]{40}/);
  await page.getByTestId("machine-panel").waitFor();
  return new URL(page.url()).searchParams.get("m");
}

const chipTexts = (page) => page.locator("[data-testid=tag-chips] .chip-text").allTextContents();

async function emulatorTags(id) {
  const m = await emu.get(`/_emulator/machines/${id}`);
  return m.machineTags;
}

async function eventually(fn, message) {
  for (let i = 0; i < 50; i++) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(message);
}

test("add and remove a tag; the emulator sees both", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  const id = await openFirstMachine(page);

  const input = page.getByRole("combobox", { name: "Add a tag" });
  await input.fill("e2e-Added Tag");
  await page.getByTestId("add-tag-button").click();
  await eventually(async () => (await chipTexts(page)).includes("e2e-Added Tag"), "chip shown");
  await eventually(async () => (await emulatorTags(id)).includes("e2e-Added Tag"), "emulator has the tag");
  await page.getByTestId("notice").filter({ hasText: "Added" }).waitFor();
  await screenshot(page, "04-machine-tags");
  assert.deepEqual(await seriousA11yViolations(page), [], "axe: machine panel");

  await page.getByRole("button", { name: "Remove tag e2e-Added Tag" }).click();
  await eventually(async () => !(await chipTexts(page)).includes("e2e-Added Tag"), "chip removed");
  await eventually(async () => !(await emulatorTags(id)).includes("e2e-Added Tag"), "emulator lost the tag");
  assert.deepEqual(page.problems, []);
});

test("autocomplete offers tenant tags and warns about case variants", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  await openFirstMachine(page);
  const input = page.getByRole("combobox", { name: "Add a tag" });
  // A tenant tag not on this machine, typed in another case.
  const all = await emu.get("/_emulator/machines");
  const list = Array.isArray(all) ? all : all.value;
  const current = new Set(await chipTexts(page));
  const tag = list.flatMap((m) => m.machineTags).find((t) => /^[A-Za-z]/.test(t) && !current.has(t) && t.toUpperCase() !== t);
  assert.ok(tag, "the dataset has tags");
  await input.fill(tag.slice(0, 3));
  await page.getByRole("listbox", { name: "Known tags" }).waitFor();
  assert.ok((await page.getByRole("option").count()) > 0);
  await input.fill(tag.toUpperCase());
  await page.getByTestId("tag-warnings").filter({ hasText: tag }).waitFor();
  // Invalid input is refused inline; nothing is sent.
  await input.fill(" leading space");
  await page.getByTestId("add-tag-button").click();
  await page.getByTestId("tag-error").filter({ hasText: /whitespace/ }).waitFor();
  assert.ok(!(await chipTexts(page)).includes(" leading space"));
  assert.deepEqual(page.problems, []);
});

test("a failed change rolls back with a message", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "admin");
  const id = await openFirstMachine(page);
  const before = await chipTexts(page);
  await emu.put("/_emulator/faults", { error500: 1.0 });
  try {
    await page.getByRole("combobox", { name: "Add a tag" }).fill("doomed-tag");
    await page.getByTestId("add-tag-button").click();
    await page.getByTestId("notice").filter({ hasText: "Could not add" }).waitFor({ timeout: 60_000 });
  } finally {
    await emu.put("/_emulator/faults", {});
  }
  const notice = await page.getByTestId("notice").textContent();
  assert.match(notice, /doomed-tag/);
  assert.match(notice, /undone/);
  assert.deepEqual(await chipTexts(page), before, "chips are as before");
  assert.ok(!(await emulatorTags(id)).includes("doomed-tag"));
  await screenshot(page, "05-rollback");
  assert.deepEqual(page.problems.filter((p) => !/500/.test(p)), []);
});

test("a 403 from the API on a tag change names the permission and role needed, and rolls back", async () => {
  const page = await newPage(browser);
  await signIn(page, emu.url, "analyst");
  const id = await openFirstMachine(page);
  const before = await chipTexts(page);
  // What Defender answers when the user's RBAC role lacks "Manage security settings" or the
  // machine's group: the documented error envelope with 403 (the emulator's personas always
  // hold the permissions they show, so the answer is replayed here).
  const forbid = (route) =>
    route.fulfill({
      status: 403,
      contentType: "application/json",
      body: JSON.stringify({ error: { code: "Forbidden", message: "The user doesn't have the required permissions.", target: "4c9b6f1e-0000-4000-8000-000000000403" } }),
    });
  await page.route(/\/api\/machines\/[0-9a-f]{40}\/tags$/, forbid);
  try {
    await page.getByRole("combobox", { name: "Add a tag" }).fill("e2e-forbidden");
    await page.getByTestId("add-tag-button").click();
    const notice = page.getByTestId("notice").filter({ hasText: "Permission denied" });
    await notice.waitFor({ timeout: 30_000 });
    const text = await notice.textContent();
    // The analyst's token has Machine.ReadWrite, so the refusal is Defender's RBAC.
    assert.match(text, /your sign-in has Machine\.ReadWrite but Defender refused/);
    assert.match(text, /Manage security settings/);
  } finally {
    await page.unroute(/\/api\/machines\/[0-9a-f]{40}\/tags$/, forbid);
  }
  assert.deepEqual(await chipTexts(page), before, "chips are as before");
  assert.ok(!(await emulatorTags(id)).includes("e2e-forbidden"));
  await screenshot(page, "30-tag-change-forbidden");
});
