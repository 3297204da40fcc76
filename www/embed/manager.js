// Hosts the whole tag manager (bulk change, inventory, machine tags, activity) in #manager.
import init, { mountTagManager } from "../ui/defender_tags_ui.js";
import { api, carryQuery, demoGetToken, say, timeScale } from "./embed-demo.js";

carryQuery();
try {
  await init();
  await mountTagManager(document.getElementById("manager"), { baseUrl: api, getToken: demoGetToken, timeScale });
  say(`Connected to ${api}.`);
} catch (e) {
  say(`Could not start the tag manager: ${e.message ?? e}`, true);
}
