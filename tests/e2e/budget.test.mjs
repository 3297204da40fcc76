// One rate budget per browser (issue 16, item 4): the app and the embedded manager, open at once
// on the same origin in one browser profile, each run a bulk change over every machine of a
// 28,000-machine tenant (about 54 tag calls each, 108 together: more than the 100 a minute
// Defender allows one application + tenant). They share one budget, so the emulator answers no 429 and
// its log of accepted calls never holds more than 100 in any minute. With a limiter per client
// (before), each would send its 54 calls at once and the emulator would refuse some of them.
//
// Real time: the app has no time scale (it talks to Defender), so the emulator runs at scale 1
// and the test waits out one real minute window.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startEmulator } from "./lib/emulator.mjs";
import { launch, newPage, screenshot, signIn } from "./lib/browser.mjs";
import { statNumber, throttledCount } from "./lib/bulk.mjs";

const MACHINES = 28_000;

let emu;
let browser;
before(async () => {
  emu = await startEmulator({ machines: MACHINES });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await emu?.stop();
});

/**
 * Selects every machine matching (no filter; the API lists no machine beyond retention) and
 * previews adding `tag`. Returns how many machines will change.
 */
async function previewAll(page, tag) {
  const summary = await page
    .getByTestId("bulk-match-summary")
    .filter({ hasText: /matching machines selected/ })
    .textContent({ timeout: 240_000 });
  const total = Number(/of ([\d,]+) matching/.exec(summary)[1].replace(/,/g, ""));
  await page.getByTestId("select-all-matching").click();
  const all = total.toLocaleString("en-US");
  await page.getByTestId("bulk-match-summary").filter({ hasText: `${all} of ${all}` }).waitFor({ timeout: 60_000 });
  await page.getByLabel("Tag to add or remove").fill(tag);
  await page.getByTestId("preview-button").click();
  await page.getByTestId("bulk-preview").waitFor({ timeout: 60_000 });
  assert.equal(await statNumber(page, "preview-will-change"), total);
  return total;
}

/** Most accepted calls of one application + tenant inside any window of `windowMs`. */
function busiestWindow(calls, windowMs) {
  const times = calls.map((c) => c.at_ms).sort((a, b) => a - b);
  let most = 0;
  let start = 0;
  for (let end = 0; end < times.length; end++) {
    while (times[start] <= times[end] - windowMs) start++;
    most = Math.max(most, end - start + 1);
  }
  return most;
}

test("the app and an embedded manager running at once share one budget: no 429, at most 100 calls a minute", async (t) => {
  // The app, signed in, with its bulk change previewed.
  const app = await newPage(browser);
  await signIn(app, emu.url, "admin", "/bulk");
  await app.goto(`${emu.url}/bulk`);
  const total = await previewAll(app, "e2e-budget-app");
  const callsEach = Math.ceil(total / 500);
  assert.ok(2 * callsEach > 100, `together more tag calls than a minute allows (${2 * callsEach})`);

  // The embedded manager in a second tab of the same browser profile and origin (the portal
  // demo page, with the emulator's dev token endpoint as its token callback).
  const embed = await app.context().newPage();
  embed.problems = [];
  embed.on("pageerror", (e) => embed.problems.push(`pageerror: ${e.message}`));
  await embed.goto(`${emu.url}/embed/manager.html?persona=admin`);
  await embed.getByTestId("embedded-manager").waitFor({ timeout: 60_000 });
  assert.equal(await previewAll(embed, "e2e-budget-embed"), total);

  // Both runs at once.
  await Promise.all([app.getByTestId("run-button").click(), embed.getByTestId("run-button").click()]);
  // While the minute is full, a waiting run's budget line counts the other tab's calls too (each
  // tab alone makes only 54).
  const full = (page) =>
    page
      .getByTestId("progress-budget")
      .filter({ hasText: /Rate budget: (9\d|100) of 100 calls this minute/ })
      .waitFor({ timeout: 90_000 })
      .then(() => page);
  const waiting = await Promise.any([full(app), full(embed)]);
  await screenshot(waiting, "40-budget-shared-waiting");
  await Promise.all([
    app.getByTestId("bulk-report").waitFor({ timeout: 300_000 }),
    embed.getByTestId("bulk-report").waitFor({ timeout: 300_000 }),
  ]);
  await screenshot(app, "41-budget-shared-app-report");
  await screenshot(embed, "42-budget-shared-embed-report");
  for (const page of [app, embed]) {
    assert.match(await page.getByTestId("report-headline").textContent(), /^Finished/);
    assert.equal(await statNumber(page, "count-applied"), total);
  }

  // The emulator's view.
  assert.equal(await throttledCount(emu), 0, "no 429 from the emulator");
  const { time_scale: scale, calls } = await emu.get("/_emulator/calls");
  assert.equal(scale, 1);
  const budgets = new Set(calls.map((c) => `${c.tenant} ${c.app}`));
  assert.equal(budgets.size, 1, `both tabs spend one application + tenant budget: ${[...budgets]}`);
  const tagCalls = calls.filter((c) => c.endpoint === "bulkTagMachines").map((c) => c.at_ms);
  assert.equal(tagCalls.length, 2 * callsEach, "every tag call accepted the first time");
  // The 101st tag call waited for the first one to leave the minute.
  const span = Math.max(...tagCalls) - Math.min(...tagCalls);
  assert.ok(span > 60_000 / scale, `the tag calls spread over more than a minute (${span} ms)`);
  assert.ok(calls.length > 100, `more calls than one minute allows (${calls.length})`);
  const busiest = busiestWindow(calls, 60_000 / scale);
  t.diagnostic(`${calls.length} calls accepted (${tagCalls.length} tag calls), busiest minute ${busiest}, tag calls over ${span} ms`);
  assert.ok(busiest <= 100, `at most 100 calls in any minute, all endpoints together (saw ${busiest})`);

  // What the browser kept: call times and ids, never a token.
  const stored = await app.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open("defender-tags-rate-budget");
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const tx = open.result.transaction("ledgers");
          const keys = tx.objectStore("ledgers").getAllKeys();
          const values = tx.objectStore("ledgers").getAll();
          tx.oncomplete = () => resolve({ keys: keys.result, values: values.result });
          tx.onerror = () => reject(tx.error);
        };
      }),
  );
  assert.deepEqual(stored.keys, [`v1|${emu.url}|x1`]);
  assert.ok(!/eyJ[A-Za-z0-9_-]{10,}/.test(JSON.stringify(stored)), "no token in the stored ledger");
  assert.deepEqual(app.problems, []);
  assert.deepEqual(embed.problems, []);
});
