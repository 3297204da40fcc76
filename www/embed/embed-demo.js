// Shared by manager.html and editor.html: the "portal" side of the embedding demo.
//
// Query parameters: api (the API origin; default this page's origin, i.e. the emulator),
// tokenUrl (the portal's token endpoint; default the emulator's dev endpoint at `api`),
// persona (app, analyst, reader, admin; default admin), machine (editor), timeScale (emulator).
// A real portal passes its own session's token callback instead of `demoGetToken`.
const params = new URLSearchParams(location.search);
export const api = params.get("api") || location.origin;
const tokenUrl = params.get("tokenUrl") || new URL("/_emulator/token", api).href;
const persona = params.get("persona") || "admin";
export const timeScale = params.has("timeScale") ? Number(params.get("timeScale")) : undefined;
export const machineParam = params.get("machine");

/** The portal's token callback: called before every API request; the result is not kept. */
export async function demoGetToken({ scopes, forceRefresh } = {}) {
  const res = await fetch(tokenUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ persona }),
  });
  if (!res.ok) throw new Error(`the portal's token endpoint answered ${res.status}`);
  return (await res.json()).access_token;
}

export function say(text, isError = false) {
  const status = document.getElementById("status");
  status.textContent = text;
  status.className = isError ? "error-text" : "muted";
}

/** Keeps the page's own query (api, tokenUrl, persona...) on the links between the demo pages. */
export function carryQuery() {
  for (const a of document.querySelectorAll("a[data-keep-query]")) {
    const url = new URL(a.getAttribute("href"), location.href);
    for (const [k, v] of params) if (k !== "machine") url.searchParams.set(k, v);
    a.href = url.pathname + url.search;
  }
}
