//! `/settings`: sign-in and API settings (client id, tenant, cloud, API host, scope, demo mode).

use leptos::prelude::*;

use crate::components::top_bar::use_app_state;
use crate::session;
use crate::site;
use defender_tags_core::cloud::Cloud;
use defender_tags_core::site_config::SiteConfig;

use crate::settings::{FieldError, Settings, allowed_api_hosts, cloud_from_param, cloud_param};

/// The page's frame: its heading and outer classes, shared with its loading placeholder
/// ([`super::lazy`]).
pub const FRAME: super::lazy::Frame = super::lazy::Frame {
    title: "Settings",
    class: "page narrow settings",
};

/// The settings form. Saving validates, stores (localStorage) and restarts sign-in.
#[component]
pub fn SettingsPage() -> impl IntoView {
    let state = use_app_state();
    let draft = RwSignal::new(state.settings.0.get_untracked());
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let saved = RwSignal::new(false);
    let error_for = move |field: &'static str| {
        move || {
            errors.with(|e| {
                e.iter()
                    .find(|e| e.field == field)
                    .map(|e| e.message.clone())
            })
        }
    };
    let demo = move || draft.with(|d| d.demo);
    let loopback = session::is_loopback_page();

    let site_state = state.site.0;
    let org = move || site_state.with(|s| s.config().cloned());
    let locked = move || !site_state.with(|s| s.settings_unlocked());
    // With an organisation configuration, the form only matters when the user overrides it.
    let form_off = move || org().is_some() && (locked() || !draft.with(|d| d.override_org));
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if locked() {
            return;
        }
        let next = draft.get_untracked();
        let checked = if form_off() {
            Ok(())
        } else {
            next.resolve(&session::page_origin()).map(|_| ())
        };
        match checked {
            Err(e) => {
                errors.set(e);
                saved.set(false);
            }
            Ok(_) => {
                errors.set(Vec::new());
                match session::save_settings(&next) {
                    Ok(()) => {
                        state.settings.0.set(next);
                        saved.set(true);
                        state.backend.0.set(None);
                        leptos::task::spawn_local(session::start(state));
                    }
                    Err(e) => errors.set(vec![FieldError {
                        field: "form",
                        message: e,
                    }]),
                }
            }
        }
    };
    let text_field = move |id: &'static str,
                           label: &'static str,
                           help: &'static str,
                           get: fn(&Settings) -> String,
                           set: fn(&mut Settings, String)| {
        let err = error_for(id);
        let err2 = error_for(id);
        view! {
            <div class="field">
                <label for=format!("settings-{id}")>{label}</label>
                <input id=format!("settings-{id}") type="text" autocomplete="off" spellcheck="false"
                    aria-describedby=format!("settings-{id}-help settings-{id}-error")
                    aria-invalid=move || err().is_some().then_some("true")
                    list=(id == "api_host").then_some("settings-api-hosts")
                    prop:value=move || draft.with(get)
                    on:input=move |ev| draft.update(|d| set(d, event_target_value(&ev)))/>
                {(id == "api_host").then(|| view! {
                    // The documented hosts of the chosen cloud, as suggestions.
                    <datalist id="settings-api-hosts">
                        {move || allowed_api_hosts(draft.with(|d| d.cloud))
                            .into_iter()
                            .map(|h| view! { <option value=h></option> })
                            .collect_view()}
                    </datalist>
                })}
                <p id=format!("settings-{id}-help") class="hint">{help}</p>
                <p id=format!("settings-{id}-error") class="error-text">{err2}</p>
            </div>
        }
    };

    view! {
        <section class=FRAME.class aria-labelledby="settings-title">
            <h1 id="settings-title">{FRAME.title}</h1>
            <p class="muted">
                "Your own values are saved in this browser (never a token). Sign-in uses MSAL with a \
                 redirect; the token stays in MSAL's cache for this tab (sessionStorage) and is sent \
                 only to the API host."
            </p>
            <p><a href=site::href("/check") data-testid="settings-check">"Check the connection"</a>
                " \u{2014} sign-in, token, API reachability (CORS) and permissions, step by step."</p>
            {move || org().map(|c| view! { <OrgConfig config=c locked=locked()/> })}
            // A locked configuration has nothing to edit here.
            <form class="card form" on:submit=save novalidate=true hidden=locked>
                {move || (org().is_some() && !locked()).then(|| view! {
                    <div class="field checkbox-field">
                        <input id="settings-override" type="checkbox"
                            prop:checked=move || draft.with(|d| d.override_org)
                            on:change=move |ev| draft.update(|d| d.override_org = event_target_checked(&ev))/>
                        <label for="settings-override">"Use my own values instead of the organisation's"</label>
                        <p class="hint">"For testing another app registration or tenant in this browser only."</p>
                    </div>
                })}
                <fieldset class="plain-fieldset" disabled=form_off>
                <legend class="visually-hidden">"Your own values"</legend>
                <div class="field checkbox-field">
                    <input id="settings-demo" type="checkbox" prop:checked=demo
                        disabled=!loopback
                        on:change=move |ev| draft.update(|d| d.demo = event_target_checked(&ev))/>
                    <label for="settings-demo">"Demo mode (local emulator)"</label>
                    <p class="hint">{if loopback {
                        "Signs in with the emulator that serves this page, and calls its API."
                    } else {
                        "Available only when the page is served by the local emulator."
                    }}</p>
                </div>
                <fieldset disabled=demo>
                    <legend>"Microsoft Entra ID and Defender API"</legend>
                    {text_field("client_id", "Application (client) id", "The app registration's id (a GUID). Its redirect URI must be this site's address, platform \u{201c}Single-page application\u{201d}.", |s| s.client_id.clone(), |s, v| s.client_id = v)}
                    {text_field("tenant", "Tenant", "Tenant id (GUID) or primary domain, e.g. contoso.onmicrosoft.com.", |s| s.tenant.clone(), |s, v| s.tenant = v)}
                    <div class="field">
                        <label for="settings-cloud">"Cloud"</label>
                        <select id="settings-cloud" on:change=move |ev| {
                            let v = event_target_value(&ev);
                            draft.update(|d| d.cloud = cloud_from_param(&v).unwrap_or(Cloud::Commercial));
                        }>
                            {Cloud::ALL.into_iter().map(|c| view! {
                                <option value=cloud_param(c) selected=move || draft.with(|d| d.cloud == c)>{c.name()}</option>
                            }).collect_view()}
                        </select>
                    </div>
                    {text_field("api_host", "API host", "Leave empty for the cloud's default, or pick a regional host such as eu.api.security.microsoft.com.", |s| s.api_host.clone(), |s, v| s.api_host = v)}
                    {text_field("scope", "Scope", "Leave empty for the default (https://api.securitycenter.microsoft.com/.default in the commercial cloud).", |s| s.scope.clone(), |s, v| s.scope = v)}
                </fieldset>
                </fieldset>
                <p class="error-text" role="alert">{error_for("form")}</p>
                <div class="form-actions">
                    <button type="submit" class="btn btn-primary" disabled=locked>"Save and sign in again"</button>
                    {move || saved.get().then(|| view! { <span class="ok-text" role="status">"Saved."</span> })}
                </div>
            </form>
        </section>
    }
}

/// The organisation's values from `config.json`, read-only.
#[component]
fn OrgConfig(config: SiteConfig, locked: bool) -> impl IntoView {
    let tenants = config
        .tenants
        .iter()
        .map(|t| {
            view! {
                <tr>
                    <th scope="row">{t.name.clone()}</th>
                    <td><code>{t.id.clone()}</code></td>
                    <td>{t.cloud.name()}</td>
                    <td><code>{t.api_base.as_str().to_owned()}</code></td>
                    <td><code>{t.scope.clone()}</code></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card org-config" aria-labelledby="org-config-title" data-testid="org-config">
            <h2 id="org-config-title">"Your organisation's configuration"</h2>
            <p class="muted">{if locked {
                "Set by whoever runs this site (config.json) and locked: these values are used and cannot be changed here."
            } else {
                "Set by whoever runs this site (config.json). They are used unless you choose your own values below."
            }}</p>
            <p>"Application (client) id: " <code data-testid="org-client-id">{config.client_id.clone()}</code></p>
            <div class="org-tenants">
                <table class="simple-table">
                    <caption class="visually-hidden">"Tenants"</caption>
                    <thead><tr>
                        <th scope="col">"Tenant"</th><th scope="col">"Id"</th><th scope="col">"Cloud"</th>
                        <th scope="col">"API"</th><th scope="col">"Scope"</th>
                    </tr></thead>
                    <tbody>{tenants}</tbody>
                </table>
            </div>
        </section>
    }
}
