// Headless Chromium via playwright-core (as tests/e2e/lib/browser.mjs), recording page errors,
// CSP reports and (unless `http: false`) failed requests and HTTP errors in `page.problems`.
import { chromium } from "playwright-core";

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--no-first-run"],
  });
}

export async function newPage(browser, { http = true } = {}) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  page.problems = [];
  page.consoleText = [];
  page.on("pageerror", (e) => page.problems.push(`pageerror: ${e.message}`));
  page.on("console", (msg) => {
    const text = msg.text();
    page.consoleText.push(text);
    if (/Content Security Policy|Refused to/i.test(text)) page.problems.push(`csp: ${text}`);
  });
  if (http) {
    page.on("requestfailed", (r) => page.problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
    page.on("response", (r) => {
      if (r.status() >= 400) page.problems.push(`HTTP ${r.status()}: ${r.url()}`);
    });
  }
  return page;
}

/** Resolves once the app has replaced the static "Loading Defender Tags…" message. */
export async function booted(page) {
  await page.waitForFunction(() => {
    const app = document.getElementById("app");
    return app && app.children.length > 0 && !app.textContent.includes("Loading Defender Tags");
  }, null, { timeout: 30_000 });
}
