// Fault soak: the real client package (Node 20 + wasm) drives bulk tag runs against the emulator
// while ~20% of API replies are injected faults (429, 500, 503, slow, dropped connection; some of
// them struck after the change was applied) and
// the cached token expires mid-run. After every run the report must tell the truth machine by
// machine, and once the unfinished machines are resumed the emulator's state must equal the plan
// exactly (every machine, every tag). Then a run is cancelled midway and undone: the prior tags
// come back exactly.
//
// Size: DT_SOAK_MACHINES (default 2000, what `cargo xtask test` runs; `cargo xtask bench` runs
// 10000). The rate windows run 600x faster (--time-scale) so the limits are exercised quickly.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { loadPackage, startEmulator, admin, mintToken, allTags, statsTotals, prng, writeOutput } from "./lib.mjs";

const N = Number(process.env.DT_SOAK_MACHINES ?? 2000);
const SCALE = 600;
const ROUNDS = Number(process.env.DT_SOAK_ROUNDS ?? (N <= 2000 ? 40 : 12));
const MAX_RESUMES = 4;
const TAGS = ["soak-alpha", "soak-beta", "Soak Gamma (EU)"];
// Exclusive outcomes sum to 0.19; slow replies (0.03 + 0.03, independent) push the affected share
// to ~0.24. Slow replies (1.2 s) outlast the client's 1 s timeout: the call may have applied, the
// client cannot know, and must retry safely. The `_after` faults apply the change and then lose
// the answer (500/503, a dropped connection, a reply after the timeout): a report that trusted
// only the last attempt's answer would call such a change "failed" (checkReport catches that).
const FAULTS = {
  seed: 20261129,
  throttle: 0.04,
  throttle_retry_after_secs: 2,
  error500: 0.02,
  error503: 0.02,
  drop: 0.02,
  slow: 0.03,
  slow_ms: 1200,
  error500_after: 0.03,
  error503_after: 0.03,
  drop_after: 0.03,
  slow_after: 0.03,
  slow_after_ms: 1200,
};
const TIMEOUT_MS = 1000;

const { DefenderClient } = loadPackage();

/** Requests the emulator processed and then failed or delayed the answer of (every endpoint). */
async function faultedAfterProcessing(base) {
  const s = await admin(base, "GET", "/_emulator/stats");
  return Object.values(s.endpoints ?? {}).reduce((n, e) => n + (e.faulted_after_processing ?? 0), 0);
}
let emu;
const totals = { runs: 0, resumes: 0, reportedUnknown: 0, reportedFailed: 0, notAttempted: 0, forcedExpiries: 0, refreshes: 0, tokens: 0 };
const started = Date.now();
let statsAtStart = null;

before(async () => {
  emu = await startEmulator(["--machines", String(N), "--seed", "5", "--time-scale", String(SCALE)]);
});
after(async () => {
  await emu?.stop();
});

/**
 * A token provider like an app's: it caches a token and mints a new one only when asked to
 * refresh. `expireNow()` swaps the cached token for one that has already expired (what happens
 * when a long run outlives its token).
 */
async function tokenProvider() {
  let cached = null;
  const expired = await mintToken(emu.url, { ttl_secs: -120 });
  return {
    async getToken({ forceRefresh }) {
      if (!cached || forceRefresh) {
        if (forceRefresh) totals.refreshes += 1;
        totals.tokens += 1;
        cached = await mintToken(emu.url, { ttl_secs: 3600 });
      }
      return cached;
    },
    expireNow() {
      cached = expired;
      totals.forcedExpiries += 1;
    },
  };
}

function newClient(tokens) {
  return new DefenderClient({
    baseUrl: emu.url,
    getToken: (req) => tokens.getToken(req),
    timeScale: SCALE,
    timeoutMs: TIMEOUT_MS,
  });
}

/**
 * Machines the API will not tag: beyond the retention period (the API hides them from listings
 * and skips them in bulk calls). They arrive in real plans through imported id lists.
 */
let stale = new Set();

const applyTag = (tags, tag, action) =>
  action === "Add" ? (tags.includes(tag) ? tags : [...tags, tag]) : tags.filter((t) => t !== tag);
const inDesiredState = (tags, tag, action) => (action === "Add" ? tags.includes(tag) : !tags.includes(tag));

/**
 * Checks one run's report against the emulator, machine by machine, and returns the machines
 * that still need the change. `before` is the state before the run (Map id -> tags), `after` the
 * state now. Throws on any untruthful line.
 */
function checkReport(report, { tag, action, targets, before: prior, after: now }) {
  assert.equal(report.tag, tag);
  assert.equal(report.action, action);
  const lines = new Map(report.outcomes.map((o) => [o.machine, o]));
  assert.equal(lines.size, report.outcomes.length, "one report line per machine");
  assert.deepEqual([...lines.keys()].sort(), [...targets].sort(), "the report covers exactly the planned machines");
  const pending = [];
  for (const [id, line] of lines) {
    const was = prior.get(id);
    const is = now.get(id);
    const where = `${id} (${line.status}${line.error ? `: ${line.error.code}` : ""})`;
    if (stale.has(id) && !inDesiredState(was, tag, action)) {
      // The API skips it: the report must say so, and nothing may change.
      assert.ok(["skipped", "failed", "notAttempted", "unknown"].includes(line.status), `${where}: the API skipped this machine (beyond retention) but the report says otherwise`);
      assert.deepEqual(is, was, `${where} changed although it is beyond retention`);
      continue;
    }
    switch (line.status) {
      case "applied":
        assert.ok(inDesiredState(is, tag, action), `${where} reported applied but the emulator disagrees`);
        assert.deepEqual(is, applyTag(was, tag, action), `${where}: only the planned tag changed`);
        break;
      case "alreadyInPlace":
        assert.ok(inDesiredState(was, tag, action), `${where} was not in place before the run`);
        assert.deepEqual(is, was, `${where} changed although nothing was sent`);
        break;
      case "failed":
      case "notAttempted":
      case "skipped":
        assert.deepEqual(is, was, `${where} changed although the report says it was not`);
        if (!inDesiredState(is, tag, action)) pending.push(id);
        if (line.status === "failed") totals.reportedFailed += 1;
        if (line.status === "notAttempted") totals.notAttempted += 1;
        break;
      case "unknown":
        // May or may not have applied: either the old tags or exactly the planned change.
        assert.ok(
          JSON.stringify(is) === JSON.stringify(was) || JSON.stringify(is) === JSON.stringify(applyTag(was, tag, action)),
          `${where}: neither the prior tags nor the planned change`,
        );
        totals.reportedUnknown += 1;
        if (!inDesiredState(is, tag, action)) pending.push(id);
        break;
      default:
        assert.fail(`${where}: unexpected status`);
    }
  }
  for (const [id, tags] of now) {
    if (!lines.has(id)) assert.deepEqual(tags, prior.get(id), `${id} was not in the plan but changed`);
  }
  return pending;
}

/**
 * Runs `action tag` on `entries` ({ id, tags|null }) and resumes the machines the report did not
 * finish until the emulator holds the plan. `hooks.plan` replaces the first plan (it must cover
 * the same machines); `hooks.onProgress(progress, controller)` may abort.
 * Returns the first run's report and the final state.
 */
async function runToCompletion(client, tokens, tag, action, entries, hooks = {}) {
  const targets = [...new Set(entries.map((e) => e.id))];
  let state = await allTags(emu.url);
  let todo = entries;
  let first = null;
  for (let attempt = 0; attempt <= MAX_RESUMES; attempt += 1) {
    const plan = attempt === 0 && hooks.plan ? hooks.plan : client.planBulk(tag, action, todo);
    const summary = plan.summary();
    const controller = new AbortController();
    let expiredThisRun = false;
    const report = await client.runPlan(plan, {
      signal: controller.signal,
      onProgress: (p) => {
        // Mid-run token expiry: half-way through the calls, the cached token dies.
        if (!expiredThisRun && p.callsTotal >= 2 && p.callsDone === Math.floor(p.callsTotal / 2)) {
          expiredThisRun = true;
          tokens.expireNow();
        }
        hooks.onProgress?.(p, controller, attempt);
      },
    });
    totals.runs += 1;
    if (attempt > 0) totals.resumes += 1;
    assert.equal(report.callsPlanned, summary.calls ?? report.callsPlanned);
    const now = await allTags(emu.url);
    const runTargets = [...new Set(todo.map((e) => e.id))];
    const pending = checkReport(report, { tag, action, targets: runTargets, before: state, after: now });
    first ??= { report, before: state, after: now };
    state = now;
    if (report.aborted) return { first, state };
    if (pending.length === 0) break;
    assert.ok(attempt < MAX_RESUMES, `still ${pending.length} machines pending after ${MAX_RESUMES} resumes`);
    todo = pending.map((id) => ({ id, tags: state.get(id) }));
  }
  for (const id of targets) {
    if (stale.has(id)) continue;
    assert.ok(inDesiredState(state.get(id), tag, action), `${id} does not hold the plan at the end`);
  }
  return { first, state };
}

test(`bulk runs under ~20% injected faults and token expiry land the plan exactly (${N} machines)`, { timeout: 900_000 }, async () => {
  const rng = prng(7 + N);
  let model = await allTags(emu.url);
  assert.equal(model.size, N);
  const ids = [...model.keys()];
  const tokens = await tokenProvider();
  const client = newClient(tokens);
  // What the API lists is what it lets us tag; the rest is beyond retention.
  const visible = new Set((await client.listAllMachines()).map((m) => m.id));
  stale = new Set(ids.filter((id) => !visible.has(id)));
  assert.ok(stale.size > 0 && stale.size < N / 10, `some machines are beyond retention (${stale.size})`);
  totals.staleMachines = stale.size;
  await admin(emu.url, "PUT", "/_emulator/faults", FAULTS);
  const statsBefore = await statsTotals(emu.url);
  statsAtStart = statsBefore;

  for (let round = 0; round < ROUNDS; round += 1) {
    const tag = rng.pick(TAGS);
    const action = round % 3 === 2 ? "Remove" : "Add";
    // Every third round a small run (single-machine calls and short bulk calls), else a big one.
    const size = round % 3 === 1 ? 1 + rng.below(Math.min(40, N)) : Math.ceil(N / 4) + rng.below(Math.ceil((3 * N) / 4));
    const chosen = rng.shuffle(ids).slice(0, size);
    // Most machines come with their current tags (planned precisely); some without (sent
    // anyway); a few are listed twice (merged by the planner).
    const entries = chosen.map((id) => ({ id, tags: rng.chance(0.7) ? model.get(id) : null }));
    for (let i = 0; i < 3 && entries.length > 3; i += 1) entries.push({ id: rng.pick(chosen), tags: null });

    const expected = new Map(model);
    for (const id of chosen) if (!stale.has(id)) expected.set(id, applyTag(model.get(id), tag, action));

    const { first, state } = await runToCompletion(client, tokens, tag, action, entries);
    // The first report's settled lines are what the emulator holds.
    for (const o of first.report.outcomes) {
      if (o.status === "alreadyInPlace") assert.ok(inDesiredState(model.get(o.machine), tag, action));
    }
    // The whole tenant equals the plan: planned machines changed exactly, nothing else moved.
    for (const id of ids) {
      assert.deepEqual(state.get(id), expected.get(id), `round ${round}: ${id} differs from the plan`);
    }
    model = state;
  }

  const s = await statsTotals(emu.url);
  const faultedAfter = await faultedAfterProcessing(emu.url);
  assert.ok(faultedAfter > 0, "some changes were applied and then their answer failed");
  totals.faultedAfterProcessing = faultedAfter;
  const faults = {
    calls: s.calls - statsBefore.calls,
    throttled: s.throttled - statsBefore.throttled,
    server_errors: s.server_errors - statsBefore.server_errors,
    dropped: s.dropped - statsBefore.dropped,
    client_errors: s.client_errors - statsBefore.client_errors,
  };
  // The faults really happened, and the token really expired mid-run and was refreshed.
  assert.ok(faults.throttled > 0, "some 429s were injected");
  assert.ok(faults.server_errors > 0, "some 5xx were injected");
  assert.ok(faults.dropped > 0, "some connections were dropped");
  assert.ok(faults.client_errors > 0, "expired tokens were refused (401)");
  assert.ok(totals.forcedExpiries > 0 && totals.refreshes >= 1, "the client asked for a fresh token after a 401");
  const share = (faults.throttled + faults.server_errors + faults.dropped) / faults.calls;
  totals.faults = faults;
  totals.faultShare = share;
  console.log(`soak (${N} machines, ${ROUNDS} rounds): ${JSON.stringify(totals)}`);
});

test(`a run cancelled midway is undone exactly (${N} machines)`, { timeout: 900_000 }, async () => {
  await admin(emu.url, "PUT", "/_emulator/faults", { ...FAULTS, seed: FAULTS.seed + 1 });
  const tokens = await tokenProvider();
  const client = newClient(tokens);
  const tag = "soak-cancel";
  let state = await allTags(emu.url);
  const ids = [...state.keys()];
  // Some machines already carry the tag: undo must leave them alone.
  const preset = ids.filter((id, i) => i % 10 === 3 && !stale.has(id));
  ({ state } = await runToCompletion(client, tokens, tag, "Add", preset.map((id) => ({ id, tags: state.get(id) }))));
  const prior = state;

  let abortedAt = null;
  const entries = ids.map((id) => ({ id, tags: prior.get(id) }));
  const plan = client.planBulk(tag, "Add", entries);
  const { first } = await runToCompletion(
    client,
    tokens,
    tag,
    "Add",
    entries,
    {
      plan,
      onProgress: (p, controller) => {
        if (abortedAt === null && p.callsTotal >= 2 && p.callsDone >= Math.ceil(p.callsTotal / 2)) {
          abortedAt = p.callsDone;
          controller.abort();
        }
      },
    },
  );
  const report = first.report;
  assert.equal(report.aborted, true, "the run reports it was cancelled");
  assert.ok(abortedAt !== null);
  assert.ok(report.callsMade < report.callsPlanned, `cancelled midway: ${report.callsMade} of ${report.callsPlanned} calls`);
  const counts = {};
  for (const o of report.outcomes) counts[o.status] = (counts[o.status] ?? 0) + 1;
  assert.ok((counts.notAttempted ?? 0) > 0, `machines after the cancel are not attempted: ${JSON.stringify(counts)}`);
  assert.ok((counts.applied ?? 0) > 0, `machines before the cancel were applied: ${JSON.stringify(counts)}`);
  assert.equal(counts.alreadyInPlace ?? 0, preset.length);

  // Undo what may have changed (applied, and unknown: sent, answer lost) with the plan's
  // inverse for exactly those machines, as the UI's undo does.
  const touched = report.outcomes.filter((o) => o.status === "applied" || o.status === "unknown").map((o) => o.machine);
  const undo = plan.inverseFor(touched);
  assert.equal(undo.action, "Remove");
  assert.deepEqual([...undo.machineIds()].sort(), [...touched].sort(), "the undo touches exactly the changed machines");
  const afterCancel = await allTags(emu.url);
  const { state: restored } = await runToCompletion(
    client,
    tokens,
    tag,
    "Remove",
    touched.map((id) => ({ id, tags: afterCancel.get(id) })),
    { plan: undo },
  );
  for (const id of ids) {
    assert.deepEqual(restored.get(id), prior.get(id), `${id}: prior tags are back exactly`);
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  totals.cancel = { abortedAfterCalls: abortedAt, callsMade: report.callsMade, callsPlanned: report.callsPlanned, counts, undone: touched.length };
  writeOutput(
    `soak-${N}.json`,
    JSON.stringify({ machines: N, rounds: ROUNDS, seconds: Number(seconds), faultConfig: FAULTS, ...totals }, null, 2),
  );
  // The table covers the whole suite (both tests).
  const end = await statsTotals(emu.url);
  const f = Object.fromEntries(Object.keys(end).map((k) => [k, end[k] - (statsAtStart?.[k] ?? 0)]));
  const share = (f.throttled + f.server_errors + f.dropped) / f.calls;
  writeOutput(
    `soak-${N}.md`,
    [
      "| Machines | Bulk runs (incl. resumes) | API calls | Injected 429 / 5xx / dropped | Fault share | 401s (expired token) | Token refreshes | Lines reported unknown / failed | Resumed runs | Cancel: calls made of planned | Undone machines | Suite time |",
      "|---:|---:|---:|---|---:|---:|---:|---|---:|---|---:|---:|",
      `| ${N.toLocaleString("en-US")} | ${totals.runs} | ${f.calls ?? "n/a"} | ${f.throttled ?? "n/a"} / ${f.server_errors ?? "n/a"} / ${f.dropped ?? "n/a"} | ${(share * 100).toFixed(1)}% (+ slow replies) | ${f.client_errors ?? "n/a"} | ${totals.refreshes} | ${totals.reportedUnknown} / ${totals.reportedFailed} | ${totals.resumes} | ${report.callsMade} of ${report.callsPlanned} | ${touched.length} | ${seconds} s |`,
      "",
    ].join("\n"),
  );
  console.log(`soak cancel+undo (${N} machines): ${JSON.stringify(totals.cancel)}; whole suite ${seconds} s`);
});
