// A portal's use of the package, compiled with `tsc --noEmit` against the generated .d.ts by
// `cargo xtask package`. It fails to compile if a signature loses its types (or turns `any`).
import {
  DefenderClient,
  isDefenderError,
  type DefenderError,
  type DefenderErrorCode,
  type Machine,
  type MachinePage,
  type Progress,
  type RunReport,
  type PlanSummary,
  type PlanMachine,
  type DeviceValue,
} from "defender-tags-wasm";
// Rules files and advanced hunting: the `full` entries (the client plus both).
import {
  DefenderClient as FullClient,
  type HuntingResult,
  type RulesDocument,
  type RulesDryRun,
  huntingQueries,
  parseRules,
  planRules,
} from "defender-tags-wasm/full";
import init, { DefenderClient as WebClient } from "defender-tags-wasm/web";
// The edge proxy is an entry of its own (consumer-proxy.ts); the client's entries do not carry it.
// @ts-expect-error EdgeProxy is not exported by the client entry
import { EdgeProxy as NotInClient } from "defender-tags-wasm";
// @ts-expect-error handleRequest is not exported by the client's web entry
import { handleRequest as NotInWeb } from "defender-tags-wasm/web";
// @ts-expect-error rules files are in the full entries only
import { parseRules as RulesNotInClient } from "defender-tags-wasm";
void [NotInClient, NotInWeb, RulesNotInClient];

export function noHuntingInClient(client: DefenderClient): void {
  // @ts-expect-error runHuntingQuery is in the full entries only
  void client.runHuntingQuery("DeviceInfo");
}

declare const portalToken: (scopes: string[], force: boolean) => Promise<string>;
declare const msal: {
  acquireTokenSilent(request: { account: object; scopes: string[]; forceRefresh?: boolean }): Promise<{ accessToken: string; expiresOn: Date | null }>;
};
declare const account: { homeAccountId: string; username: string };

export async function portal(): Promise<number> {
  const client = new DefenderClient({
    baseUrl: "https://api.security.microsoft.com",
    getToken: ({ scopes, forceRefresh }) => portalToken(scopes, forceRefresh),
    timeoutMs: 20_000,
  });
  const page: MachinePage = await client.listMachines({ filter: "healthStatus eq 'Active'", top: 50 });
  const first: Machine | undefined = page.machines[0];
  const name: string | null = first?.computerDnsName ?? null;
  const tags: string[] = first?.machineTags ?? [];
  const next: MachinePage | null = page.cursor ? await client.listMachines({ cursor: page.cursor }) : null;

  const all: Machine[] = await client.listAllMachines("riskScore eq 'High'");
  const one: Machine = await client.getMachine(all[0].id);
  const found: Machine[] = await client.findByTag("Finance", true);
  const added: Machine = await client.addTag(one.id, "Finance");
  const removed: Machine = await client.removeTag(added.id, "Finance");

  const plan = client.planBulk("Finance", "Add", found.map((m) => ({ id: m.id, name: m.computerDnsName, tags: m.machineTags })));
  const planMachine: PlanMachine = { id: one.id, tags: null };
  // The planner needs an id for every machine (PlanMachine is generated from the Rust struct).
  // @ts-expect-error: `id` is required
  const noId: PlanMachine = { name: "pc1" };
  const summary: PlanSummary = plan.summary();
  const calls: number = summary.calls;
  const controller = new AbortController();
  const report: RunReport = await client.runPlan(plan, {
    onProgress: (p: Progress) => {
      const pct: number = p.callsDone / Math.max(1, p.callsTotal);
      const eta: number | undefined = p.etaMs;
      console.log(pct, eta, p.callsThisMinute, p.minuteLimit, p.callsThisHour, p.hourLimit);
    },
    signal: controller.signal,
  });
  const undo = plan.inverse();
  const failed = report.outcomes.filter((o) => o.status === "failed" || o.status === "unknown");
  const [minute, hour]: [number, number] = client.rateUsage();

  const fromMsal = DefenderClient.fromMsal(msal, { account, scopes: ["https://api.securitycenter.microsoft.com/.default"] });
  try {
    await fromMsal.getMachine("not-a-machine");
  } catch (e: unknown) {
    if (!isDefenderError(e)) throw e;
    const err: DefenderError = e;
    const code: DefenderErrorCode = err.code;
    // `code` is a union of literals: a typo is a compile error, and a switch can be exhaustive.
    const hint = code === "cors_refused" ? "deploy the edge proxy" : code === "too_many_requests" ? "wait" : "";
    const status: number | undefined = err.status;
    const retry: number | undefined = err.retryAfter;
    const machine: string | undefined = err.machineId;
    const asError: Error = err;
    console.log(code, hint, status, retry, machine, asError.message);
  }

  await init();
  const web = new WebClient({ cloud: "gccHigh", getToken: () => "token" });
  void web;
  void undo;
  void removed;
  void next;
  void name;
  void tags;
  void [planMachine, noId];
  return calls + failed.length + minute + hour;
}

export async function scheduledRules(client: FullClient, text: string): Promise<number> {
  const doc: RulesDocument = parseRules(text);
  const first = doc.rules[0];
  const query: string = first?.source.kind === "filter" ? first.source.query : "";
  const machines: Machine[] = await client.listAllMachines();
  const huntingAnswers: Record<string, { machines: string[] } | { error: string }> = {};
  for (const q of huntingQueries(text)) {
    const r: HuntingResult = await client.runHuntingQuery(q);
    huntingAnswers[q] = r.devices
      ? { machines: r.devices.map((d) => d.id ?? d.name ?? "") }
      : { error: r.deviceError ?? "no device column" };
  }
  const plan = planRules(text, machines, { nowMs: Date.now(), huntingAnswers });
  const dry: RulesDryRun = plan.summary();
  const blocked: string[] = dry.rules.flatMap((r) => (r.blocked === null ? [] : [r.blocked]));
  if (blocked.length > 0) return -blocked.length;
  if (!dry.mayRun) return dry.conflicts.map((c) => `${c.addingRule} vs ${c.removingRule}`).length;
  let applied = 0;
  for (let i = 0; i < plan.ruleCount; i += 1) {
    for (const step of plan.steps(i)) {
      const report: RunReport = await client.runPlan(step, {});
      applied += report.outcomes.filter((o) => o.status === "applied").length;
    }
  }
  const value: DeviceValue = "High";
  const changed: Machine = await client.setDeviceValue(machines[0].id, value);
  void [query, changed.deviceValue];
  return applied + dry.rules.reduce((n, r) => n + r.adds + r.removes, 0);
}
