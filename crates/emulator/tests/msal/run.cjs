// Drives the MSAL smoke page in headless Chromium: picks the "analyst" persona on the emulator's
// sign-in page, then waits for smoke.js to report. Usage: node run.cjs URL (PLAYWRIGHT_CORE =
// path of the playwright-core package, CHROMIUM = browser binary). An optional second argument
// names the tenant to sign in to.
const { chromium } = require(process.env.PLAYWRIGHT_CORE || "playwright-core");

(async () => {
  const url = process.argv[2];
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  let code = 1;
  try {
    const page = await browser.newPage();
    page.on("pageerror", (e) => console.log("pageerror:", e.message));
    await page.goto(url + "/" + (process.argv[3] ? "?tenant=" + encodeURIComponent(process.argv[3]) : ""));
    await page.getByRole("button", { name: /analyst/ }).click({ timeout: 20000 });
    await page.waitForFunction(() => /^(DONE|ERROR)/.test(document.title), null, { timeout: 30000 });
    console.log("TITLE", await page.title());
    console.log(await page.textContent("#out"));
    code = (await page.title()) === "DONE 200 200" ? 0 : 1;
  } catch (e) {
    console.log("FAILED", e.message);
  } finally {
    await browser.close();
  }
  process.exit(code);
})();
