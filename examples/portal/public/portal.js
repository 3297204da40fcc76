// The portal's script: loads the embed entry, mounts the editor and the manager, and keeps no
// handle (the components stay until unmounted or removed; the tests check that with forced GCs).
// Query: proxy (the edge proxy's origin, required), machine (the editor's machine id),
// manual=1 (wait for window.portal.start(); the tests measure the page first), persona.
import init, { mountTagEditor, mountTagManager, mountedComponents } from "/vendor/defender-tags/ui/defender_tags_ui.js";
import initClient, { DefenderClient, isDefenderError } from "/vendor/defender-tags/web/defender_tags.js";

const params = new URLSearchParams(location.search);
const baseUrl = params.get("proxy");
const persona = params.get("persona") || "admin";

/** The portal's token callback: its own back end mints the token; nothing is kept here. */
async function getToken() {
  const res = await fetch("/portal/token", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ persona }),
  });
  if (!res.ok) throw new Error(`the portal's token endpoint answered ${res.status}`);
  return (await res.json()).access_token;
}

function say(text) {
  document.getElementById("status").textContent = text;
}

async function start() {
  await init();
  const options = { baseUrl, getToken, timeScale: 60 };
  const editor = await mountTagEditor(document.getElementById("editor"), { ...options, machineId: params.get("machine") });
  const manager = await mountTagManager(document.getElementById("manager"), options);
  // Weak references only, so a test can see the handles were collected.
  window.portal.handles = [new WeakRef(editor), new WeakRef(manager)];
  say(`Connected through ${baseUrl}.`);
}

/** Mounts one more editor into `element` and returns its handle (the lifecycle tests). */
async function mountEditor(element, machineId) {
  await init();
  return mountTagEditor(element, { baseUrl, getToken, timeScale: 60, machineId });
}

/** Lists one machine from `url` with the client package; resolves to { code, ms } or { ok }. */
async function probe(url) {
  await initClient();
  const client = new DefenderClient({ baseUrl: url, getToken });
  const t0 = performance.now();
  try {
    await client.listMachines({ top: 1 });
    return { ok: true, ms: performance.now() - t0 };
  } catch (e) {
    return { ok: false, ms: performance.now() - t0, code: isDefenderError(e) ? e.code : `not a DefenderError: ${e}`, message: String(e.message ?? e) };
  }
}

/** Lists every machine from `url` with the client package (following next-page links). */
async function listAll(url) {
  await initClient();
  const client = new DefenderClient({ baseUrl: url, getToken, timeScale: 60 });
  return (await client.listAllMachines()).length;
}

window.portal = { start, mountEditor, probe, listAll, mountedComponents, handles: [] };
if (params.get("manual") !== "1") {
  start().catch((e) => say(`Could not load the Defender tags: ${e.message ?? e}`));
}
