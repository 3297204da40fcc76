// Helpers shared by the bulk, inventory and embed tests (UI part 2).
import { readFile } from "node:fs/promises";
import assert from "node:assert/strict";

/** Polls `fn` until it returns truthy (default 30 s). */
export async function eventually(fn, message, timeoutMs = 30_000) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${message} (last: ${last})`);
}

/** Minimal RFC 4180 CSV reader (quoted fields, doubled quotes, CRLF). Returns rows of strings. */
export function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += c;
  }
  if (field !== "" || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** Rows of a CSV as objects keyed by the header. */
export function csvObjects(text) {
  const [head, ...rows] = parseCsv(text);
  return rows.map((r) => Object.fromEntries(head.map((h, i) => [h, r[i]])));
}

/** Clicks `button` and returns the text of the file it downloads. */
export async function downloadText(page, button) {
  const [download] = await Promise.all([page.waitForEvent("download"), button.click()]);
  return readFile(await download.path(), "utf8");
}

/** The number shown by a `Stat` (data-testid), as an integer. */
export async function statNumber(page, testid) {
  const text = await page.getByTestId(testid).locator(".stat-n").textContent();
  return Number(text.replace(/,/g, ""));
}

/** The emulator's raw state of every machine. */
export async function allMachines(emu) {
  const all = await emu.get("/_emulator/machines");
  return Array.isArray(all) ? all : all.value;
}

/** Runs the previewed job and waits for its report. */
export async function runAndWait(page, timeout = 120_000) {
  await page.getByTestId("run-button").click();
  await page.getByTestId("bulk-report").waitFor({ timeout });
}

/** Total 429 answers the emulator gave, over all endpoints. */
export async function throttledCount(emu) {
  const stats = await emu.get("/_emulator/stats");
  return Object.values(stats.endpoints ?? {}).reduce((n, e) => n + (e.throttled ?? 0), 0);
}
