//! Starting a session: settings from localStorage, MSAL, the first token, the API client.

use std::rc::Rc;

use defender_tags_core::cloud::BaseUrl;
use defender_tags_core::throttle::BudgetScope;
use defender_tags_wasm::{AccessToken, ClientConfig, DefenderClient, TokenError, TokenRequest};
use leptos::prelude::*;

use crate::access::Access;
use crate::api::{BackendRef, ClientBackend};
use crate::msal::{self, AuthConfig, AuthError};
use crate::settings::{self, Settings};
use crate::site::{self, SiteState};
use crate::state::{AppState, Session, User};

/// localStorage key of the settings (ids and hosts only; never a token).
const SETTINGS_KEY: &str = "defender-tags.settings";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// The page's origin (`http://127.0.0.1:4000`).
pub fn page_origin() -> String {
    web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default()
}

/// The page's address without its query (`https://tags.contoso.com/tools/`), for reports.
pub fn page_origin_and_path() -> String {
    let path = web_sys::window()
        .and_then(|w| w.location().pathname().ok())
        .unwrap_or_default();
    format!("{}{path}", page_origin())
}

/// Whether this page load is the connection check (`{base}check`).
fn on_check_page() -> bool {
    web_sys::window()
        .and_then(|w| w.location().pathname().ok())
        .is_some_and(|p| p == site::href("/check"))
}

/// Whether the page is served over http from a loopback host (the emulator).
pub fn is_loopback_page() -> bool {
    let origin = page_origin();
    ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| origin == *p || origin.starts_with(&format!("{p}:")))
}

/// Saved settings; without any, demo mode when served by the emulator, else empty.
pub fn load_settings() -> Settings {
    let saved = storage()
        .and_then(|s| s.get_item(SETTINGS_KEY).ok().flatten())
        .and_then(|json| serde_json::from_str::<Settings>(&json).ok());
    match saved {
        Some(s) => s,
        None if is_loopback_page() => settings::demo_settings(),
        None => Settings::default(),
    }
}

/// Saves settings to localStorage.
pub fn save_settings(s: &Settings) -> Result<(), String> {
    let json = serde_json::to_string(s).map_err(|e| e.to_string())?;
    storage()
        .ok_or_else(|| "this browser does not allow saving settings (localStorage)".to_owned())?
        .set_item(SETTINGS_KEY, &json)
        .map_err(|_| "could not save the settings (localStorage is full or blocked)".to_owned())
}

/// Sets MSAL up from the settings, completes a redirect sign-in, and when someone is signed in
/// builds the API client. Updates `state.session` and `state.backend`.
pub async fn start(state: AppState) {
    if matches!(state.site.0.get_untracked(), SiteState::Loading) {
        state.site.0.set(site::load().await);
    }
    let site_state = state.site.0.get_untracked();
    match &site_state {
        SiteState::Invalid(errors) => {
            state.session.0.set(Session::ConfigInvalid(
                errors.iter().map(ToString::to_string).collect(),
            ));
            return;
        }
        SiteState::Unreadable(why) => {
            state.session.0.set(Session::ConfigInvalid(vec![format!(
                "config.json could not be read: {why}"
            )]));
            return;
        }
        _ => {}
    }
    if let (SiteState::Loaded(config), None) = (&site_state, site::chosen_tenant()) {
        // Pin the tenant in use, so per-tenant browser state (the activity log) has the same
        // key before and after the first switch.
        if let Some(first) = config.tenants.first() {
            site::remember_tenant(&first.id);
        }
    }
    let settings = state.settings.0.get_untracked();
    let chosen = site::chosen_tenant();
    let resolved =
        match settings::effective(&site_state, &settings, chosen.as_deref(), &page_origin()) {
            Ok(r) => r,
            Err(errors) => {
                let text = errors
                    .into_iter()
                    .map(|e| e.message)
                    .collect::<Vec<_>>()
                    .join(" ");
                state.session.0.set(Session::NeedsSettings(text));
                return;
            }
        };
    let config = AuthConfig {
        client_id: resolved.client_id.clone(),
        authority: resolved.authority.clone(),
        redirect_uri: format!("{}{}", page_origin(), site::base_path()),
        scopes: resolved.scopes.clone(),
        demo: resolved.demo,
        tenant_id: resolved.tenant_id.clone(),
    };
    let account = match msal::init(&config).await {
        Ok(Some(a)) => a,
        Ok(None) => {
            state.session.0.set(Session::SignedOut);
            return;
        }
        Err(e) => {
            state
                .session
                .0
                .set(Session::Failed(sign_in_failure(&e.to_string())));
            return;
        }
    };
    // One silent token now: its claims say what the user may do. On the connection check a
    // session that needs the user is reported there instead of sending the browser away.
    let diagnosing = on_check_page();
    if diagnosing {
        msal::hold_redirects(true);
    }
    let first_token = msal::get_token(false).await;
    if diagnosing {
        msal::hold_redirects(false);
    }
    let (access, token_tenant) = match first_token {
        // The rate budget is per application + tenant: the token's tenant id names it below.
        Ok(t) => (Access::new(t.scp, t.roles), t.tid),
        Err(AuthError::SignInRequired(_)) => {
            state.session.0.set(Session::Failed(format!(
                "the sign-in of {} has expired or was revoked: sign in again.",
                if account.username.is_empty() {
                    &account.name
                } else {
                    &account.username
                }
            )));
            return;
        }
        Err(AuthError::Redirecting) => {
            state.session.0.set(Session::Redirecting);
            return;
        }
        Err(e) => {
            state
                .session
                .0
                .set(Session::Failed(format!("Could not get a token: {e}")));
            return;
        }
    };
    let base = match BaseUrl::parse(&resolved.api_base) {
        Ok(b) => b,
        Err(e) => {
            state
                .session
                .0
                .set(Session::NeedsSettings(format!("API address: {e}")));
            return;
        }
    };
    let mut client_config = ClientConfig::new(base);
    client_config.scopes = resolved.scopes.clone();
    // This tab shares its rate budget only with clients that may spend the same one (ids only;
    // the token itself is not kept).
    client_config.budget_scope = BudgetScope::new(Some(&token_tenant), Some(&resolved.client_id));
    // Advanced hunting: Microsoft Graph's origin and scope. A bad Graph origin only turns
    // hunting off (the client refuses before asking for a token); the rest works as before.
    let graph_scopes = vec![resolved.graph_scope.clone()];
    client_config.graph_base_url = BaseUrl::parse(&resolved.graph_base).ok();
    client_config.graph_scopes = graph_scopes.clone();
    let api_scopes = resolved.scopes.clone();
    let client = DefenderClient::new(client_config, move |request: TokenRequest| {
        // The same callback serves both tokens; the client sends each to its own origin only.
        let for_api = request.scopes == api_scopes;
        async move {
            let info = if for_api {
                msal::get_token(request.force_refresh).await
            } else {
                msal::get_token_for(&request.scopes, request.force_refresh).await
            }
            .map_err(|e| TokenError::Provider(e.to_string()))?;
            AccessToken::new(info.access_token)
        }
    });
    let hunter = crate::hunting::ClientHunter::new(client.clone(), graph_scopes);
    let backend = ClientBackend::new(client, access.clone()).with_hunter(hunter);
    // Every single-machine change made through this backend goes to the activity log.
    let backend = crate::activity::logged(
        BackendRef(Rc::new(backend)),
        state.session.0,
        state.activity,
    );
    state.backend.0.set(Some(backend));
    // The activity log of this user in this tenant, kept in this browser across sessions.
    leptos::task::spawn_local(state.activity.attach(crate::bulk::journal::Scope::new(
        &crate::site::tenant_scope(),
        &account.username,
    )));
    state.session.0.set(Session::SignedIn(User {
        name: account.name,
        username: account.username,
        access,
    }));
}

/// The sentence shown when completing a sign-in failed; `msal` is MSAL's `code: message`.
pub fn sign_in_failure(msal: &str) -> String {
    let code = msal.split(':').next().unwrap_or_default().trim();
    let lead = match code {
        "access_denied" | "user_cancelled" => "Sign-in was cancelled or refused.",
        "consent_required" | "interaction_required" | "login_required" => {
            "Sign-in needs you to complete it at the identity provider."
        }
        "invalid_client" | "unauthorized_client" => {
            "The identity provider does not accept this application (check the client id and \
             that its redirect URI is this site's address, platform \u{201c}Single-page application\u{201d})."
        }
        _ => "Sign-in failed.",
    };
    format!("{lead} ({msal})")
}

/// Starts the redirect to the identity provider.
pub async fn sign_in(state: AppState) {
    state.session.0.set(Session::Redirecting);
    if let Err(e) = msal::sign_in().await {
        state
            .session
            .0
            .set(Session::Failed(format!("Could not start sign-in: {e}")));
    }
}

/// Signs out of this tab, leaving nothing of the user on screen: their notices, their activity
/// view (this tab's copy; their durable log stays theirs) and any open machine (it lives in the
/// URL, so the app restarts at its root).
pub async fn sign_out(state: AppState) {
    let _ = msal::sign_out().await;
    state.notice.0.set(None);
    state.activity.forget();
    state.backend.0.set(None);
    state.session.0.set(Session::SignedOut);
    #[cfg(target_arch = "wasm32")]
    if let Some(w) = web_sys::window() {
        let _ = w.location().replace(&crate::site::href("/"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_failures_are_explained_and_keep_the_detail() {
        let t = sign_in_failure("access_denied: AADSTS65004: The user declined to sign in.");
        assert!(t.starts_with("Sign-in was cancelled"), "{t}");
        assert!(t.contains("AADSTS65004"), "{t}");
        assert!(sign_in_failure("invalid_client: bad").contains("client id"));
        assert!(sign_in_failure("weird").starts_with("Sign-in failed."));
    }
}
