//! `/check`: the connection check. Runs each step in order (see [`crate::check`]), shows a
//! verdict and the fix beside each, and copies a report without any token in it.

use defender_tags_core::cloud::BaseUrl;
use defender_tags_wasm::{
    AccessToken, ClientConfig, DefenderClient, PageRequest, TokenError, TokenRequest,
};
use leptos::prelude::*;

use crate::check::{self, ApiOutcome, Claims, Step, Verdict};
use crate::components::top_bar::use_app_state;
use crate::msal;
use crate::session;
use crate::settings;
use crate::site;
use crate::state::AppState;

/// The page's frame: its heading and outer classes, shared with its loading placeholder
/// ([`super::lazy`]).
pub const FRAME: super::lazy::Frame = super::lazy::Frame {
    title: "Connection check",
    class: "page narrow check",
};

/// The check page.
#[component]
pub fn CheckPage() -> impl IntoView {
    let state = use_app_state();
    let steps = RwSignal::new(Vec::<Step>::new());
    let running = RwSignal::new(false);
    let copied = RwSignal::new(None::<&'static str>);
    let run = move || {
        if running.get_untracked() {
            return;
        }
        running.set(true);
        copied.set(None);
        steps.set(Vec::new());
        leptos::task::spawn_local(async move {
            run_checks(state, steps).await;
            running.set(false);
        });
    };
    // Starts once the session start has read the site configuration and settled the sign-in.
    Effect::new(move |done: Option<bool>| {
        let settled = !matches!(
            state.session.0.get(),
            crate::state::Session::Starting | crate::state::Session::Redirecting
        );
        let ready = settled && !matches!(state.site.0.get(), site::SiteState::Loading);
        if ready && done != Some(true) {
            run();
            return true;
        }
        done.unwrap_or(false)
    });
    let copy = move |_| {
        let text = steps.with_untracked(|s| {
            check::report(
                s,
                &session::page_origin_and_path(),
                &crate::activity::format_time(crate::state::now_ms()),
            )
        });
        copied.set(Some(if crate::download::copy_text(&text) {
            "Report copied."
        } else {
            "Could not copy: select the report below instead."
        }));
    };
    view! {
        <section class=FRAME.class aria-labelledby="check-title">
            <h1 id="check-title">{FRAME.title}</h1>
            <p class="muted">
                "Checks each link from this page to Defender: configuration, sign-in, token, API \
                 and permissions. It reads one machine and writes nothing. The report below holds \
                 no token, so it can go into a helpdesk ticket."
            </p>
            <div class="form-actions">
                <button class="btn btn-primary" data-testid="check-run" disabled=move || running.get()
                    on:click=move |_| run()>
                    {move || if running.get() { "Checking\u{2026}" } else { "Run the check again" }}
                </button>
                <button class="btn" data-testid="check-copy" disabled=move || running.get() || steps.with(Vec::is_empty)
                    on:click=copy>"Copy report"</button>
                <span role="status" class="ok-text">{move || copied.get()}</span>
            </div>
            <ol class="check-steps" data-testid="check-steps" aria-busy=move || running.get().then_some("true")>
                {move || steps.get().into_iter().map(|s| {
                    let class = format!("check-step check-{}", s.verdict.label().replace(' ', "-"));
                    view! {
                        <li class=class data-step=s.id data-verdict=s.verdict.label()>
                            <div class="check-head">
                                <span class="check-verdict">{verdict_text(s.verdict)}</span>
                                <strong>{s.title}</strong>
                            </div>
                            <p class="check-detail">{s.detail}</p>
                            {s.fix.map(|f| view! { <p class="check-fix"><strong>"Fix: "</strong>{f}</p> })}
                        </li>
                    }
                }).collect_view()}
            </ol>
            <p class="muted">
                "Deployment guide: " <code>{check::DEPLOY_DOC}</code> " in the Defender Tags repository. "
                <a href=site::href("/settings")>"Settings"</a>
            </p>
        </section>
    }
}

fn verdict_text(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "\u{2713} Pass",
        Verdict::Warn => "! Warning",
        Verdict::Fail => "\u{2717} Fail",
        Verdict::Skipped => "\u{2013} Not run",
    }
}

/// Fills `steps` one at a time, so a slow step shows the ones before it.
async fn run_checks(state: AppState, steps: RwSignal<Vec<Step>>) {
    let push = |s: Step| steps.update(|v| v.push(s));
    let skip_rest = |from: usize, after: &str| {
        for (id, title) in &check::TITLES[from..] {
            steps.update(|v| v.push(Step::skipped(id, title, after)));
        }
    };

    // 1. Configuration.
    let site_state = state.site.0.get_untracked();
    let resolved = match &site_state {
        site::SiteState::Unreadable(why) => {
            Err(vec![format!("config.json could not be read: {why}")])
        }
        other => settings::effective(
            other,
            &state.settings.0.get_untracked(),
            site::chosen_tenant().as_deref(),
            &session::page_origin(),
        )
        .map_err(|errors| errors.into_iter().map(|e| e.message).collect()),
    };
    push(check::config_step(&resolved));
    let Ok(resolved) = resolved else {
        skip_rest(1, "the configuration");
        return;
    };

    // 2. Authority.
    let url = check::discovery_url(&resolved.authority);
    let authority = fetch_issuer(&url).await;
    let authority_ok = authority.is_ok();
    push(check::authority_step(&url, authority));
    if !authority_ok {
        skip_rest(2, "the sign-in authority");
        return;
    }

    // 3. Signed in: a silent token, with redirects held so an expired session is reported here
    // instead of sending the browser away mid-check.
    let session = state.session.0.get_untracked();
    if let crate::state::Session::Failed(why) = &session {
        // The session start already tried a silent token and was refused.
        push(check::signed_in_step(
            Some("The account"),
            Some(&Err(why.clone())),
        ));
        skip_rest(3, "signing in");
        return;
    }
    let account = session.user().map(|u| {
        if u.username.is_empty() {
            u.name.clone()
        } else {
            u.username.clone()
        }
    });
    let token = match &account {
        Some(_) => {
            msal::hold_redirects(true);
            let t = msal::get_token(false).await;
            msal::hold_redirects(false);
            Some(t)
        }
        None => None,
    };
    let token_outcome = token
        .as_ref()
        .map(|t| t.as_ref().map(|_| ()).map_err(ToString::to_string));
    push(check::signed_in_step(
        account.as_deref(),
        token_outcome.as_ref(),
    ));
    let Some(Ok(info)) = token else {
        skip_rest(3, "signing in");
        return;
    };

    // 4. Token claims.
    let claims = Claims {
        aud: info.aud.clone(),
        tid: info.tid.clone(),
        iss: info.iss.clone(),
        exp: info.exp,
        scp: info.scp.clone(),
        roles: info.roles.clone(),
    };
    push(check::token_step(
        &claims,
        &resolved,
        crate::state::now_ms() / 1000,
    ));

    // 5–6. One listing call through the client (the same code path as the app's searches).
    let outcome = list_one(&resolved).await;
    let [reach, read] = check::api_steps(&resolved.api_base, &outcome);
    push(reach);
    push(read);

    // 7. Write permission (from the token; nothing is written).
    push(check::write_step(&claims));

    // 8. Rate budget, as this page's client counted it.
    let (minute, hour) = state
        .backend
        .0
        .with_untracked(|b| b.as_ref().and_then(|b| b.0.rate_usage()))
        .unwrap_or((0, 0));
    push(check::budget_step(minute + 1, hour + 1));
}

async fn list_one(resolved: &settings::Resolved) -> ApiOutcome {
    let base = match BaseUrl::parse(&resolved.api_base) {
        Ok(b) => b,
        Err(e) => {
            return ApiOutcome::Failed {
                code: "invalid_input".into(),
                status: None,
                message: e.to_string(),
            };
        }
    };
    let mut config = ClientConfig::new(base);
    config.scopes = resolved.scopes.clone();
    // One attempt: the check reports what happens, it does not wait out retries.
    config.max_attempts = 1;
    let client = DefenderClient::new(config, |request: TokenRequest| async move {
        msal::hold_redirects(true);
        let info = msal::get_token(request.force_refresh).await;
        msal::hold_redirects(false);
        AccessToken::new(
            info.map_err(|e| TokenError::Provider(e.to_string()))?
                .access_token,
        )
    });
    match client
        .list_machines(
            None,
            PageRequest {
                top: Some(1),
                skip: None,
            },
        )
        .await
    {
        Ok(page) => ApiOutcome::Listed(page.machines.len()),
        Err(e) => ApiOutcome::Failed {
            code: e.code().to_owned(),
            status: e.status(),
            message: e.to_string(),
        },
    }
}

/// The `issuer` of an OpenID discovery document, or why it could not be read.
async fn fetch_issuer(url: &str) -> Result<String, String> {
    #[cfg(target_arch = "wasm32")]
    {
        use wasm_bindgen::JsCast;
        use wasm_bindgen_futures::JsFuture;
        let window = web_sys::window().ok_or("no window")?;
        let init = web_sys::RequestInit::new();
        init.set_credentials(web_sys::RequestCredentials::Omit);
        let response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
            .await
            .map_err(|_| {
                "no answer (network failure, the page's Content-Security-Policy, or CORS)"
                    .to_owned()
            })?
            .dyn_into::<web_sys::Response>()
            .map_err(|_| "not an HTTP response".to_owned())?;
        let status = response.status();
        let text = JsFuture::from(response.text().map_err(|_| "unreadable body")?)
            .await
            .ok()
            .and_then(|t| t.as_string())
            .unwrap_or_default();
        if status != 200 {
            let aadsts = text
                .split(|c: char| !c.is_ascii_alphanumeric())
                .find(|w| w.starts_with("AADSTS"))
                .map(|c| format!(" ({c})"))
                .unwrap_or_default();
            return Err(format!("HTTP {status}{aadsts}"));
        }
        let doc: serde_json::Value =
            serde_json::from_str(&text).map_err(|_| "the answer is not JSON".to_owned())?;
        doc.get("issuer")
            .and_then(|i| i.as_str())
            .map(str::to_owned)
            .ok_or_else(|| "the answer has no issuer".to_owned())
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        Err(format!("{url}: not running in a browser"))
    }
}
