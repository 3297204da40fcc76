// A copy of the built site ($DT_SITE_DIR) with its own config.json and the Content-Security-Policy
// a `cargo xtask dist` build of that config would carry (connect-src widened to the given
// origins), for tests that point the page at a second API origin. Removed by `remove()`.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { siteDir } from "./emulator.mjs";

export function customSite({ config = {}, connectSrc = [] } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), "dt-site-"));
  cpSync(siteDir(), dir, { recursive: true });
  writeFileSync(path.join(dir, "config.json"), typeof config === "string" ? config : JSON.stringify(config, null, 2));
  if (connectSrc.length) {
    const index = path.join(dir, "index.html");
    const html = readFileSync(index, "utf8");
    const widened = html.replace(/connect-src 'self'/, `connect-src 'self' ${connectSrc.join(" ")}`);
    if (widened === html) throw new Error("index.html has no connect-src 'self' to widen");
    writeFileSync(index, widened);
  }
  return {
    dir,
    /** Replaces config.json (the emulator reads it per request, so a running one serves the new file). */
    writeConfig: (next) => writeFileSync(path.join(dir, "config.json"), JSON.stringify(next, null, 2)),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
