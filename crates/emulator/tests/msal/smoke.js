const out = document.getElementById("out");
const log = (s) => { out.textContent += "\n" + s; };
// The tenant comes from ?tenant= on the first load and survives the sign-in redirect.
const TENANT =
  new URLSearchParams(location.search).get("tenant") ||
  sessionStorage.getItem("smokeTenant") ||
  "11111111-2222-3333-4444-555555555555";
sessionStorage.setItem("smokeTenant", TENANT);
async function main() {
  await new Promise((r) => setTimeout(r, 50));
  const auth = globalThis.defenderTagsAuth;
  const account = await auth.init({
    clientId: "00000000-0000-4000-8000-000000000de0",
    authority: location.origin + "/" + TENANT,
    redirectUri: location.origin + "/",
    scopes: ["https://api.securitycenter.microsoft.com/.default"],
    demo: true,
  });
  if (!account) { log("signing in"); await auth.signIn(); return; }
  log("account " + JSON.stringify(account));
  const t1 = await auth.getToken(false);
  const r = await fetch("/api/machines?$top=2", { headers: { Authorization: "Bearer " + t1.accessToken } });
  const first = r.ok ? (await r.json()).value[0] : null;
  log("api " + r.status + " scp=" + t1.scp.join(",") + " tid=" + t1.tid + " first=" + (first && first.computerDnsName));
  const t2 = await auth.getToken(true);
  const r2 = await fetch("/api/machines?$top=1", { headers: { Authorization: "Bearer " + t2.accessToken } });
  log("refreshed " + (t2.accessToken !== t1.accessToken) + " api " + r2.status);
  document.title = "DONE " + r.status + " " + r2.status;
}
main().catch((e) => { log("ERROR " + e.message); document.title = "ERROR"; });
