// The example portal (examples/portal) on its own origin, embedding the editor and the manager
// from the npm package's `defender-tags-wasm/ui` entry, with the package's edge proxy (its Node
// server) in front of the emulator on a third origin. Issue #17's "Done when" checks: untouched
// host, lifecycle with forced GCs, tags and paging through the proxy, axe inside the shadow
// roots, and a CORS refusal that fails fast with `cors_refused`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { startEmulator } from "./lib/emulator.mjs";
import { launch, newPage, screenshot, shadowA11y } from "./lib/browser.mjs";
import { allMachines, eventually } from "./lib/bulk.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const pkg = process.env.DT_PKG_DIR;
// The API lists a bit fewer than the emulator holds (it leaves some out of the default listing):
// 10,800 gives more than one page of the API's 10,000, so the inventory follows nextLink
// through the proxy.
const MACHINES = 10_800;

let emu;
let portal;
let browser;
let machine;

/** Starts examples/portal/serve.mjs; resolves to { portal, proxy, stop() }. */
async function startPortal(api) {
  const child = spawn(process.execPath, [path.resolve(here, "../../examples/portal/serve.mjs"), "--pkg", pkg, "--api", api], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log = [];
  child.stderr.on("data", (d) => log.push(String(d)));
  const urls = {};
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the example portal did not start\n${log.join("")}`)), 30_000);
    child.once("exit", (code) => reject(new Error(`the example portal exited (${code})\n${log.join("")}`)));
    createInterface({ input: child.stdout }).on("line", (line) => {
      const m = /^(PORTAL|PROXY) (\S+)/.exec(line);
      if (m) urls[m[1].toLowerCase()] = m[2];
      if (urls.portal && urls.proxy) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.removeAllListeners("exit");
  return {
    url: urls.portal,
    proxy: urls.proxy,
    log: () => log.join(""),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** How many machines the API lists (all pages, straight from the emulator, server side). */
async function apiListCount() {
  const res = await fetch(`${emu.url}/_emulator/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ persona: "admin" }) });
  const { access_token: token } = await res.json();
  let url = `${emu.url}/api/machines`;
  let n = 0;
  while (url) {
    const page = await (await fetch(url, { headers: { authorization: `Bearer ${token}` } })).json();
    n += page.value.length;
    url = page["@odata.nextLink"];
  }
  return n;
}

before(async () => {
  if (!pkg) return;
  // No --cors-origin: the emulator refuses every cross-origin browser call, as the Defender API may.
  emu = await startEmulator({ machines: MACHINES, extraArgs: ["--time-scale", "60"] });
  portal = await startPortal(emu.url);
  browser = await launch({ extraArgs: ["--js-flags=--expose-gc"] });
  machine = (await allMachines(emu)).find((m) => /^[a-z0-9.-]+$/i.test(m.computerDnsName ?? "") && m.machineTags.length > 0);
});
after(async () => {
  await browser?.close();
  await portal?.stop();
  await emu?.stop();
});

const skip = pkg ? false : "needs the npm package (DT_PKG_DIR; cargo xtask test builds it)";
const pageUrl = (extra = "") => `${portal.url}/?proxy=${encodeURIComponent(portal.proxy)}&machine=${machine.id}${extra}`;

/** Boxes and computed styles of the host's own elements (none inside a component). */
function hostLayout(page) {
  return page.evaluate(() => {
    const pick = (sel) => {
      const el = document.querySelector(sel);
      const r = el.getBoundingClientRect();
      const cs = getComputedStyle(el);
      // #app holds the editor's slot, so only its height follows the editor's content.
      return { sel, x: r.x, y: r.y, w: r.width, h: sel === "#app" ? "grows" : r.height, display: cs.display, font: cs.fontFamily, color: cs.color, bg: cs.backgroundColor, gap: cs.gap, padding: cs.padding };
    };
    return [".portal-bar", "#link-other", "#app", "#host-card", "#host-card h1", "#host-card p", "#host-button", "#editor-card h2"].map(pick);
  });
}

test("the host page is untouched: layout, #app, links; the SPA bundle leaves a foreign #app alone", { skip }, async () => {
  assert.notEqual(new URL(portal.url).origin, new URL(portal.proxy).origin);
  assert.notEqual(new URL(portal.url).origin, new URL(emu.url).origin);
  const page = await newPage(browser);
  await page.goto(pageUrl("&manual=1"));
  await page.waitForFunction(() => window.portal?.start);
  const before = await hostLayout(page);
  const appBefore = await page.evaluate(() => ({ html: document.getElementById("app").innerHTML, attrs: [...document.getElementById("app").attributes].map((a) => `${a.name}=${a.value}`) }));
  const urlBefore = page.url();

  await page.evaluate(() => window.portal.start());
  await page.getByTestId("embedded-editor").waitFor({ timeout: 30_000 });
  await page.getByRole("heading", { name: machine.computerDnsName }).waitFor({ timeout: 30_000 });
  await page.getByTestId("embedded-manager").waitFor({ timeout: 30_000 });
  await screenshot(page, "40-portal-mounted");

  // The components live in shadow roots of the host's slots: the host's light DOM is unchanged.
  const appAfter = await page.evaluate(() => ({ html: document.getElementById("app").innerHTML, attrs: [...document.getElementById("app").attributes].map((a) => `${a.name}=${a.value}`) }));
  assert.deepEqual(appAfter, appBefore, "#app untouched");
  assert.deepEqual(await hostLayout(page), before, "the host's boxes and styles are the same");
  assert.equal(page.url(), urlBefore, "the URL is the host's");
  // Nothing of ours in the document itself: no style sheets added, no element with our classes.
  assert.equal(await page.evaluate(() => document.styleSheets.length + document.adoptedStyleSheets.length), 1);
  assert.equal(await page.evaluate(() => document.querySelectorAll(".dt-root, .embed-manager, [data-testid]").length), 0);
  // Host theming reaches the components only through --dt-* properties.
  const accent = await page.evaluate(() => getComputedStyle(document.querySelector("#editor").shadowRoot.querySelector("[data-testid=add-tag-button]")).backgroundColor);
  assert.equal(accent, "rgb(142, 16, 71)", "--dt-accent themes the primary button");

  // A host link navigates (no router captures it).
  await page.click("#link-other");
  await page.waitForURL(`${portal.url}/other.html`);
  assert.equal(await page.title(), "Contoso IT portal: reports");
  assert.deepEqual(page.problems, []);

  // #16.6: the app's own bundle loaded by a page with a plain #app does not mount there.
  const spa = await newPage(browser);
  await spa.route(`${portal.url}/spa-host.html`, (route) =>
    route.fulfill({
      contentType: "text/html",
      body: `<!doctype html><title>host</title><div id="app"><p id="own">The host's app</p></div>`,
    }),
  );
  await spa.goto(`${portal.url}/spa-host.html`);
  const site = process.env.DT_SITE_DIR;
  assert.ok(site, "DT_SITE_DIR");
  await spa.route(`${portal.url}/site/**`, (route) => route.fulfill({ path: path.join(site, new URL(route.request().url()).pathname.slice("/site/".length)) }));
  const started = await spa.evaluate(async (url) => {
    const mod = await import(url);
    await mod.default();
    await new Promise((r) => setTimeout(r, 500));
    return document.getElementById("app").outerHTML;
  }, `${portal.url}/site/pkg/web_ui.js`);
  assert.equal(started, `<div id="app"><p id="own">The host's app</p></div>`);
  assert.deepEqual(spa.problems, []);
});

test("components stay mounted with their handles collected, and go on unmount() or removal", { skip }, async () => {
  const page = await newPage(browser);
  await page.goto(pageUrl());
  await page.getByRole("heading", { name: machine.computerDnsName }).waitFor({ timeout: 30_000 });
  await page.getByTestId("embedded-manager").waitFor({ timeout: 30_000 });

  // The page kept only weak references: after forced GCs the handles are gone...
  const collected = await page.evaluate(async () => {
    for (let i = 0; i < 10; i++) {
      // eslint-disable-next-line no-undef
      gc();
      await new Promise((r) => setTimeout(r, 100));
    }
    return window.portal.handles.map((w) => w.deref() === undefined);
  });
  assert.deepEqual(collected, [true, true], "both handles were garbage-collected");
  await page.waitForTimeout(1_000);
  // ...and the components are still there and still work: add and remove a tag through the proxy.
  assert.equal(await page.evaluate(() => window.portal.mountedComponents()), 2);
  const tag = "e2e-portal";
  await page.getByRole("combobox", { name: "Add a tag" }).fill(tag);
  await page.getByTestId("add-tag-button").click();
  await page.getByTestId("notice").filter({ hasText: "Added" }).waitFor({ timeout: 30_000 });
  await eventually(async () => (await emu.get(`/_emulator/machines/${machine.id}`)).machineTags.includes(tag), "the emulator has the tag");
  await screenshot(page, "41-portal-after-gc-tag-added");
  await page.getByRole("button", { name: `Remove tag ${tag}` }).click();
  await eventually(async () => !(await emu.get(`/_emulator/machines/${machine.id}`)).machineTags.includes(tag), "the emulator lost the tag");

  // unmount(): a third component, mounted and removed through its handle.
  const unmounted = await page.evaluate(async (id) => {
    const slot = document.createElement("div");
    document.body.append(slot);
    const handle = await window.portal.mountEditor(slot, id);
    const during = { mounted: handle.mounted, count: window.portal.mountedComponents(), children: slot.shadowRoot.childElementCount };
    const twice = await window.portal.mountEditor(slot, id).then(() => "mounted twice", (e) => String(e.message ?? e));
    handle.unmount();
    handle.unmount(); // twice does nothing
    const after = { mounted: handle.mounted, count: window.portal.mountedComponents(), children: slot.shadowRoot.childElementCount };
    // The emptied element takes a new component.
    const again = await window.portal.mountEditor(slot, id);
    const remounted = { mounted: again.mounted, count: window.portal.mountedComponents() };
    again.unmount();
    return { during, twice, after, remounted };
  }, machine.id);
  assert.deepEqual(unmounted, {
    during: { mounted: true, count: 3, children: 1 },
    twice: "element: a component is already mounted in this element; call unmount() on its handle first",
    after: { mounted: false, count: 2, children: 0 },
    remounted: { mounted: true, count: 3 },
  });

  // Moving an element within one task keeps its component.
  const moved = await page.evaluate(async () => {
    const editor = document.getElementById("editor");
    const parent = editor.parentElement;
    document.body.append(editor);
    parent.append(editor);
    await new Promise((r) => setTimeout(r, 200));
    return { count: window.portal.mountedComponents(), children: editor.shadowRoot.childElementCount };
  });
  assert.deepEqual(moved, { count: 2, children: 1 });
  // Removing the element takes its component with it.
  await page.evaluate(() => document.getElementById("manager").remove());
  await page.waitForFunction(() => window.portal.mountedComponents() === 1, null, { timeout: 5_000 });
  assert.deepEqual(page.problems, []);
});

test("the manager lists more than 10,000 machines through the proxy", { skip }, async () => {
  const page = await newPage(browser);
  await page.goto(pageUrl());
  await page.getByTestId("embedded-manager").waitFor({ timeout: 30_000 });
  await page.getByRole("tab", { name: "Tag inventory" }).click();
  const summary = page.getByTestId("inventory-summary");
  await summary.waitFor({ timeout: 120_000 });
  const text = await summary.textContent();
  const m = /on ([\d,]+) machines/.exec(text);
  assert.ok(m, text);
  const listed = await apiListCount();
  assert.ok(listed > 10_000, `the API lists ${listed}`);
  assert.equal(Number(m[1].replaceAll(",", "")), listed, text);
  // Both pages came through the proxy (its log line per request), none was refused.
  const pages = portal.log().match(/GET \/api\/machines 200/g) ?? [];
  assert.ok(pages.length >= 2, portal.log());
  await screenshot(page, "42-portal-inventory");
  // Every call went to the proxy: its request log names the listing, and no call was refused.
  assert.doesNotMatch(portal.log(), /refused=/);
  assert.deepEqual(page.problems, []);
});

test("a proxy under a path of the portal: the client and the manager keep the prefix through every page", { skip }, async () => {
  const prefixed = `${portal.url}/defender/`;
  const page = await newPage(browser);
  await page.goto(`${portal.url}/?proxy=${encodeURIComponent(prefixed)}&machine=${machine.id}`);
  await page.getByTestId("embedded-manager").waitFor({ timeout: 30_000 });
  const listed = await apiListCount();
  assert.equal(await page.evaluate((url) => window.portal.listAll(url), prefixed), listed, "the client lists every machine");
  await page.getByRole("tab", { name: "Tag inventory" }).click();
  const summary = page.getByTestId("inventory-summary");
  await summary.waitFor({ timeout: 120_000 });
  const m = /on ([\d,]+) machines/.exec(await summary.textContent());
  assert.equal(Number(m?.[1].replaceAll(",", "")), listed);
  // Every page, the next-link ones included, went to /defender/api/...: nothing left the prefix.
  const lines = portal.log().split("\n").filter((l) => l.startsWith("defender: "));
  assert.ok(lines.filter((l) => /GET \/defender\/api\/machines 200$/.test(l)).length >= 4, lines.join("\n"));
  assert.deepEqual(lines.filter((l) => !/ 200$/.test(l)), []);
  assert.deepEqual(page.problems, []);
});

test("a proxy mounted under a path answers nothing outside it", { skip }, async () => {
  const { EdgeProxy } = createRequire(import.meta.url)(path.join(pkg, "proxy", "node", "defender_tags_proxy.cjs"));
  const proxy = new EdgeProxy({ apiBaseUrl: emu.url, publicUrl: "https://portal.contoso.com/defender" }, "handler");
  const headers = { authorization: "Bearer not-checked-before-the-path" };
  for (const outside of ["/api/machines", "/defender-x/api/machines", "/other/defender/api/machines"]) {
    const res = await proxy.handle(new Request(`https://portal.contoso.com${outside}`, { headers }));
    assert.equal(res.status, 404, outside);
    assert.equal((await res.json()).error.code, "PathRefused", outside);
  }
  // Below the path, the same request is routed (and reaches the emulator, which wants a real token).
  const inside = await proxy.handle(new Request("https://portal.contoso.com/defender/api/machines", { headers }));
  assert.equal(inside.status, 401);
});

test("axe finds no serious violations inside the shadow roots; focus and labels work there", { skip }, async () => {
  const page = await newPage(browser);
  await page.goto(pageUrl());
  await page.getByRole("heading", { name: machine.computerDnsName }).waitFor({ timeout: 30_000 });
  await page.getByTestId("embedded-manager").waitFor({ timeout: 30_000 });
  const result = await shadowA11y(page, ["#editor", "#manager"]);
  assert.deepEqual(result.violations, [], "axe: serious or critical violations in the components");
  assert.ok(result.checkedInShadow > 20, `axe checked ${result.checkedInShadow} nodes inside shadow roots`);
  // A label points at its own component's input (ids are scoped to the shadow root).
  await page.getByLabel("Add a tag").focus();
  const focused = await page.evaluate(() => {
    const root = document.querySelector("#editor").shadowRoot;
    return { host: document.activeElement?.id, inner: root.activeElement?.getAttribute("role") };
  });
  assert.deepEqual(focused, { host: "editor", inner: "combobox" });
  // The manager's tabs move focus with the arrow keys inside its shadow root.
  await page.getByRole("tab", { name: "Bulk change" }).focus();
  await page.keyboard.press("ArrowRight");
  assert.equal(await page.getByRole("tab", { name: "Tag inventory" }).getAttribute("aria-selected"), "true");
  const tabId = await page.evaluate(() => document.querySelector("#manager").shadowRoot.activeElement?.id);
  assert.match(tabId, /^dt\d+-dt-tab-inventory$/);
  await screenshot(page, "43-portal-keyboard");
  assert.deepEqual(page.problems, []);
});

test("a call refused by CORS fails in under a second with cors_refused", { skip }, async () => {
  const page = await newPage(browser);
  await page.goto(pageUrl("&manual=1"));
  await page.waitForFunction(() => window.portal?.probe);
  // Through the proxy the same call works (the control).
  const viaProxy = await page.evaluate((url) => window.portal.probe(url), portal.proxy);
  assert.equal(viaProxy.ok, true, JSON.stringify(viaProxy));
  // Straight to the emulator, which allows no cross-origin caller.
  const direct = await page.evaluate((url) => window.portal.probe(url), emu.url);
  assert.equal(direct.ok, false);
  assert.equal(direct.code, "cors_refused", JSON.stringify(direct));
  assert.ok(direct.ms < 1_000, `failed after ${direct.ms} ms`);
  assert.match(direct.message, /proxy/i, "the message points at the edge proxy");
});
