//! The connection check (`/check`): each step from configuration to write permission, with a
//! verdict and the fix, and a plain-text report for a helpdesk ticket. This module judges what
//! the page observed; `routes::check` does the observing (fetches, MSAL, one API call).
//!
//! Nothing here ever sees a token: steps get decoded claims ([`Claims`]) and error codes.

use std::fmt::Write as _;

use crate::access::{Access, AccessLevel};
use crate::settings::Resolved;

/// Where the deployment guide lives (shown in fixes; the repository's docs/deploy.md).
pub const DEPLOY_DOC: &str = "docs/deploy.md";

/// Audiences a Defender API token may carry: the API's app id URIs (current and legacy) and its
/// application id.
const DEFENDER_AUDIENCES: &[&str] = &[
    "https://api.securitycenter.microsoft.com",
    "https://api.security.microsoft.com",
    "https://securitycenter.onmicrosoft.com/windowsatpservice",
    "fc780465-2017-40d4-a0c5-307022471b92",
];

/// A step's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Fine.
    Pass,
    /// Works, but something deserves attention.
    Warn,
    /// Broken; the fix says what to do.
    Fail,
    /// Not run because an earlier step failed.
    Skipped,
}

impl Verdict {
    /// The word shown beside the step (and in the report).
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warn => "warning",
            Verdict::Fail => "fail",
            Verdict::Skipped => "not run",
        }
    }
}

/// One step of the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Stable id (`config`, `authority`, `signed-in`, `token`, `api`, `read`, `write`, `budget`).
    pub id: &'static str,
    /// What is checked.
    pub title: &'static str,
    /// The verdict.
    pub verdict: Verdict,
    /// What was observed.
    pub detail: String,
    /// What to do about a failure or warning.
    pub fix: Option<String>,
}

impl Step {
    fn new(id: &'static str, title: &'static str, verdict: Verdict, detail: String) -> Self {
        Self {
            id,
            title,
            verdict,
            detail,
            fix: None,
        }
    }

    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    /// A step that did not run because `after` failed.
    pub fn skipped(id: &'static str, title: &'static str, after: &str) -> Self {
        Self::new(
            id,
            title,
            Verdict::Skipped,
            format!("Not run: {after} failed."),
        )
    }
}

/// Step titles, in order.
pub const TITLES: [(&str, &str); 8] = [
    ("config", "Configuration is valid"),
    ("authority", "Sign-in authority is reachable"),
    ("signed-in", "Signed in"),
    ("token", "Token audience, permissions and tenant"),
    ("api", "Defender API is reachable"),
    ("read", "Read permission (list one machine)"),
    ("write", "Write permission in the token"),
    ("budget", "Rate budget"),
];

fn title(id: &str) -> &'static str {
    TITLES
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, t)| *t)
        .unwrap_or("Check")
}

/// The decoded claims of the access token that the check shows (never the token).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Claims {
    /// `aud`.
    pub aud: String,
    /// `tid`.
    pub tid: String,
    /// `iss`.
    pub iss: String,
    /// `exp` (seconds since the epoch).
    pub exp: i64,
    /// `scp`, split.
    pub scp: Vec<String>,
    /// `roles`.
    pub roles: Vec<String>,
}

/// Step 1: the configuration.
pub fn config_step(resolved: &Result<Resolved, Vec<String>>) -> Step {
    match resolved {
        Ok(r) => Step::new(
            "config",
            title("config"),
            Verdict::Pass,
            format!(
                "Client id {}, tenant {}, authority {}, API {}, scope {}.",
                r.client_id,
                r.tenant,
                r.authority,
                r.api_base,
                r.scopes.join(" ")
            ),
        ),
        Err(problems) => Step::new("config", title("config"), Verdict::Fail, problems.join(" "))
            .fix(format!(
                "Fix each field named above in config.json (your administrator) or in Settings; \
             the schema is in {DEPLOY_DOC}."
            )),
    }
}

/// The OpenID discovery document of an MSAL authority URL.
pub fn discovery_url(authority: &str) -> String {
    let a = authority.trim_end_matches('/');
    if a.ends_with("/v2.0") {
        format!("{a}/.well-known/openid-configuration")
    } else {
        format!("{a}/v2.0/.well-known/openid-configuration")
    }
}

/// Step 2: fetching the discovery document gave `outcome` (the issuer, or why not).
pub fn authority_step(url: &str, outcome: Result<String, String>) -> Step {
    match outcome {
        Ok(issuer) => Step::new(
            "authority",
            title("authority"),
            Verdict::Pass,
            format!("{url} answered; issuer {issuer}."),
        ),
        Err(why) => Step::new(
            "authority",
            title("authority"),
            Verdict::Fail,
            format!("{url}: {why}."),
        )
        .fix(
            "Check the tenant (id or verified domain) and the cloud in config.json: AADSTS90002 \
             means the tenant does not exist in that cloud. If the page's Content-Security-Policy \
             blocked the call, rebuild the bundle with `cargo xtask dist` from the same config.",
        ),
    }
}

/// Step 3: the session. `token` is the silent token attempt (the error text when it failed);
/// `None` when nobody is signed in.
pub fn signed_in_step(account: Option<&str>, token: Option<&Result<(), String>>) -> Step {
    match (account, token) {
        (None, _) => Step::new(
            "signed-in",
            title("signed-in"),
            Verdict::Fail,
            "Nobody is signed in in this tab.".into(),
        )
        .fix("Sign in (top right), then run the check again."),
        (Some(who), Some(Err(why))) => Step::new(
            "signed-in",
            title("signed-in"),
            Verdict::Fail,
            format!("{who} was signed in, but no token could be had without you: {why}"),
        )
        .fix(
            "Your session has expired or was revoked: sign in again. If it keeps happening, \
             your organisation's sign-in policy (session lifetime, conditional access) ends it.",
        ),
        (Some(who), _) => Step::new(
            "signed-in",
            title("signed-in"),
            Verdict::Pass,
            format!("Signed in as {who}; a token was issued silently."),
        ),
    }
}

/// Step 4: the token's audience, permissions and tenant.
pub fn token_step(claims: &Claims, resolved: &Resolved, now_s: i64) -> Step {
    let access = Access::new(claims.scp.clone(), claims.roles.clone());
    let mut problems = Vec::new();
    let mut fixes = Vec::new();
    let aud_ok = claims.aud.split_whitespace().any(|a| {
        DEFENDER_AUDIENCES
            .iter()
            .any(|d| a.trim_end_matches('/').eq_ignore_ascii_case(d))
    });
    if !aud_ok {
        problems.push(format!(
            "the audience {} is not the Defender API",
            if claims.aud.is_empty() {
                "(none)"
            } else {
                &claims.aud
            }
        ));
        fixes.push(format!(
            "Set scope to https://api.securitycenter.microsoft.com/.default (or your cloud's, see {DEPLOY_DOC})."
        ));
    }
    if access.level() == AccessLevel::None {
        problems.push("it carries no Machine.Read or Machine.ReadWrite permission".into());
        fixes.push(
            "In the app registration add the delegated permissions Machine.Read and \
             Machine.ReadWrite of WindowsDefenderATP, then grant admin consent."
                .into(),
        );
    }
    if !resolved.tenant_id.is_empty() && !claims.tid.eq_ignore_ascii_case(&resolved.tenant_id) {
        problems.push(format!(
            "it was issued by tenant {} instead of {}",
            if claims.tid.is_empty() {
                "(unknown)"
            } else {
                &claims.tid
            },
            resolved.tenant_id
        ));
        fixes.push("Sign out and sign in with an account of the configured tenant.".into());
    }
    let expiry = if claims.exp > 0 {
        format!("expires in {} min", (claims.exp - now_s).max(0) / 60)
    } else {
        "no expiry claim".into()
    };
    let detail = format!(
        "aud {}; tid {}; scp {}; roles {}; {expiry}.",
        or_none(&claims.aud),
        or_none(&claims.tid),
        or_none(&claims.scp.join(" ")),
        or_none(&claims.roles.join(" "))
    );
    if problems.is_empty() {
        Step::new("token", title("token"), Verdict::Pass, detail)
    } else {
        Step::new(
            "token",
            title("token"),
            Verdict::Fail,
            format!("{detail} Problem: {}.", problems.join("; ")),
        )
        .fix(fixes.join(" "))
    }
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "(none)" } else { s }
}

/// What listing one machine gave: `Ok(count)` or the client's error code, HTTP status and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiOutcome {
    /// The API answered 200 with this many machines.
    Listed(usize),
    /// The client failed: its stable code (`cors_refused`, `network`, `unauthorized`, ...), the
    /// HTTP status when the API answered, and the message.
    Failed {
        /// `ClientError::code`.
        code: String,
        /// HTTP status, when there was an answer.
        status: Option<u16>,
        /// The message.
        message: String,
    },
}

/// Steps 5 and 6: reachability and read permission, from one `GET /api/machines?$top=1`.
pub fn api_steps(api_base: &str, outcome: &ApiOutcome) -> [Step; 2] {
    let reach = |v, d: String| Step::new("api", title("api"), v, d);
    let read = |v, d: String| Step::new("read", title("read"), v, d);
    match outcome {
        ApiOutcome::Listed(n) => [
            reach(Verdict::Pass, format!("{api_base} answered.")),
            read(
                Verdict::Pass,
                format!(
                    "Listed {n} machine{} with your permissions.",
                    if *n == 1 { "" } else { "s" }
                ),
            ),
        ],
        ApiOutcome::Failed {
            code,
            status,
            message,
        } => match (code.as_str(), status) {
            ("cors_refused", _) => [
                reach(
                    Verdict::Fail,
                    format!(
                        "{api_base} answered, but does not allow calls from this page's origin \
                         (CORS), so the browser blocked the call."
                    ),
                )
                .fix(format!(
                    "Deploy the edge proxy (npx defender-tags-proxy, or the Cloudflare Worker) with \
                     this page's origin in allowedOrigins, and set apiBaseUrl in config.json to the \
                     proxy. See {DEPLOY_DOC}, \u{201c}The edge proxy\u{201d}."
                )),
                Step::skipped("read", title("read"), "API reachability"),
            ],
            ("network" | "timeout", _) => [
                reach(
                    Verdict::Fail,
                    format!("{api_base} could not be reached: {message}"),
                )
                .fix(
                    "Nothing answered: check the API base URL (host, regional host, or your proxy's \
                     address), that the proxy is running, and your network or VPN.",
                ),
                Step::skipped("read", title("read"), "API reachability"),
            ],
            (_, Some(401)) => [
                reach(Verdict::Pass, format!("{api_base} answered (HTTP 401).")),
                read(
                    Verdict::Fail,
                    format!("The API refused the token (HTTP 401): {message}"),
                )
                .fix(
                    "The token's audience or issuer is not accepted: check the scope and the cloud \
                     in config.json, then sign in again.",
                ),
            ],
            (_, Some(403)) => [
                reach(Verdict::Pass, format!("{api_base} answered (HTTP 403).")),
                read(
                    Verdict::Fail,
                    format!("The API refused to list machines (HTTP 403): {message}"),
                )
                .fix(
                    "Grant the app Machine.Read (admin consent), and give the user a Defender role \
                     that can view machines (Settings \u{2192} Endpoints \u{2192} Roles) with access to \
                     at least one device group.",
                ),
            ],
            (_, Some(429)) => [
                reach(Verdict::Pass, format!("{api_base} answered (HTTP 429).")),
                read(Verdict::Warn, format!("Rate limited: {message}")).fix(
                    "The app's budget (100 calls a minute, 1,500 an hour per app and tenant) is \
                     spent; wait for Retry-After and run the check again.",
                ),
            ],
            (_, Some(s)) => [
                reach(Verdict::Pass, format!("{api_base} answered (HTTP {s}).")),
                read(Verdict::Fail, format!("HTTP {s}: {message}")).fix(
                    "Check that the API base URL is a Defender API host or your edge proxy, not \
                     another service.",
                ),
            ],
            (_, None) => [
                reach(Verdict::Fail, format!("{code}: {message}")),
                Step::skipped("read", title("read"), "API reachability"),
            ],
        },
    }
}

/// Step 7: write permission, from the token alone (nothing is written).
pub fn write_step(claims: &Claims) -> Step {
    let access = Access::new(claims.scp.clone(), claims.roles.clone());
    if access.can_edit() {
        Step::new(
            "write",
            title("write"),
            Verdict::Pass,
            "The token carries Machine.ReadWrite: tag changes are allowed, subject to your \
             Defender role and device groups."
                .into(),
        )
    } else {
        // A warning, not a failure: read-only use (search, see tags) is a supported deployment.
        Step::new(
            "write",
            title("write"),
            Verdict::Warn,
            format!(
                "The token is read-only ({}): you can search and see tags, not change them.",
                or_none(
                    &access
                        .scopes
                        .iter()
                        .chain(&access.roles)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(" ")
                )
            ),
        )
        .fix(
            "To change tags: add the delegated permission Machine.ReadWrite (WindowsDefenderATP) \
             to the app registration with admin consent, then sign out and in again. Defender \
             also checks the user's role on every tag change: its roles pages put device tags \
             under \u{201c}Alerts investigation\u{201d}, its tag API pages name \u{201c}Manage \
             security settings\u{201d} (docs/deploy.md, section 2).",
        )
    }
}

/// Step 8: the rate budget, from the calls counted in this browser's windows.
pub fn budget_step(minute_used: u32, hour_used: u32) -> Step {
    let (min_left, hour_left) = (
        100u32.saturating_sub(minute_used),
        1500u32.saturating_sub(hour_used),
    );
    let detail = format!(
        "{min_left} of 100 calls left this minute and {hour_left} of 1,500 this hour, as counted \
         by this page (the budget is per app and tenant, shared with everyone using the app)."
    );
    if min_left < 10 || hour_left < 100 {
        Step::new("budget", title("budget"), Verdict::Warn, detail)
            .fix("Bulk runs will pace themselves; wait before starting a large one.")
    } else {
        Step::new("budget", title("budget"), Verdict::Pass, detail)
    }
}

/// The text of "Copy report": steps, verdicts, details and fixes, plus where and when. It holds
/// claims and addresses but never a token.
pub fn report(steps: &[Step], page: &str, when: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Defender Tags connection check");
    let _ = writeln!(out, "Page: {page}");
    let _ = writeln!(out, "Time: {when}");
    let failed = steps.iter().filter(|s| s.verdict == Verdict::Fail).count();
    let _ = writeln!(
        out,
        "Result: {}",
        if failed == 0 {
            "all steps passed".to_owned()
        } else {
            format!("{failed} step(s) failed")
        }
    );
    for (i, s) in steps.iter().enumerate() {
        let _ = writeln!(out, "\n{}. [{}] {}", i + 1, s.verdict.label(), s.title);
        let _ = writeln!(out, "   {}", s.detail);
        if let Some(fix) = &s.fix {
            let _ = writeln!(out, "   Fix: {fix}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved() -> Resolved {
        Resolved {
            demo: false,
            client_id: "0b5b6c1e-1111-4222-8333-944445555666".into(),
            authority: "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555"
                .into(),
            scopes: vec!["https://api.securitycenter.microsoft.com/.default".into()],
            api_base: "https://api.security.microsoft.com".into(),
            tenant_id: "11111111-2222-3333-4444-555555555555".into(),
            tenant: "11111111-2222-3333-4444-555555555555".into(),
            cloud: defender_tags_core::Cloud::Commercial,
            graph_base: "https://graph.microsoft.com".into(),
            graph_scope: "https://graph.microsoft.com/.default".into(),
        }
    }

    fn claims(scp: &[&str]) -> Claims {
        Claims {
            aud: "https://api.securitycenter.microsoft.com".into(),
            tid: "11111111-2222-3333-4444-555555555555".into(),
            iss: "https://sts.windows.net/x/".into(),
            exp: 4_000,
            scp: scp.iter().map(|s| s.to_string()).collect(),
            roles: vec![],
        }
    }

    #[test]
    fn discovery_urls_for_entra_and_the_emulator() {
        assert_eq!(
            discovery_url("https://login.microsoftonline.com/contoso.com"),
            "https://login.microsoftonline.com/contoso.com/v2.0/.well-known/openid-configuration"
        );
        assert_eq!(
            discovery_url("http://127.0.0.1:9/t/v2.0"),
            "http://127.0.0.1:9/t/v2.0/.well-known/openid-configuration"
        );
    }

    #[test]
    fn a_good_token_passes_and_each_problem_is_named_with_its_fix() {
        let ok = token_step(&claims(&["Machine.ReadWrite"]), &resolved(), 1_000);
        assert_eq!(ok.verdict, Verdict::Pass, "{ok:?}");
        assert!(ok.detail.contains("expires in 50 min"), "{}", ok.detail);

        let mut wrong = claims(&[]);
        wrong.aud = "https://graph.microsoft.com".into();
        wrong.tid = "99999999-2222-3333-4444-555555555555".into();
        let bad = token_step(&wrong, &resolved(), 1_000);
        assert_eq!(bad.verdict, Verdict::Fail);
        for needle in ["graph.microsoft.com", "no Machine.Read", "99999999"] {
            assert!(
                bad.detail.contains(needle),
                "{needle} missing: {}",
                bad.detail
            );
        }
        let fix = bad.fix.unwrap_or_default();
        assert!(fix.contains("scope") && fix.contains("admin consent") && fix.contains("Sign out"));
    }

    #[test]
    fn a_cors_refusal_points_at_the_proxy_and_differs_from_a_network_failure() {
        let cors = api_steps(
            "https://api.security.microsoft.com",
            &ApiOutcome::Failed {
                code: "cors_refused".into(),
                status: None,
                message: "refused".into(),
            },
        );
        assert_eq!(cors[0].verdict, Verdict::Fail);
        assert!(
            cors[0]
                .fix
                .as_deref()
                .unwrap_or_default()
                .contains("edge proxy")
        );
        assert_eq!(cors[1].verdict, Verdict::Skipped);
        let net = api_steps(
            "https://x",
            &ApiOutcome::Failed {
                code: "network".into(),
                status: None,
                message: "Failed to fetch".into(),
            },
        );
        assert!(
            !net[0]
                .fix
                .as_deref()
                .unwrap_or_default()
                .contains("edge proxy")
        );
        let forbidden = api_steps(
            "https://x",
            &ApiOutcome::Failed {
                code: "forbidden".into(),
                status: Some(403),
                message: "no".into(),
            },
        );
        assert_eq!(forbidden[0].verdict, Verdict::Pass);
        assert_eq!(forbidden[1].verdict, Verdict::Fail);
        assert!(
            forbidden[1]
                .fix
                .as_deref()
                .unwrap_or_default()
                .contains("role")
        );
        let listed = api_steps("https://x", &ApiOutcome::Listed(1));
        assert!(listed.iter().all(|s| s.verdict == Verdict::Pass));
    }

    #[test]
    fn write_permission_comes_from_the_token() {
        assert_eq!(
            write_step(&claims(&["Machine.ReadWrite"])).verdict,
            Verdict::Pass
        );
        let ro = write_step(&claims(&["Machine.Read"]));
        assert_eq!(ro.verdict, Verdict::Warn);
        assert!(ro.detail.contains("Machine.Read"));
    }

    #[test]
    fn sessions_budget_and_the_report() {
        assert_eq!(signed_in_step(None, None).verdict, Verdict::Fail);
        let expired = signed_in_step(Some("a@b"), Some(&Err("invalid_grant".into())));
        assert!(
            expired
                .fix
                .as_deref()
                .unwrap_or_default()
                .contains("sign in again")
        );
        assert_eq!(
            signed_in_step(Some("a@b"), Some(&Ok(()))).verdict,
            Verdict::Pass
        );
        assert_eq!(budget_step(95, 10).verdict, Verdict::Warn);
        assert_eq!(budget_step(1, 1).verdict, Verdict::Pass);

        let steps = vec![
            config_step(&Ok(resolved())),
            write_step(&claims(&["Machine.Read"])),
            token_step(&claims(&[]), &resolved(), 0),
        ];
        let text = report(&steps, "https://tags.contoso.com/", "2026-12-06T15:00:00Z");
        assert!(text.contains("1 step(s) failed"), "{text}");
        assert!(text.contains("[pass] Configuration is valid"), "{text}");
        assert!(text.contains("[warning] Write permission"), "{text}");
        assert!(text.contains("Fix: To change tags"), "{text}");
        assert!(!text.contains("eyJ"), "no token-like text");
    }
}
