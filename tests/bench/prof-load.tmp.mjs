import { chromium } from "playwright-core";
import { startEmulator } from "./lib.mjs";
import { writeFileSync } from "node:fs";
const siteDir = process.env.DT_SITE_DIR;
const emu = await startEmulator(["--machines", String(Math.ceil(100000 / 0.965)), "--seed", "42", "--static", siteDir]);
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  await context.addInitScript(() => {
    window.__s = null;
    new MutationObserver(() => {
      const el = document.querySelector('[data-testid="results-summary"]');
      if (window.__s === null && el && /100,?\d{3} machines/.test(el.textContent)) window.__s = performance.now();
    }).observe(document, { subtree: true, childList: true, characterData: true });
  });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("Profiler.enable");
  await cdp.send("Profiler.setSamplingInterval", { interval: 200 });
  await page.goto(`${emu.url}/`);
  await page.getByRole("button", { name: "Sign in" }).first().click();
  await page.waitForURL((u) => u.pathname.endsWith("/oauth2/v2.0/authorize"));
  await page.locator(`#persona-admin`).click();
  await page.getByTestId("user-name").waitFor({ timeout: 60000 });
  await cdp.send("Profiler.start");
  await page.waitForFunction(() => window.__s !== null, null, { timeout: 300000, polling: 50 });
  const { profile } = await cdp.send("Profiler.stop");
  writeFileSync("/tmp/prof/load.cpuprofile", JSON.stringify(profile));
  const r = await page.evaluate(() => ({ s: window.__s, api: performance.getEntriesByType("resource").filter((e) => /\/api\/machines/.test(e.name)).map((e) => [Math.round(e.startTime), Math.round(e.responseStart), Math.round(e.responseEnd), e.encodedBodySize]) }));
  const t0 = r.api[0][0];
  console.log("searchable at +", Math.round(r.s - t0));
  for (const [a, b, c, n] of r.api) console.log(a - t0, b - t0, c - t0, n);
  // self time by function
  const self = new Map(); const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const dt = profile.timeDeltas; let total = 0;
  profile.samples.forEach((id, i) => { const n = byId.get(id); const k = n.callFrame.functionName + " " + n.callFrame.url.split("/").pop(); self.set(k, (self.get(k) ?? 0) + (dt[i] ?? 0)); total += dt[i] ?? 0; });
  console.log("total sampled ms", total / 1000);
  [...self].sort((a, b) => b[1] - a[1]).slice(0, 40).forEach(([k, v]) => console.log((v / 1000).toFixed(1), k));
} finally { await browser.close(); await emu.stop?.(); emu.kill?.(); }
