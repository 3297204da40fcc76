// The built package's DefenderClient under Node 20 against the emulator.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { loadPackage, startEmulator, reset, token, machineTags, apiCalls, admin } from "./emulator.mjs";

const { DefenderClient } = loadPackage();
let emu;

before(async () => {
  emu = await startEmulator();
});
after(async () => {
  await emu?.stop();
});
beforeEach(async () => {
  await reset(emu.url);
});

async function appClient(extra = {}) {
  const t = await token(emu.url, "app");
  const asked = [];
  const client = new DefenderClient({
    baseUrl: emu.url,
    getToken: async (request) => {
      asked.push(request);
      return t;
    },
    ...extra,
  });
  return { client, asked };
}

test("lists, pages, gets, finds and tags machines", async () => {
  const { client, asked } = await appClient();
  const first = await client.listMachines({ top: 4 });
  assert.equal(first.machines.length, 4);
  assert.equal(typeof first.cursor, "string");
  const second = await client.listMachines({ cursor: first.cursor });
  assert.equal(second.machines.length, 4);
  assert.ok(!second.machines.some((m) => first.machines.some((f) => f.id === m.id)));

  const all = await client.listAllMachines();
  const onePage = await client.listMachines({ top: 10000 });
  assert.ok(all.length > 200, "machines beyond retention are not listed, the rest are");
  assert.equal(all.length, onePage.machines.length);
  assert.equal(new Set(all.map((m) => m.id)).size, all.length);
  const m = await client.getMachine(first.machines[0].id);
  assert.equal(m.id, first.machines[0].id);
  assert.ok(Array.isArray(m.machineTags));

  const tag = `node-${Date.now()}`;
  const added = await client.addTag(m.id, tag);
  assert.ok(added.machineTags.includes(tag));
  assert.ok((await machineTags(emu.url, m.id)).includes(tag));
  const found = await client.findByTag(tag);
  assert.deepEqual(found.map((x) => x.id), [m.id]);
  const removed = await client.removeTag(m.id, tag);
  assert.ok(!removed.machineTags.includes(tag));
  assert.ok(!(await machineTags(emu.url, m.id)).includes(tag));

  assert.ok(asked.length >= 7, "a token request per API call");
  assert.ok(asked.every((r) => r.forceRefresh === false && Array.isArray(r.scopes)));
});

test("errors are DefenderError objects with code, status and machineId", async () => {
  const { client } = await appClient();
  const missing = "0".repeat(40);
  await assert.rejects(client.getMachine(missing), (e) => {
    assert.ok(e instanceof Error);
    assert.equal(e.name, "DefenderError");
    assert.equal(e.code, "not_found");
    assert.equal(e.status, 404);
    assert.equal(e.machineId, missing);
    return true;
  });
  const before = await apiCalls(emu.url);
  await assert.rejects(client.addTag(missing, " bad "), (e) => e.code === "invalid_input" && e.status === undefined);
  await assert.rejects(client.addTag("not-an-id", "ok"), (e) => e.code === "invalid_input" && e.machineId === "not-an-id");
  await assert.rejects(client.listMachines({ filter: "nonsense((" }), (e) => e.code === "invalid_input");
  assert.equal(await apiCalls(emu.url), before, "invalid input never reaches the API");

  assert.throws(() => new DefenderClient({ baseUrl: emu.url }), (e) => e.code === "invalid_input");
  assert.throws(() => new DefenderClient({ baseUrl: "ftp://x", getToken: () => "t" }), (e) => e.code === "invalid_input");

  const reader = new DefenderClient({ baseUrl: emu.url, getToken: () => token(emu.url, "reader") });
  const id = (await reader.listMachines({ top: 1 })).machines[0].id;
  await assert.rejects(reader.addTag(id, "x"), (e) => e.code === "forbidden" && e.status === 403 && e.machineId === id);
});

test("a 401 asks getToken once more with forceRefresh, then gives up with a typed error", async () => {
  const good = await token(emu.url, "app");
  const asked = [];
  const client = new DefenderClient({
    baseUrl: emu.url,
    getToken: ({ forceRefresh }) => {
      asked.push(forceRefresh);
      return forceRefresh ? good : "stale-token";
    },
  });
  assert.equal((await client.listMachines({ top: 1 })).machines.length, 1);
  assert.deepEqual(asked, [false, true]);

  const never = new DefenderClient({ baseUrl: emu.url, getToken: async () => "bogus-token" });
  await assert.rejects(never.listMachines({ top: 1 }), (e) => {
    assert.equal(e.code, "unauthorized");
    assert.equal(e.status, 401);
    assert.ok(!e.message.includes("bogus-token"));
    return true;
  });
  const failing = new DefenderClient({ baseUrl: emu.url, getToken: async () => { throw new Error("interaction_required"); } });
  await assert.rejects(failing.listMachines({ top: 1 }), (e) => e.code === "token_unavailable" && /interaction_required/.test(e.message));
});

test("fromMsal uses acquireTokenSilent with the account and scopes", async () => {
  const t = await token(emu.url, "app");
  const account = { homeAccountId: "h", username: "u@contoso.com" };
  const seen = [];
  const msal = {
    async acquireTokenSilent(request) {
      assert.equal(this, msal, "called as a method");
      seen.push(request);
      return { accessToken: t };
    },
  };
  const client = DefenderClient.fromMsal(msal, { account, scopes: ["api://x/.default"], baseUrl: emu.url });
  assert.equal((await client.listMachines({ top: 2 })).machines.length, 2);
  assert.equal(seen.length, 1);
  assert.equal(seen[0].account, account);
  assert.deepEqual(seen[0].scopes, ["api://x/.default"]);
  assert.equal(seen[0].forceRefresh, false);
  assert.throws(() => DefenderClient.fromMsal({}, { account }), (e) => e.code === "invalid_input");
});

test("runPlan reports progress and stops cleanly on AbortSignal", async () => {
  const { client } = await appClient();
  const machines = (await client.listMachines({ top: 6 })).machines;
  const tag = `node-bulk-${Date.now()}`;
  const plan = client.planBulk(tag, "Add", machines.map((m) => ({ id: m.id, tags: m.machineTags })));
  const summary = plan.summary();
  assert.equal(summary.toChange, 6);
  const events = [];
  const report = await client.runPlan(plan, { onProgress: (p) => events.push(p) });
  assert.equal(report.aborted, false);
  assert.equal(report.outcomes.filter((o) => o.status === "applied").length, 6);
  const last = events.at(-1);
  assert.equal(last.callsDone, last.callsTotal);
  assert.equal(last.machinesDone, 6);
  assert.equal(last.minuteLimit, 100);
  assert.equal(last.hourLimit, 1500);
  assert.ok(last.callsThisMinute >= 1);
  for (const m of machines) {
    assert.ok((await machineTags(emu.url, m.id)).includes(tag));
  }

  // Undo plan, aborted before it starts: nothing is sent, everything is notAttempted.
  const undo = plan.inverse();
  const controller = new AbortController();
  controller.abort();
  const callsBefore = await apiCalls(emu.url);
  const aborted = await client.runPlan(undo, { signal: controller.signal });
  assert.equal(aborted.aborted, true);
  assert.ok(aborted.outcomes.every((o) => o.status === "notAttempted"));
  assert.equal(await apiCalls(emu.url), callsBefore);

  // A throwing progress callback does not break the run.
  const done = await client.runPlan(undo, { onProgress: () => { throw new Error("ui bug"); } });
  assert.equal(done.outcomes.filter((o) => o.status === "applied").length, 6);
  for (const m of machines) {
    assert.ok(!(await machineTags(emu.url, m.id)).includes(tag));
  }
});

test("a 429 carries retryAfter when retries are exhausted", async () => {
  await admin(emu.url, "PUT", "/_emulator/faults", { throttle: 1.0, throttle_retry_after_secs: 1 });
  const { client } = await appClient({ timeScale: 10 });
  const started = Date.now();
  await assert.rejects(client.listMachines({ top: 1 }), (e) => e.code === "too_many_requests" && e.status === 429 && e.retryAfter === 1);
  assert.ok(Date.now() - started >= 90 * 4, "waited Retry-After (scaled) between attempts");
});
