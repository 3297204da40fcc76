//! The top bar: product name, navigation, and who is signed in with what permission.

use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::access::AccessLevel;
use crate::routes::NAV;
use crate::session;
use crate::site;
use crate::state::{AppState, Session};

/// Header with navigation and the session.
#[component]
pub fn TopBar() -> impl IntoView {
    let location = use_location();
    let links = NAV
        .iter()
        .map(|item| {
            let link = site::href(item.path);
            let here = link.clone();
            let current = move || (location.pathname.get() == here).then_some("page");
            view! { <li><a href=link aria-current=current>{item.label}</a></li> }
        })
        .collect_view();
    view! {
        <header class="top-bar">
            <a class="brand" href=site::href("/")>
                <span class="brand-mark" aria-hidden="true">"DT"</span>
                <span>"Defender Tags"</span>
            </a>
            <nav aria-label="Main">
                <ul>{links}</ul>
            </nav>
            <TenantSwitcher/>
            <SessionArea/>
        </header>
    }
}

/// With several tenants in `config.json`: which one this page works on. Switching reloads the
/// app for the other tenant (see [`site::switch_tenant`]).
#[component]
fn TenantSwitcher() -> impl IntoView {
    let state = AppState::from_context();
    move || {
        let site = state.site.0.get();
        let config = site.config()?;
        if config.tenants.len() < 2 {
            return None;
        }
        let chosen = site::chosen_tenant();
        let current = site::current_tenant(config, chosen.as_deref())?.id.clone();
        let from = current.clone();
        let options = config
            .tenants
            .iter()
            .map(|t| {
                let selected = t.id == current;
                view! { <option value=t.id.clone() selected=selected>{t.name.clone()}</option> }
            })
            .collect_view();
        Some(view! {
            <div class="tenant-switcher">
                <label for="tenant-switcher">"Tenant"</label>
                <select id="tenant-switcher" data-testid="tenant-switcher" on:change=move |ev| {
                    let to = event_target_value(&ev);
                    if !to.eq_ignore_ascii_case(&from) {
                        site::switch_tenant(&from, &to);
                    }
                }>{options}</select>
            </div>
        })
    }
}

/// The right-hand side of the top bar.
#[component]
fn SessionArea() -> impl IntoView {
    let state = AppState::from_context();
    let session = state.session.0;
    let demo = move || effective_demo(&state);
    move || {
        match session.get() {
        Session::SignedIn(user) => {
            let (badge, badge_class) = match user.access.level() {
                AccessLevel::ReadWrite => ("Can edit tags", "badge badge-ok"),
                AccessLevel::Read => ("Read-only", "badge badge-muted"),
                AccessLevel::None => ("No machine access", "badge badge-warn"),
            };
            let who = if user.name.is_empty() { user.username.clone() } else { user.name.clone() };
            view! {
                <div class="session" data-testid="session">
                    {demo().then(|| view! { <span class="badge badge-demo">"Demo"</span> })}
                    <div class="who">
                        <span class="who-name" data-testid="user-name">{who}</span>
                        <span class="who-perm" data-testid="user-permission">
                            <span class=badge_class>{badge}</span>
                            " "{user.access.summary()}
                        </span>
                    </div>
                    <button class="btn btn-quiet" on:click=move |_| {
                        leptos::task::spawn_local(session::sign_out(state));
                    }>"Sign out"</button>
                </div>
            }
            .into_any()
        }
        Session::SignedOut | Session::Failed(_) => view! {
            <div class="session">
                {demo().then(|| view! { <span class="badge badge-demo">"Demo"</span> })}
                <button class="btn btn-primary" on:click=move |_| {
                    leptos::task::spawn_local(session::sign_in(state));
                }>"Sign in"</button>
            </div>
        }
        .into_any(),
        Session::Starting | Session::Redirecting => view! {
            <div class="session"><span class="muted">"Signing in\u{2026}"</span></div>
        }
        .into_any(),
        Session::NeedsSettings(_) => view! {
            <div class="session"><a class="btn btn-quiet" href=site::href("/settings")>"Configure sign-in"</a></div>
        }
        .into_any(),
        Session::ConfigInvalid(_) => view! {
            <div class="session"><span class="badge badge-warn">"Configuration error"</span></div>
        }
        .into_any(),
    }
    }
}

/// Whether this page signs in with the local emulator (the effective connection's, not only
/// the browser's own settings: an organisation's config.json may point at the emulator too).
pub fn effective_demo(state: &AppState) -> bool {
    let site = state.site.0.get();
    state.settings.0.with(|s| {
        crate::settings::effective(
            &site,
            s,
            site::chosen_tenant().as_deref(),
            &session::page_origin(),
        )
        .is_ok_and(|r| r.demo)
    })
}

/// The app state from context; see [`AppState::from_context`].
pub fn use_app_state() -> AppState {
    AppState::from_context()
}
