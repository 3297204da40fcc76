// Headless Chromium via playwright-core, plus helpers shared by the tests: screenshots, axe-core,
// CSP-violation and page-error collection, and the MSAL sign-in through the emulator.
import { chromium } from "playwright-core";
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..", "..");
const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

export const VIEWPORT = { width: 1440, height: 900 };

export function screenshotDir() {
  const dir = process.env.DT_SCREENSHOTS || path.join(root, "target", "screenshots");
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Headless Chromium; `extraArgs` adds command-line switches (e.g. `--js-flags=--expose-gc`). */
export async function launch({ extraArgs = [] } = {}) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--no-first-run", ...extraArgs],
  });
}

/**
 * A fresh context and page at 1440×900 that records page errors, console errors and CSP
 * violations in `page.problems` (tests assert it stays empty).
 */
export async function newPage(browser) {
  const context = await browser.newContext({ viewport: VIEWPORT });
  const page = await context.newPage();
  page.problems = [];
  page.dialogs = [];
  page.on("pageerror", (e) => page.problems.push(`pageerror: ${e.message}`));
  page.on("console", (msg) => {
    const text = msg.text();
    if (/Content Security Policy|Refused to/i.test(text)) page.problems.push(`csp: ${text}`);
  });
  page.on("dialog", async (d) => {
    page.dialogs.push(d.message());
    await d.dismiss();
  });
  return page;
}

export async function screenshot(page, name) {
  const file = path.join(screenshotDir(), `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

/** Runs axe-core on the page; returns the serious and critical violations. */
export async function seriousA11yViolations(page) {
  // Evaluated through the DevTools protocol, so the page's CSP (no inline scripts) does not apply.
  await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
  });
  return result.filter((v) => v.impact === "serious" || v.impact === "critical");
}

/**
 * Runs axe-core on the embedded components: `hosts` are selectors of shadow hosts, each checked
 * inside its shadow root. Returns { violations (serious and critical), checkedInShadow (how many
 * passing checks looked at nodes inside a shadow root, so a run that saw nothing there fails) }.
 */
export async function shadowA11y(page, hosts) {
  await page.evaluate(AXE_SOURCE);
  return page.evaluate(async (hosts) => {
    // eslint-disable-next-line no-undef
    const r = await axe.run({ include: hosts.map((h) => [[h, ".dt-root"]]) }, { resultTypes: ["violations", "passes"] });
    const inShadow = (n) => Array.isArray(n.target[0]);
    return {
      violations: r.violations
        .filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => JSON.stringify(n.target)).slice(0, 5) })),
      checkedInShadow: r.passes.reduce((n, p) => n + p.nodes.filter(inShadow).length, 0),
    };
  }, hosts);
}

/**
 * Signs in through MSAL's redirect flow against the emulator's identity provider, choosing
 * `persona` on its sign-in page. Resolves once the app shows the signed-in user.
 */
export async function signIn(page, baseUrl, persona = "analyst", startPath = "/") {
  await page.goto(baseUrl + startPath);
  await page.getByRole("button", { name: "Sign in" }).first().click();
  // The emulator's authorize page (reached through MSAL's redirect): one button per persona.
  await page.waitForURL((u) => u.pathname.endsWith("/oauth2/v2.0/authorize"), { timeout: 15_000 });
  await page.locator(`#persona-${persona}`).click();
  await page.getByTestId("user-name").waitFor({ timeout: 20_000 });
}
