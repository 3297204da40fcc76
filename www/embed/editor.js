// Hosts one machine's tag editor in #editor (the machine from ?machine=, else the first listed).
import init, { mountTagEditor } from "../ui/defender_tags_ui.js";
import { api, carryQuery, demoGetToken, machineParam, say, timeScale } from "./embed-demo.js";

async function firstMachine() {
  const token = await demoGetToken();
  const res = await fetch(new URL("/api/machines?$top=1", api), { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`listing machines answered ${res.status}`);
  const body = await res.json();
  if (!body.value?.length) throw new Error("the tenant has no machines");
  return body.value[0].id;
}

carryQuery();
try {
  await init();
  const machineId = machineParam || (await firstMachine());
  document.getElementById("machine-id").textContent = machineId;
  await mountTagEditor(document.getElementById("editor"), { baseUrl: api, getToken: demoGetToken, machineId, timeScale });
  say(`Connected to ${api}.`);
} catch (e) {
  say(`Could not start the tag editor: ${e.message ?? e}`, true);
}
