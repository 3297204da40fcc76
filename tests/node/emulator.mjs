// Helpers of the Node suite (package and edge proxy) on top of tests/lib/harness.mjs.

export { requireEnv, loadPackage, loadFull, loadProxy, admin, apiCalls } from "../lib/harness.mjs";
import { admin, startEmulator as start } from "../lib/harness.mjs";

/** The portal origin the proxy tests allow (proxy.test.mjs). */
export const PORTAL = "https://portal.contoso.com";

/** A small seeded tenant that allows the portal's origin (never '*'). */
export const startEmulator = (extraArgs = []) =>
  start(["--machines", "300", "--seed", "11", "--cors-origin", PORTAL, ...extraArgs]);

export const reset = async (base) => {
  await admin(base, "POST", "/_emulator/reset");
  await admin(base, "PUT", "/_emulator/faults", {});
};
export const token = async (base, persona) => (await admin(base, "POST", "/_emulator/token", { persona })).access_token;
export const machineTags = async (base, id) => (await admin(base, "GET", `/_emulator/machines/${id}`)).machineTags ?? [];
