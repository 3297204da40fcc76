// The web UI in headless Chromium (Playwright, /usr/bin/chromium) against the release emulator
// serving the built site with 100,000 machines:
//   load    first /api/machines request -> the results say "100000 machines" (searchable), vs
//           the bare download + JSON.parse of the same pages in plain JS in the same page;
//   search  per keystroke: input event -> last DOM mutation of the update (MutationObserver),
//           and -> next frame (requestAnimationFrame), vs Array.filter over the same 100k
//           objects in the same page; the UI's own `dt-narrow` performance measures when present;
//   memory  wasm linear memory + JS heap (CDP Runtime.getHeapUsage after a forced GC) with
//           100k machines loaded;
//   size    gzip -9 / brotli -q 11 of the embeddable package (wasm + web glue) and of the SPA's
//           first load as requested by the page (MSAL.js listed separately).
// Writes bench-browser.md and bench-browser.json to DT_OUTPUT.
import { chromium } from "playwright-core";
import { readFileSync, existsSync } from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { requireEnv, startEmulator, writeOutput, percentile, median, ratio, fmt, int, verdict } from "./lib.mjs";

const MACHINES = Number(process.env.DT_BENCH_UI_MACHINES ?? 100_000);
const PERSONA = "admin"; // a user with every device group
const QUERIES = ["eng-srv-00", "fin-lt-01", "10.3.1", "sales-ws-", "dc-vm-0"];
const KiB = 1024;
const MiB = 1024 * 1024;
const GOALS = { packageKiB: 80, spaKiB: 300, p95Ms: 16, memoryMiB: 150 };

const siteDir = requireEnv("DT_SITE_DIR");
const pkgDir = requireEnv("DT_PKG_DIR");

function compressed(file) {
  const raw = readFileSync(file);
  const gzip = zlib.gzipSync(raw, { level: 9 }).length;
  const brotli = zlib.brotliCompressSync(raw, {
    params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: raw.length },
  }).length;
  return { raw: raw.length, gzip, brotli };
}

const sum = (items, key) => items.reduce((s, x) => s + x[key], 0);

/** Runs in every document before the page's scripts: records wasm memories and load milestones. */
function initScript(machines) {
  const bench = { memories: [], searchableAt: null };
  Object.defineProperty(window, "__dtBench", { value: bench });
  const keep = (result) => {
    const instance = result && result.instance ? result.instance : result;
    try {
      for (const v of Object.values(instance.exports)) if (v instanceof WebAssembly.Memory) bench.memories.push(v);
    } catch {
      // not an instance
    }
    return result;
  };
  for (const name of ["instantiate", "instantiateStreaming"]) {
    const orig = WebAssembly[name];
    if (orig) WebAssembly[name] = function (...args) { return orig.apply(this, args).then(keep); };
  }
  const wanted = new RegExp(`^\\s*${machines} machines?\\b`);
  const check = () => {
    if (bench.searchableAt !== null) return;
    const el = document.querySelector("[data-testid=results-summary]");
    if (el && wanted.test(el.textContent ?? "")) bench.searchableAt = performance.now();
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, characterData: true });
}

async function signIn(page, base) {
  await page.goto(`${base}/`);
  await page.getByRole("button", { name: "Sign in" }).first().click();
  await page.waitForURL((u) => u.pathname.endsWith("/oauth2/v2.0/authorize"), { timeout: 30_000 });
  await page.locator(`#persona-${PERSONA}`).click();
  await page.getByTestId("user-name").waitFor({ timeout: 60_000 });
}

/** Same-origin files the first page load requests, mapped to the built site. */
async function firstLoadFiles(browser, base) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const urls = new Set();
  page.on("request", (r) => {
    const u = new URL(r.url());
    if (u.origin === base && !u.pathname.startsWith("/api") && !u.pathname.startsWith("/_emulator")) urls.add(u.pathname);
  });
  await page.goto(`${base}/`, { waitUntil: "networkidle" });
  await page.getByRole("button", { name: "Sign in" }).first().waitFor({ timeout: 30_000 });
  await context.close();
  const files = [];
  for (const p of urls) {
    const rel = p === "/" ? "index.html" : decodeURIComponent(p.slice(1));
    const file = path.join(siteDir, rel);
    if (existsSync(file)) files.push({ path: rel, ...compressed(file) });
  }
  return files.sort((a, b) => b.brotli - a.brotli);
}

/** Machines the signed-in persona can see (the API hides those beyond retention). */
async function visibleMachines(base) {
  const res = await fetch(`${base}/_emulator/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ persona: PERSONA }) });
  const token = (await res.json()).access_token;
  let count = 0;
  for (let skip = 0; ; skip += 10_000) {
    const page = await fetch(`${base}/api/machines?$top=10000&$skip=${skip}&$select=id`, { headers: { authorization: `Bearer ${token}` } });
    if (page.status === 404) break;
    const n = (await page.json()).value.length;
    count += n;
    if (n < 10_000) break;
  }
  return count;
}

async function main() {
  // ~3% of generated machines are beyond retention and never listed: generate enough that at
  // least MACHINES are loaded.
  const emu = await startEmulator(["--machines", String(Math.ceil(MACHINES / 0.965)), "--seed", "42", "--static", siteDir]);
  const visible = await visibleMachines(emu.url);
  if (visible < MACHINES) throw new Error(`only ${visible} visible machines`);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--enable-precise-memory-info"],
  });
  const result = { machines: visible };
  try {
    // Sizes.
    const pkgFiles = ["web/defender_tags_bg.wasm", "web/defender_tags.js"].map((f) => ({ path: f, ...compressed(path.join(pkgDir, f)) }));
    // The embed entry `defender-tags-wasm/ui`: what a portal loads for the mounted components.
    const uiFiles = ["ui/defender_tags_ui_bg.wasm", "ui/defender_tags_ui.js"].map((f) => ({ path: f, ...compressed(path.join(pkgDir, f)) }));
    const loaded = await firstLoadFiles(browser, emu.url);
    const isMsal = (f) => /msal/i.test(f.path);
    result.size = { pkg: pkgFiles, ui: uiFiles, spa: loaded.filter((f) => !isMsal(f)), msal: loaded.filter(isMsal) };

    // Load.
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    await context.addInitScript(initScript, visible);
    const page = await context.newPage();
    const problems = [];
    page.on("pageerror", (e) => problems.push(e.message));
    const cdp = await context.newCDPSession(page);
    await signIn(page, emu.url);
    try {
      await page.waitForFunction(() => window.__dtBench.searchableAt !== null, null, { timeout: 300_000, polling: 100 });
    } catch (e) {
      await page.screenshot({ path: path.join(requireEnv("DT_OUTPUT"), "bench-browser-timeout.png") });
      const summary = await page.getByTestId("results-summary").textContent().catch(() => "no summary");
      throw new Error(`the UI never showed ${visible} machines (summary: ${summary}): ${e.message}`);
    }
    const load = await page.evaluate(() => {
      const api = performance.getEntriesByType("resource").filter((e) => /\/api\/machines/.test(e.name));
      const first = Math.min(...api.map((e) => e.startTime));
      return { firstRequestAt: first, searchableAt: window.__dtBench.searchableAt, apiRequests: api.length, apiBytes: api.reduce((s, e) => s + (e.encodedBodySize || 0), 0) };
    });
    load.uiMs = load.searchableAt - load.firstRequestAt;

    // Memory with the machines loaded (before the JS baseline adds its own copy).
    await page.waitForTimeout(1000);
    await cdp.send("HeapProfiler.collectGarbage");
    const heap = await cdp.send("Runtime.getHeapUsage");
    const wasmBytes = await page.evaluate(() => window.__dtBench.memories.reduce((s, m) => s + m.buffer.byteLength, 0));
    result.memory = { jsUsed: heap.usedSize, jsTotal: heap.totalSize, wasm: wasmBytes, total: heap.usedSize + wasmBytes };

    // Search latency per keystroke in the UI.
    const input = page.locator("#search-input");
    await input.waitFor();
    const ui = await page.evaluate(async (queries) => {
      const el = document.querySelector("#search-input");
      const root = document.querySelector("#app") ?? document.body;
      const samples = [];
      const setValue = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set;
      const step = (value) =>
        new Promise((resolve) => {
          let last = null;
          const mo = new MutationObserver(() => {
            last = performance.now();
          });
          mo.observe(root, { subtree: true, childList: true, characterData: true, attributes: true });
          const marksBefore = performance.getEntriesByName("dt-narrow").length;
          const t0 = performance.now();
          setValue.call(el, value);
          el.dispatchEvent(new InputEvent("input", { bubbles: true, inputType: "insertText" }));
          requestAnimationFrame(() =>
            setTimeout(() => {
              mo.disconnect();
              const frame = performance.now() - t0;
              const narrow = performance.getEntriesByName("dt-narrow").slice(marksBefore).reduce((s, e) => s + e.duration, 0);
              resolve({ value, dom: last === null ? null : last - t0, frame, narrow: narrow || null });
            }, 0),
          );
        });
      for (let rep = 0; rep < 2; rep += 1) {
        for (const q of queries) {
          for (let i = 1; i <= q.length; i += 1) samples.push(await step(q.slice(0, i)));
          for (let i = q.length - 1; i >= 0; i -= 1) samples.push(await step(q.slice(0, i)));
        }
      }
      return samples;
    }, QUERIES);
    const domTimes = ui.filter((s) => s.dom !== null).map((s) => s.dom);
    const frameTimes = ui.map((s) => s.frame);
    const narrowTimes = ui.filter((s) => s.narrow !== null).map((s) => s.narrow);
    result.search = {
      samples: ui,
      keystrokes: ui.length,
      withDomUpdate: domTimes.length,
      dom: { p50: median(domTimes), p95: percentile(domTimes, 95), max: Math.max(...domTimes) },
      frame: { p50: median(frameTimes), p95: percentile(frameTimes, 95) },
      narrow: narrowTimes.length ? { p50: median(narrowTimes), p95: percentile(narrowTimes, 95), count: narrowTimes.length } : null,
    };

    // Plain-JS baselines in the same page: download + JSON.parse of the same pages, then filter.
    const baseline = await page.evaluate(async ({ queries, persona }) => {
      const tokenRes = await fetch("/_emulator/token", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ persona }) });
      const token = (await tokenRes.json()).access_token;
      const t0 = performance.now();
      const all = [];
      let requests = 0;
      for (let skip = 0; ; skip += 10_000) {
        const res = await fetch(`/api/machines?$top=10000&$skip=${skip}`, { headers: { authorization: `Bearer ${token}` } });
        requests += 1;
        if (!res.ok) throw new Error(`baseline page ${skip}: ${res.status}`);
        const page = JSON.parse(await res.text());
        for (const m of page.value) all.push(m);
        if (page.value.length < 10_000) break;
      }
      const loadMs = performance.now() - t0;
      const times = [];
      const lower = (s) => (s ?? "").toLowerCase();
      for (let rep = 0; rep < 2; rep += 1) {
        for (const q of queries) {
          const prefixes = [];
          for (let i = 1; i <= q.length; i += 1) prefixes.push(q.slice(0, i));
          for (let i = q.length - 1; i >= 0; i -= 1) prefixes.push(q.slice(0, i));
          for (const p of prefixes) {
            const needle = p.toLowerCase();
            const ip = /^[0-9.]+$/.test(p);
            const s = performance.now();
            const hits = needle === "" ? all : all.filter((m) => (ip ? (m.lastIpAddress ?? "").startsWith(needle) : lower(m.computerDnsName).startsWith(needle)));
            times.push(performance.now() - s);
            if (hits.length < 0) throw new Error("unreachable");
          }
        }
      }
      return { loadMs, requests, machines: all.length, filterTimes: times };
    }, { queries: QUERIES, persona: PERSONA });
    result.load = { ...load, baselineMs: baseline.loadMs, baselineRequests: baseline.requests, baselineMachines: baseline.machines };
    result.search.baseline = { p50: median(baseline.filterTimes), p95: percentile(baseline.filterTimes, 95), max: Math.max(...baseline.filterTimes) };
    result.problems = problems;
    await page.screenshot({ path: path.join(requireEnv("DT_OUTPUT"), "bench-browser.png") });
    await context.close();
  } finally {
    await browser.close();
    await emu.stop();
  }
  writeOutput("bench-browser.json", JSON.stringify(result, null, 2));
  writeOutput("bench-browser.md", markdown(result));
}

function markdown(r) {
  const L = [];
  const kib = (b) => `${fmt(b / KiB, 1)} KiB`;
  L.push(`## Web UI in headless Chromium (${int(r.machines)} machines)`);
  L.push("");
  L.push(
    `Release emulator serving \`target/site\` (wasm-release build) with ${int(r.machines)} machines; Chromium ${"headless"}, ` +
      `1440×900, signed in through MSAL as \`${PERSONA}\` (every device group). KiB = 1,024 B, MiB = 1,048,576 B.`,
  );
  L.push("");
  L.push("| Figure | Ours | Baseline (plain JS, same page) | Goal | Ratio to goal | Result |");
  L.push("|---|---:|---:|---|---:|---|");
  const s = r.search;
  L.push(
    `| Search, input → DOM updated, p50 (${s.withDomUpdate} of ${s.keystrokes} keystrokes) | ${fmt(s.dom.p50, 2)} ms | ${fmt(s.baseline.p50, 2)} ms (Array.filter) | — | — | ${ratio(s.dom.p50, s.baseline.p50)} the baseline |`,
  );
  L.push(
    `| Search, input → DOM updated, p95 | ${fmt(s.dom.p95, 2)} ms | ${fmt(s.baseline.p95, 2)} ms (Array.filter) | ≤ ${GOALS.p95Ms} ms and ≤ baseline | ${ratio(s.dom.p95, GOALS.p95Ms)} | ≤ 16 ms ${verdict(s.dom.p95 <= GOALS.p95Ms)}; vs baseline ${verdict(s.dom.p95 <= s.baseline.p95)} (${ratio(s.dom.p95, s.baseline.p95)}) |`,
  );
  L.push(`| Search, input → next frame, p50 / p95 | ${fmt(s.frame.p50, 2)} / ${fmt(s.frame.p95, 2)} ms | — | — | — | includes waiting for the frame |`);
  if (s.narrow) {
    L.push(`| Search, UI's own \`dt-narrow\` measure, p50 / p95 (${s.narrow.count}) | ${fmt(s.narrow.p50, 2)} / ${fmt(s.narrow.p95, 2)} ms | — | — | — | narrowing only |`);
  } else {
    L.push("| Search, UI's own `dt-narrow` measure | not emitted by the UI | — | — | — | measured from outside only |");
  }
  const l = r.load;
  L.push(
    `| Load: first /api request → ${int(r.machines)} machines searchable | ${fmt(l.uiMs / 1000, 2)} s (${l.apiRequests} API requests) | ${fmt(l.baselineMs / 1000, 2)} s (${l.baselineRequests} requests, fetch + JSON.parse) | — | — | ${ratio(l.uiMs, l.baselineMs)} the baseline |`,
  );
  const m = r.memory;
  L.push(
    `| Memory with ${int(r.machines)} machines: wasm linear memory + JS heap used | ${fmt(m.total / MiB, 1)} MiB (wasm ${fmt(m.wasm / MiB, 1)} + JS ${fmt(m.jsUsed / MiB, 1)}) | — | ≤ ${GOALS.memoryMiB} MiB | ${ratio(m.total / MiB, GOALS.memoryMiB)} | ${verdict(m.total / MiB <= GOALS.memoryMiB)} |`,
  );
  const pkg = r.size.pkg;
  L.push(
    `| Embeddable package (web: wasm + glue), gzip / brotli | ${kib(sum(pkg, "gzip"))} / ${kib(sum(pkg, "brotli"))} | — | ≤ ${GOALS.packageKiB} KiB | ${ratio(sum(pkg, "gzip") / KiB, GOALS.packageKiB)} (gzip) | ${verdict(sum(pkg, "gzip") / KiB <= GOALS.packageKiB)} |`,
  );
  const ui = r.size.ui;
  L.push(
    `| Embed entry \`defender-tags-wasm/ui\` (wasm + glue), gzip / brotli | ${kib(sum(ui, "gzip"))} / ${kib(sum(ui, "brotli"))} | — | — | — | the mount functions only (no router, no app shell); loaded in addition to nothing else |`,
  );
  const spa = r.size.spa;
  L.push(
    `| SPA first load without MSAL.js (${spa.length} files), gzip / brotli | ${kib(sum(spa, "gzip"))} / ${kib(sum(spa, "brotli"))} | — | ≤ ${GOALS.spaKiB} KiB | ${ratio(sum(spa, "gzip") / KiB, GOALS.spaKiB)} (gzip) | ${verdict(sum(spa, "gzip") / KiB <= GOALS.spaKiB)} |`,
  );
  const msal = r.size.msal;
  L.push(`| MSAL.js (listed separately), gzip / brotli | ${msal.length ? `${kib(sum(msal, "gzip"))} / ${kib(sum(msal, "brotli"))}` : "not requested on first load"} | — | — | — | third-party |`);
  L.push("");
  L.push("Files (raw / gzip -9 / brotli -q 11):");
  L.push("");
  L.push("| File | Raw | gzip | brotli |");
  L.push("|---|---:|---:|---:|");
  for (const f of [...pkg.map((x) => ({ ...x, path: `package ${x.path}` })), ...ui.map((x) => ({ ...x, path: `package ${x.path}` })), ...spa.map((x) => ({ ...x, path: `site ${x.path}` })), ...msal.map((x) => ({ ...x, path: `site ${x.path}` }))]) {
    L.push(`| ${f.path} | ${int(f.raw)} B | ${int(f.gzip)} B | ${int(f.brotli)} B |`);
  }
  L.push("");
  if (r.problems.length) {
    L.push(`Page errors during the run: ${r.problems.map((p) => `\`${p}\``).join(", ")}`);
    L.push("");
  }
  return L.join("\n");
}

await main();
