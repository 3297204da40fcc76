// Bulk tagging against the release emulator with the documented rate limits (100 calls/min and
// 1,500 calls/h per app and endpoint) on a scaled clock, side by side in one run:
//   ours         the built npm package's DefenderClient (wasm in Node 20), planBulk + runPlan,
//                its limiter on the emulator's time scale;
//   naive bulk   batches of 500 sent back to back, a fixed 60 s sleep after a 429 (what a
//                published third-party script does), no Retry-After, no budget;
//   naive single one POST /machines/{id}/tags per machine with a fixed 500 ms sleep, a fixed
//                60 s sleep after a 429 (the common loop-with-sleep scripts).
// The physical limit is ceil(N/500) calls scheduled as early as the windows allow, each taking
// the emulator's measured service time for a 500-id bulk call, on the same scaled clock.
//
// Writes bench-tagging.md and bench-tagging.json to DT_OUTPUT.
import {
  loadPackage, startEmulator, appToken, endpointStats, tagCallsBetween, sleep, median,
  writeOutput, ratio, fmt, int, verdict,
} from "./lib.mjs";

const SIZES = (process.env.DT_BENCH_SIZES ?? "1000,10000,100000").split(",").map(Number);
const SINGLE_SIZES = (process.env.DT_BENCH_SINGLE_SIZES ?? "1000,2000").split(",").map(Number);
// A minute lasts 10 s for the bulk clients: the wait at 100k (200 calls) dominates the run
// while the whole comparison takes about a minute.
const SCALE_BULK = Number(process.env.DT_BENCH_SCALE_BULK ?? 6);
// A minute lasts 1 s for the per-machine client (an hour lasts 60 s): its 500 ms sleep is 8.3 ms
// real, still 5x the emulator's ~1.5 ms per single call.
const SCALE_SINGLE = Number(process.env.DT_BENCH_SCALE_SINGLE ?? 60);
const PER_MINUTE = 100;
const PER_HOUR = 1500;
const BULK = 500;
const NAIVE_SLEEP_MS = 500; // emulated
const NAIVE_BACKOFF_MS = 60_000; // emulated

const { DefenderClient } = loadPackage();

/** Earliest finish of `calls` sequential calls of `serviceMs` each under both rolling windows. */
export function limitMs(calls, serviceMs, scale) {
  const minute = 60_000 / scale;
  const hour = 3_600_000 / scale;
  const starts = [];
  let end = 0;
  for (let k = 0; k < calls; k += 1) {
    let start = end;
    if (k >= PER_MINUTE) start = Math.max(start, starts[k - PER_MINUTE] + minute);
    if (k >= PER_HOUR) start = Math.max(start, starts[k - PER_HOUR] + hour);
    starts.push(start);
    end = start + serviceMs;
  }
  return end;
}

/**
 * Ids the API lets us tag, in dataset order: what it lists (machines beyond the retention period
 * are neither listed nor tagged, and bulk calls skip them).
 */
async function taggableIds(base) {
  const token = await appToken(base, "bench-listing");
  const ids = [];
  for (let skip = 0; ; skip += 10_000) {
    const res = await fetch(`${base}/api/machines?$top=10000&$skip=${skip}&$select=id`, { headers: { authorization: `Bearer ${token}` } });
    if (res.status === 404) break;
    if (!res.ok) throw new Error(`listing machines: ${res.status}`);
    const page = (await res.json()).value;
    for (const m of page) ids.push(m.id);
    if (page.length < 10_000) break;
  }
  return ids;
}

async function post(base, token, route, body) {
  const res = await fetch(`${base}${route}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

/**
 * Real time of one 500-id bulk call on an idle bucket (the service time of the limit): the
 * median of 20 raw calls after 5 unmeasured ones.
 */
async function calibrate(base, ids) {
  const token = await appToken(base, "bench-calibration");
  const times = [];
  for (let k = 0; k < 25; k += 1) {
    const batch = ids.slice(k * BULK, (k + 1) * BULK);
    const t0 = performance.now();
    const status = await post(base, token, "/api/machines/AddOrRemoveTagForMultipleMachines", { Value: "bench-calibration", Action: "Add", MachineIds: batch });
    if (k >= 5) times.push(performance.now() - t0);
    if (status !== 200) throw new Error(`calibration call answered ${status}`);
  }
  return median(times);
}

async function measure(base, fn) {
  const before = await endpointStats(base);
  const t0 = performance.now();
  const extra = await fn();
  const wallMs = performance.now() - t0;
  const after = await endpointStats(base);
  return { wallMs, ...tagCallsBetween(before, after), ...extra };
}

/**
 * One small run before the measured ones, on its own app id (own rate windows): V8 compiles the
 * wasm module lazily, and a portal page would have a warm client by the time someone tags.
 */
async function warmUp(base, ids) {
  const token = await appToken(base, "bench-warm-up");
  const client = new DefenderClient({ baseUrl: base, getToken: async () => token, timeScale: SCALE_BULK });
  const plan = client.planBulk("bench-warm-up", "Add", ids.slice(-1000).map((id) => ({ id, tags: [] })));
  await client.runPlan(plan);
}

async function ours(base, ids, n) {
  const token = await appToken(base, `bench-ours-${n}`);
  const client = new DefenderClient({ baseUrl: base, getToken: async () => token, timeScale: SCALE_BULK });
  const tag = `bench-ours-${n}`;
  const machines = ids.slice(0, n).map((id) => ({ id, tags: [] }));
  return measure(base, async () => {
    const plan = client.planBulk(tag, "Add", machines);
    const report = await client.runPlan(plan);
    const applied = report.outcomes.filter((o) => o.status === "applied").length;
    if (applied !== n || report.aborted) {
      throw new Error(`our client applied ${applied} of ${n} (aborted: ${report.aborted}, stopped by ${JSON.stringify(report.stoppedBy)})`);
    }
    return { clientCalls: report.callsMade };
  });
}

async function naiveBulk(base, ids, n) {
  const token = await appToken(base, `bench-naive-bulk-${n}`);
  const tag = `bench-naive-bulk-${n}`;
  let clientCalls = 0;
  return measure(base, async () => {
    for (let i = 0; i < n; i += BULK) {
      const batch = ids.slice(i, Math.min(n, i + BULK));
      for (;;) {
        clientCalls += 1;
        const status = await post(base, token, "/api/machines/AddOrRemoveTagForMultipleMachines", { Value: tag, Action: "Add", MachineIds: batch });
        if (status === 200) break;
        await sleep(NAIVE_BACKOFF_MS / SCALE_BULK);
      }
    }
    return { clientCalls };
  });
}

async function naiveSingle(base, ids, n) {
  const token = await appToken(base, `bench-naive-single-${n}`);
  const tag = `bench-naive-single-${n}`;
  let clientCalls = 0;
  // Time when the 1,500th machine was done: after it, the hourly window binds.
  let hourBoundAtMs = null;
  const t0 = performance.now();
  const result = await measure(base, async () => {
    for (let i = 0; i < n; i += 1) {
      for (;;) {
        clientCalls += 1;
        const status = await post(base, token, `/api/machines/${ids[i]}/tags`, { Value: tag, Action: "Add" });
        if (status === 200) break;
        await sleep(NAIVE_BACKOFF_MS / SCALE_SINGLE);
      }
      if (i + 1 === PER_HOUR) hourBoundAtMs = performance.now() - t0;
      await sleep(NAIVE_SLEEP_MS / SCALE_SINGLE);
    }
    return { clientCalls };
  });
  return { ...result, hourBoundAtMs };
}

function row(n, client, r, limit, scale, note = "") {
  const limitCalls = Math.ceil(n / BULK);
  return {
    n, client, note, scale,
    calls: r.calls, throttled: r.throttled, wallMs: r.wallMs, emulatedS: (r.wallMs * scale) / 1000,
    limitCalls, limitMs: limit, callsRatio: r.calls / limitCalls, wallRatio: r.wallMs / limit,
  };
}

async function main() {
  const maxN = Math.max(...SIZES);
  const results = { scaleBulk: SCALE_BULK, scaleSingle: SCALE_SINGLE, rows: [] };

  // ~3% of generated machines are beyond retention: generate enough for maxN taggable ones.
  const generate = (n) => String(Math.ceil(n / 0.94));
  const bulkEmu = await startEmulator(["--machines", generate(maxN), "--seed", "42", "--time-scale", String(SCALE_BULK)]);
  try {
    const ids = await taggableIds(bulkEmu.url);
    if (ids.length < maxN) throw new Error(`only ${ids.length} taggable machines for ${maxN}`);
    await warmUp(bulkEmu.url, ids);
    const serviceMs = await calibrate(bulkEmu.url, ids);
    results.serviceMs = serviceMs;
    console.error(`bulk service time: ${serviceMs.toFixed(1)} ms per 500-id call (median of 20)`);
    for (const n of SIZES) {
      const limit = limitMs(Math.ceil(n / BULK), serviceMs, SCALE_BULK);
      const o = await ours(bulkEmu.url, ids, n);
      if (o.tagChanges !== n) throw new Error(`ours: ${o.tagChanges} machines changed, expected ${n}`);
      results.rows.push(row(n, "ours (DefenderClient, wasm in Node 20)", o, limit, SCALE_BULK));
      console.error(`ours ${n}: ${JSON.stringify(o)} limit ${limit.toFixed(0)} ms`);
      const b = await naiveBulk(bulkEmu.url, ids, n);
      results.rows.push(row(n, "naive bulk (500/call, 60 s sleep on 429)", b, limit, SCALE_BULK));
      console.error(`naive bulk ${n}: ${JSON.stringify(b)}`);
    }
  } finally {
    await bulkEmu.stop();
  }

  const maxSingle = Math.max(...SINGLE_SIZES);
  const singleEmu = await startEmulator(["--machines", generate(maxSingle), "--seed", "42", "--time-scale", String(SCALE_SINGLE)]);
  const singles = new Map();
  try {
    const ids = await taggableIds(singleEmu.url);
    for (const n of SINGLE_SIZES) {
      const s = await naiveSingle(singleEmu.url, ids, n);
      singles.set(n, s);
      console.error(`naive single ${n}: ${JSON.stringify(s)}`);
    }
  } finally {
    await singleEmu.stop();
  }
  // The per-machine client on the bulk clock: its emulated time converted to the bulk scale.
  const base = Math.max(...singles.keys());
  const measured = singles.get(base);
  for (const n of SIZES) {
    const limit = limitMs(Math.ceil(n / BULK), results.serviceMs, SCALE_BULK);
    const label = "naive per-machine (1 call/machine, 500 ms sleep, 60 s on 429)";
    if (singles.has(n)) {
      const s = singles.get(n);
      const asBulkClock = { ...s, wallMs: (s.wallMs * SCALE_SINGLE) / SCALE_BULK };
      results.rows.push(row(n, label, asBulkClock, limit, SCALE_BULK, `measured at time scale ${SCALE_SINGLE} (${fmt(s.wallMs / 1000, 1)} s real); wall shown on the bulk clock (emulated ÷ ${SCALE_BULK})`));
    } else {
      const f = n / base;
      const est = {
        calls: measured.calls * f,
        throttled: measured.throttled * f,
        wallMs: ((measured.wallMs * SCALE_SINGLE) / SCALE_BULK) * f,
      };
      results.rows.push(row(n, label, est, limit, SCALE_BULK, `extrapolated linearly from the ${int(base)}-machine run (measured at time scale ${SCALE_SINGLE}: ${fmt(measured.wallMs / 1000, 1)} s real, ${int(measured.calls)} calls, ${int(measured.throttled)} 429s); a lower bound: the hourly cap binds harder at scale`));
    }
  }
  results.singles = Object.fromEntries(singles);

  writeOutput("bench-tagging.json", JSON.stringify(results, null, 2));
  writeOutput("bench-tagging.md", markdown(results));
}

function markdown(r) {
  const lines = [];
  lines.push("## Bulk tagging against the emulator");
  lines.push("");
  lines.push(
    `Release emulator, documented limits (100 calls/min, 1,500 calls/h per app and endpoint) on a clock running ` +
      `${r.scaleBulk}× faster (a minute lasts ${fmt(60 / r.scaleBulk, 0)} s). **Limit** = ceil(N/500) calls started as early as ` +
      `both rolling windows allow, each lasting the emulator's measured service time for a 500-id bulk call ` +
      `(${fmt(r.serviceMs, 1)} ms, median of 20 raw calls), on the same scaled clock. Wall times are real seconds on that ` +
      `clock; "emulated" is the same run in API time (what it would take against the real service). Calls and 429s come ` +
      `from \`/_emulator/stats\`. Ours is measured after one warm-up run (1,000 other machines, its own rate windows) ` +
      `so V8 has compiled the wasm. Goal for ours: calls = limit, zero 429s, wall ≤ 1.05 × limit.`,
  );
  lines.push("");
  lines.push("| Machines | Client | Calls | Limit calls | Calls ratio | 429s | Wall (s) | Emulated | Limit wall (s) | Wall ratio | Goal | Note |");
  lines.push("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|");
  for (const x of r.rows) {
    const isOurs = x.client.startsWith("ours");
    const goal = isOurs
      ? `calls ${verdict(x.calls === x.limitCalls)}, 429s ${verdict(x.throttled === 0)}, wall ≤ 1.05× ${verdict(x.wallRatio <= 1.05)}`
      : "—";
    lines.push(
      `| ${int(x.n)} | ${x.client} | ${int(x.calls)} | ${int(x.limitCalls)} | ${ratio(x.calls, x.limitCalls)} | ${int(x.throttled)} | ${fmt(x.wallMs / 1000, 2)} | ${emulated(x.emulatedS)} | ${fmt(x.limitMs / 1000, 2)} | ${ratio(x.wallMs, x.limitMs)} | ${goal} | ${x.note} |`,
    );
  }
  lines.push("");
  return lines.join("\n");
}

function emulated(seconds) {
  if (!Number.isFinite(seconds)) return "n/a";
  if (seconds < 120) return `${fmt(seconds, 1)} s`;
  if (seconds < 7200) return `${fmt(seconds / 60, 1)} min`;
  return `${fmt(seconds / 3600, 1)} h`;
}

await main();
