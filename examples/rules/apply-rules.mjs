#!/usr/bin/env node
// Applies a defender-tags rules file without a browser, e.g. from a scheduler.
//
//   DEFENDER_TAGS_CLIENT_SECRET=... node apply-rules.mjs --rules rules.json \
//       --tenant <tenant id> --client-id <app id> [--dry-run] [--report report.json]
//
// The app-only token comes from @azure/msal-node (client credentials); the rules are parsed and
// planned by the defender-tags-wasm package (the same planner as the web UI's dry run) and run
// through its paced bulk runner. The report is JSON (stdout, or --report FILE).
//
// Hunting rules: each distinct query is run first through Microsoft Graph with a second
// app-only token for Graph's scope (--graph-scope; the app needs ThreatHunting.Read.All), which
// the package sends to the Graph origin only (--graph-base-url). A query that fails blocks its
// rule (the report's `blocked` says why) and the file does not run.
//
// Exit codes: 0 nothing to do; 2 changed (with --dry-run: would change); 1 failed (bad rules
// file, conflicting rules, a hunting query that failed, sign-in or API failure, a machine that failed or may not have
// changed); 64 bad command line.
import { readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { parseArgs } from "node:util";

import { ConfidentialClientApplication } from "@azure/msal-node";

export const EXIT = { nothingToDo: 0, failed: 1, changed: 2, usage: 64 };

const USAGE = `usage: apply-rules.mjs --rules FILE --tenant ID --client-id ID [options]
  --dry-run            print the plan and change nothing
  --report FILE        write the JSON report there instead of stdout
  --authority URL      token authority (default https://login.microsoftonline.com/<tenant>)
  --base-url URL       Defender API (default https://api.security.microsoft.com)
  --scope SCOPE        token scope (default https://api.securitycenter.microsoft.com/.default)
  --graph-base-url URL Microsoft Graph, for hunting rules (default https://graph.microsoft.com
                       with the default --base-url; required with another --base-url)
  --graph-scope SCOPE  Graph token scope (default https://graph.microsoft.com/.default)
  --package DIR        the built defender-tags-wasm package (default: resolve "defender-tags-wasm")
  --time-scale N       for an emulator started with --time-scale
The client secret is read from DEFENDER_TAGS_CLIENT_SECRET (never from the command line, where
other users of the machine could read it).`;

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * MSAL refuses http authorities, and the local emulator is http on loopback. For a loopback
 * authority only, MSAL is given an https alias of it and this network client maps the alias back
 * (and the discovery document's http URLs to the alias), as a TLS proxy would. A real authority
 * never goes through here.
 */
class LoopbackNetworkClient {
  constructor(httpOrigin) {
    this.http = httpOrigin;
    this.https = "https://" + new URL(httpOrigin).host;
  }
  toHttp(url) {
    return url.startsWith(this.https) ? this.http + url.slice(this.https.length) : url;
  }
  async send(method, url, options = {}) {
    const response = await fetch(this.toHttp(url), {
      method,
      headers: options.headers ?? {},
      body: method === "POST" ? (options.body ?? "") : undefined,
    });
    const text = await response.text();
    let body = {};
    try {
      body = JSON.parse(method === "GET" ? text.split(this.http).join(this.https) : text);
    } catch {
      // A non-JSON answer leaves MSAL an empty body; it reports the status itself.
    }
    return { headers: Object.fromEntries(response.headers), body, status: response.status };
  }
  sendGetRequestAsync(url, options) {
    return this.send("GET", url, options);
  }
  sendPostRequestAsync(url, options) {
    return this.send("POST", url, options);
  }
}

function msalClient({ clientId, secret, authority }) {
  const auth = { clientId, clientSecret: secret, authority };
  const system = {};
  const url = new URL(authority);
  if (url.protocol === "http:") {
    if (!LOOPBACK.has(url.hostname)) {
      throw new UsageError(`--authority ${authority}: only a loopback emulator may use http`);
    }
    const network = new LoopbackNetworkClient(url.origin);
    auth.authority = network.https + url.pathname;
    auth.knownAuthorities = [url.host];
    system.networkClient = network;
  }
  return new ConfidentialClientApplication({ auth, system });
}

class UsageError extends Error {}

function loadPackage(dir) {
  const require = createRequire(import.meta.url);
  return dir
    ? require(path.resolve(dir, "full", "node", "defender_tags_full.cjs"))
    : require("defender-tags-wasm/full");
}

function readOptions(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        rules: { type: "string" },
        tenant: { type: "string" },
        "client-id": { type: "string" },
        "dry-run": { type: "boolean", default: false },
        report: { type: "string" },
        authority: { type: "string" },
        "base-url": { type: "string", default: "https://api.security.microsoft.com" },
        scope: { type: "string", default: "https://api.securitycenter.microsoft.com/.default" },
        "graph-base-url": { type: "string" },
        "graph-scope": { type: "string", default: "https://graph.microsoft.com/.default" },
        package: { type: "string" },
        "time-scale": { type: "string" },
        help: { type: "boolean", default: false },
      },
      strict: true,
    }));
  } catch (e) {
    throw new UsageError(e.message);
  }
  if (values.help) throw new UsageError("");
  for (const required of ["rules", "tenant", "client-id"]) {
    if (!values[required]) throw new UsageError(`--${required} is required`);
  }
  const timeScale = values["time-scale"] === undefined ? 1 : Number(values["time-scale"]);
  if (!(timeScale > 0)) throw new UsageError("--time-scale must be a positive number");
  return {
    rulesPath: values.rules,
    tenant: values.tenant,
    clientId: values["client-id"],
    dryRun: values["dry-run"],
    reportPath: values.report,
    authority: values.authority ?? `https://login.microsoftonline.com/${values.tenant}`,
    baseUrl: values["base-url"],
    scope: values.scope,
    graphBaseUrl: values["graph-base-url"],
    graphScope: values["graph-scope"],
    packageDir: values.package,
    timeScale,
  };
}

/** Counts of one runPlan report per status. */
function tally(reports) {
  const counts = { applied: 0, alreadyInPlace: 0, skipped: 0, failed: 0, unknown: 0, notAttempted: 0 };
  let callsMade = 0;
  let aborted = false;
  const problems = [];
  for (const r of reports) {
    callsMade += r.callsMade;
    aborted ||= r.aborted;
    for (const o of r.outcomes) {
      counts[o.status] = (counts[o.status] ?? 0) + 1;
      if (o.status !== "applied" && o.status !== "alreadyInPlace") {
        problems.push({ machine: o.machine, action: r.action, status: o.status, error: o.error ?? null });
      }
    }
  }
  return { ...counts, callsMade, aborted, problems };
}

function errorInfo(e) {
  return { code: e?.code ?? "error", message: String(e?.message ?? e) };
}

/** Runs the whole job; returns `[exitCode, report]` and never throws for an expected failure. */
export async function applyRules(options, env = process.env) {
  const report = {
    status: "failed",
    dryRun: options.dryRun,
    rulesFile: options.rulesPath,
    startedAt: new Date().toISOString(),
    finishedAt: null,
    rules: [],
    conflicts: [],
  };
  const done = (code, status) => {
    report.status = status;
    report.finishedAt = new Date().toISOString();
    return [code, report];
  };
  let pkg;
  let text;
  let queries;
  try {
    pkg = loadPackage(options.packageDir);
    text = await readFile(options.rulesPath, "utf8");
    // Validated before any sign-in or call: a bad file changes nothing and costs nothing.
    pkg.parseRules(text);
    queries = pkg.huntingQueries(text);
  } catch (e) {
    report.error = errorInfo(e);
    return done(EXIT.failed, "failed");
  }
  const secret = env.DEFENDER_TAGS_CLIENT_SECRET;
  if (!secret) {
    report.error = { code: "usage", message: "DEFENDER_TAGS_CLIENT_SECRET is not set" };
    return done(EXIT.usage, "failed");
  }
  try {
    const msal = msalClient({ ...options, secret });
    const client = new pkg.DefenderClient({
      baseUrl: options.baseUrl,
      // Graph's origin is named only when given: the package then sends Graph tokens there and
      // nowhere else, and refuses a hunting call when no Graph origin is configured.
      ...(options.graphBaseUrl ? { graphBaseUrl: options.graphBaseUrl } : {}),
      graphScopes: [options.graphScope],
      timeScale: options.timeScale,
      getToken: async ({ scopes, forceRefresh }) => {
        const result = await msal.acquireTokenByClientCredential({
          scopes: scopes.length ? scopes : [options.scope],
          skipCache: forceRefresh,
        });
        if (!result?.accessToken) throw new Error("MSAL returned no access token");
        return result.accessToken;
      },
      scopes: [options.scope],
    });
    // Each distinct query once; a failure is recorded for its rules (never "matches nothing").
    const huntingAnswers = {};
    for (const query of queries) {
      try {
        const result = await client.runHuntingQuery(query);
        huntingAnswers[query] = result.devices
          ? { machines: result.devices.map((d) => d.id ?? d.name) }
          : { error: result.deviceError ?? "the query's result names no machine" };
      } catch (e) {
        huntingAnswers[query] = { error: String(e?.message ?? e) };
      }
    }
    report.huntingQueries = queries.length;
    const machines = await client.listAllMachines();
    const plan = pkg.planRules(text, machines, { huntingAnswers });
    const dry = plan.summary();
    report.conflicts = dry.conflicts;
    report.rules = dry.rules;
    report.machinesListed = machines.length;
    const blocked = dry.rules.filter((r) => r.blocked);
    if (blocked.length) {
      report.error = {
        code: "hunting",
        message: blocked.map((r) => `rule "${r.name}": ${r.blocked}`).join("; ") + "; nothing was run",
      };
      return done(EXIT.failed, "failed");
    }
    if (!dry.mayRun) {
      report.error = {
        code: "conflict",
        message: `${dry.conflicts.length} machine(s) would be tagged by one rule and untagged by another; nothing was run`,
      };
      return done(EXIT.failed, "failed");
    }
    if (dry.nothingToDo) return done(EXIT.nothingToDo, "nothing-to-do");
    if (options.dryRun) return done(EXIT.changed, "would-change");

    let failed = false;
    for (let i = 0; i < plan.ruleCount; i += 1) {
      const reports = [];
      for (const step of plan.steps(i)) {
        const r = await client.runPlan(step);
        reports.push(r);
        // Stop this rule at its first failed step; the next run re-plans from the tenant.
        if (r.aborted || r.stoppedBy) break;
      }
      const run = tally(reports);
      report.rules[i].run = run;
      failed ||= run.failed > 0 || run.unknown > 0 || run.notAttempted > 0 || run.aborted;
    }
    return failed ? done(EXIT.failed, "failed") : done(EXIT.changed, "changed");
  } catch (e) {
    report.error = errorInfo(e);
    return done(EXIT.failed, "failed");
  }
}

async function main() {
  let options;
  try {
    options = readOptions(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      if (e.message) console.error(`apply-rules: ${e.message}`);
      console.error(USAGE);
      return e.message ? EXIT.usage : EXIT.nothingToDo;
    }
    throw e;
  }
  const [code, report] = await applyRules(options);
  const json = JSON.stringify(report, null, 2) + "\n";
  if (options.reportPath) await writeFile(options.reportPath, json);
  else process.stdout.write(json);
  if (report.error) console.error(`apply-rules: ${report.error.message}`);
  return code;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith("apply-rules.mjs")) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      console.error(e);
      process.exitCode = EXIT.failed;
    },
  );
}
