// The bare-client embedding example (index.html): a portal page driving DefenderClient with
// its own token callback. A module file rather than an inline script, for the CSP.
// The package's `web` build (cargo xtask package copies it next to this page as ./pkg/).
import init, { DefenderClient } from "./pkg/defender_tags.js";

await init();

// The portal's own token source. In a real portal this is its session (MSAL, a BFF...);
// this demo asks the emulator's dev identity provider, which it serves on the same origin.
// The client calls it before every request and never keeps the token.
async function getToken({ scopes, forceRefresh }) {
  const res = await fetch("/_emulator/token", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ persona: "app" }),
  });
  if (!res.ok) throw new Error(`portal session unavailable (${res.status})`);
  return (await res.json()).access_token;
}

const client = new DefenderClient({ baseUrl: location.origin, getToken });
const $ = (id) => document.getElementById(id);
let machines = [];
let cursor;
let running;

const say = (text, isError = false) => {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
};
const explain = (e) => `${e.message}${e.code ? ` [${e.code}${e.status ? ` ${e.status}` : ""}]` : ""}`;

function render() {
  $("rows").replaceChildren(...machines.map((m) => {
    const tr = document.createElement("tr");
    const tags = m.machineTags.map((t) => {
      const span = document.createElement("span");
      span.className = "tag";
      span.textContent = t;
      const x = document.createElement("button");
      x.textContent = "×";
      x.setAttribute("aria-label", `Remove ${t} from ${m.computerDnsName ?? m.id}`);
      x.onclick = () => update(m, () => client.removeTag(m.id, t));
      span.append(" ", x);
      return span;
    });
    tr.innerHTML = `<td><input type="checkbox" data-id="${m.id}"></td><td></td><td></td><td></td>`;
    tr.children[0].firstChild.setAttribute("aria-label", `Select ${m.computerDnsName ?? m.id}`);
    tr.children[1].textContent = m.computerDnsName ?? m.id;
    tr.children[2].textContent = m.healthStatus ?? "";
    tr.children[3].append(...tags);
    return tr;
  }));
  $("more").hidden = !cursor;
}

async function update(machine, op) {
  try {
    const fresh = await op();
    machines = machines.map((m) => (m.id === fresh.id ? fresh : m));
    render();
    say(`Updated ${fresh.computerDnsName ?? fresh.id}`);
  } catch (e) {
    say(explain(e), true);
  }
}

async function search(next) {
  try {
    say("Loading…");
    const tag = $("tag-search").value.trim();
    if (tag && !next) {
      machines = await client.findByTag(tag, true);
      cursor = undefined;
    } else {
      const filter = $("filter").value.trim() || undefined;
      const page = await client.listMachines(next ? { cursor: next } : { filter, top: 50 });
      machines = next ? machines.concat(page.machines) : page.machines;
      cursor = page.cursor;
    }
    render();
    say(`${machines.length} machines`);
  } catch (e) {
    say(explain(e), true);
  }
}

$("search").onsubmit = (ev) => { ev.preventDefault(); search(); };
$("more").onclick = () => search(cursor);
$("all").onchange = (ev) => document.querySelectorAll("#rows input[type=checkbox]").forEach((c) => { c.checked = ev.target.checked; });

$("bulk").onsubmit = async (ev) => {
  ev.preventDefault();
  const selected = new Set([...document.querySelectorAll("#rows input:checked")].map((c) => c.dataset.id));
  const chosen = machines.filter((m) => selected.has(m.id));
  if (!chosen.length) return say("Select machines first", true);
  let plan;
  try {
    plan = client.planBulk($("bulk-tag").value, $("bulk-action").value, chosen.map((m) => ({ id: m.id, tags: m.machineTags })));
  } catch (e) {
    return say(explain(e), true);
  }
  const s = plan.summary();
  say(`${s.toChange} to change, ${s.alreadyInPlace} already done, ${s.calls} API call(s)`);
  running = new AbortController();
  $("cancel").disabled = false;
  const report = await client.runPlan(plan, {
    signal: running.signal,
    onProgress: (p) => {
      $("progress").max = Math.max(1, p.callsTotal);
      $("progress").value = p.callsDone;
      const eta = p.etaMs == null ? "" : `, about ${Math.ceil(p.etaMs / 1000)} s left`;
      $("budget").textContent = `${p.callsDone}/${p.callsTotal} calls, ${p.machinesDone}/${p.machinesTotal} machines; ` +
        `rate budget ${p.callsThisMinute}/${p.minuteLimit} this minute, ${p.callsThisHour}/${p.hourLimit} this hour${eta}`;
    },
  });
  $("cancel").disabled = true;
  await search();
  const count = (st) => report.outcomes.filter((o) => o.status === st).length;
  say(`${report.aborted ? "Cancelled: " : ""}${count("applied")} applied, ${count("alreadyInPlace")} already in place, ` +
    `${count("failed")} failed, ${count("unknown")} unknown, ${count("notAttempted")} not attempted`,
    count("failed") + count("unknown") > 0);
};
$("cancel").onclick = () => running?.abort();

search();
