// Loads the wasm app (wasm-bindgen `--target web` output in pkg/). A module script (deferred, in
// document order after auth.js), because the CSP forbids inline scripts.
import init from "./pkg/web_ui.js";

init().catch((e) => {
  const app = document.getElementById("app");
  if (app) {
    const p = document.createElement("p");
    p.className = "boot-message error-text";
    p.textContent = "Defender Tags could not start: " + (e && e.message ? e.message : String(e));
    app.replaceChildren(p);
  }
});
