//! Embedding in another portal: `mountTagManager(element, options)` (bulk change, tag inventory,
//! activity and a machine's tags, in tabs) and `mountTagEditor(element, { machineId, ... })`
//! (one machine's tag chips), each in the host's element, with the host's token callback.
//!
//! ```js
//! import init, { mountTagEditor } from "./pkg/web_ui.js";
//! await init();
//! const handle = await mountTagEditor(document.getElementById("tags"), {
//!   baseUrl: "https://api.security.microsoft.com",   // or the portal's edge proxy
//!   machineId: "…40 hex…",
//!   getToken: async ({ scopes, forceRefresh }) => portal.token(scopes, forceRefresh),
//! });
//! handle.unmount();
//! ```
//!
//! Options: `baseUrl` (required), `getToken` (required; called before every request, the token is
//! never kept), `scopes`, `timeScale` (emulator only), `user` (`{ name, username }`, else read
//! from the token), `permissions` (e.g. `["Machine.Read"]`, else read from the token's `scp` /
//! `roles`), `machineId` (editor). No routing: the host page's URL is left alone.

// The JS entry points (`prepare`, the mount functions) exist only on wasm32, where the host's
// JavaScript is; natively only the logic (claims) is compiled and tested, so what only they use
// is unused there.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use std::rc::Rc;

use leptos::prelude::*;
use serde::Deserialize;
use wasm_bindgen::JsCast as _;

#[cfg(target_arch = "wasm32")]
use defender_tags_core::cloud::BaseUrl;
use defender_tags_core::{Machine, MachineId, MachineRef};
use defender_tags_wasm::DefenderClient;
#[cfg(target_arch = "wasm32")]
use defender_tags_wasm::{AccessToken, ClientConfig, TokenError, TokenRequest};

use crate::access::Access;
use crate::api::{BackendRef, ClientBackend};
use crate::bulk::flow::{self, Phase};
use crate::components::bulk_compose::{BulkCompose, BulkSource};
use crate::components::bulk_job::BulkJobView;
use crate::components::machine_panel::MachinePanel;
use crate::components::notice::NoticeRegion;
use crate::routes::activity::ActivityView;
use crate::routes::inventory::InventoryView;
use crate::search::SearchState;
use crate::settings::Settings;
use crate::state::{AppState, Session, User};

/// The options both mount functions read (camelCase in JS).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EmbedOptions {
    /// API origin (the Defender API, an edge proxy, or the emulator).
    pub base_url: String,
    /// Token scopes; default the cloud's `.default` scope.
    pub scopes: Option<Vec<String>>,
    /// Emulator time scale.
    pub time_scale: Option<f64>,
    /// Who is signed in, for display and the activity log.
    pub user: Option<EmbedUser>,
    /// Permissions to assume instead of reading the token's claims.
    pub permissions: Option<Vec<String>>,
    /// The machine (editor only).
    pub machine_id: Option<String>,
}

/// The host's user.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EmbedUser {
    /// Display name.
    pub name: String,
    /// Username / e-mail.
    pub username: String,
}

/// Why mounting failed (the JS promise rejects with this message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmbedError {
    /// The options object is not usable.
    #[error("invalid options: {0}")]
    Options(String),
    /// The first token could not be obtained.
    #[error("getToken failed: {0}")]
    Token(String),
}

/// Claims read from an access token's payload (not verified: the API verifies the token; these
/// only decide what the UI offers).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Claims {
    /// Delegated scopes, space separated.
    pub scp: String,
    /// Application roles.
    pub roles: Vec<String>,
    /// Display name.
    pub name: String,
    /// Username (v2 tokens).
    pub preferred_username: String,
    /// Username (v1 tokens).
    pub upn: String,
    /// Username (older v1 tokens).
    pub unique_name: String,
    /// Application id (app tokens have no user).
    pub appid: String,
}

impl Claims {
    /// The permissions these claims grant.
    pub fn access(&self) -> Access {
        Access::new(
            self.scp.split_whitespace().map(str::to_owned).collect(),
            self.roles.clone(),
        )
    }

    /// The user these claims name.
    pub fn user(&self) -> EmbedUser {
        let username = [&self.preferred_username, &self.upn, &self.unique_name]
            .into_iter()
            .find(|u| !u.is_empty())
            .cloned()
            .unwrap_or_else(|| format!("app {}", self.appid));
        EmbedUser {
            name: if self.name.is_empty() {
                username.clone()
            } else {
                self.name.clone()
            },
            username,
        }
    }
}

/// Decodes a JWT's payload (base64url JSON) into [`Claims`]; `None` for anything else.
pub fn decode_claims(token: &str) -> Option<Claims> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64url(payload)?;
    serde_json::from_slice(&bytes).ok()
}

fn base64url(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Which tab of the embedded manager is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tab {
    Machine,
    Bulk,
    Inventory,
    Activity,
}

impl Tab {
    const ALL: [Tab; 4] = [Tab::Bulk, Tab::Inventory, Tab::Machine, Tab::Activity];
    fn label(self) -> &'static str {
        match self {
            Tab::Machine => "Machine tags",
            Tab::Bulk => "Bulk change",
            Tab::Inventory => "Tag inventory",
            Tab::Activity => "Activity",
        }
    }
    fn id(self) -> &'static str {
        match self {
            Tab::Machine => "dt-tab-machine",
            Tab::Bulk => "dt-tab-bulk",
            Tab::Inventory => "dt-tab-inventory",
            Tab::Activity => "dt-tab-activity",
        }
    }
}

/// The whole manager without routing (the host owns the URL): what `mountTagManager` mounts,
/// under its own `AppState::provide_for`.
#[component]
pub fn EmbeddedManager() -> impl IntoView {
    let ids = crate::ids::use_ids();
    let tab = RwSignal::new(Tab::Bulk);
    let search_state = RwSignal::new(SearchState::default());
    let search = Memo::new(move |_| search_state.get());
    let source = RwSignal::new(BulkSource::Search);
    let phase = flow::use_bulk_flow().phase();
    let composing = Memo::new(move |_| phase.with(|p| matches!(p, Phase::Compose)));
    let on_job = Callback::new(move |_: ()| tab.set(Tab::Bulk));
    let tabs = Tab::ALL
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            // WAI-ARIA tabs: one tab in the Tab order, arrow keys move between tabs.
            let on_key = move |ev: web_sys::KeyboardEvent| {
                let n = Tab::ALL.len();
                let next = match ev.key().as_str() {
                    "ArrowRight" => (i + 1) % n,
                    "ArrowLeft" => (i + n - 1) % n,
                    "Home" => 0,
                    "End" => n - 1,
                    _ => return,
                };
                ev.prevent_default();
                let to = Tab::ALL[next];
                tab.set(to);
                if let Some(el) = document().get_element_by_id(&ids.id(to.id()))
                    && let Ok(el) = el.dyn_into::<web_sys::HtmlElement>()
                {
                    let _ = el.focus();
                }
            };
            view! {
                <button type="button" role="tab" class="tab" id=ids.id(t.id()) aria-controls=ids.id("dt-embed-panel")
                    aria-selected=move || if tab.get() == t { "true" } else { "false" }
                    tabindex=move || if tab.get() == t { "0" } else { "-1" }
                    on:click=move |_| tab.set(t)
                    on:keydown=on_key>{t.label()}</button>
            }
        })
        .collect_view();
    view! {
        <div class="embed-manager" data-testid="embedded-manager">
            <div role="tablist" aria-label="Defender tags" class="tabs">{tabs}</div>
            <div id=ids.id("dt-embed-panel") class="embed-body" role="tabpanel" aria-labelledby=move || ids.id(tab.get().id())>
                {move || match tab.get() {
                    Tab::Bulk => view! {
                        <BulkJobView/>
                        <Show when=move || composing.get()>
                            <BulkCompose search=search on_search=Callback::new(move |s| search_state.set(s))
                                source=source on_source=Callback::new(move |s| source.set(s))/>
                        </Show>
                    }.into_any(),
                    Tab::Inventory => view! { <InventoryView on_job=on_job embedded=true/> }.into_any(),
                    Tab::Activity => view! { <ActivityView/> }.into_any(),
                    Tab::Machine => view! { <MachineLookup/> }.into_any(),
                }}
            </div>
            <NoticeRegion/>
        </div>
    }
}

/// Find one machine by its id (a name is not looked up) and edit its tags.
#[component]
fn MachineLookup() -> impl IntoView {
    let ids = crate::ids::use_ids();
    let text = RwSignal::new(String::new());
    let chosen = RwSignal::new(None::<MachineId>);
    view! {
        <form class="field" on:submit=move |ev| {
            ev.prevent_default();
            chosen.set(None);
            let t = text.get_untracked();
            if let Ok(MachineRef::Id(id)) = MachineRef::parse(&t) {
                chosen.set(Some(id));
            }
        }>
            <label for=ids.id("dt-machine-id")>"Machine id"</label>
            <div class="inline-row">
                <input id=ids.id("dt-machine-id") type="search" autocomplete="off" spellcheck="false"
                    prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))/>
                <button type="submit" class="btn">"Open"</button>
            </div>
        </form>
        {move || chosen.get().map(|id| view! { <EditorBody id=id/> })}
    }
}

/// One machine's details and tag chips, loaded by id.
#[component]
fn EditorBody(id: MachineId) -> impl IntoView {
    let client = use_context::<EmbedClientCtx>().map(|c| c.0.get_value());
    let machine = RwSignal::new(None::<Machine>);
    let error = RwSignal::new(None::<String>);
    let load_id = id.clone();
    if let Some(EmbedClient(client, access)) = client {
        leptos::task::spawn_local(async move {
            match client.machine(&MachineRef::Id(load_id)).await {
                Ok(m) => machine.set(Some(m)),
                Err(e) => error.set(Some(
                    crate::api::UiError::from_client(&e, false, &access).message,
                )),
            }
        });
    }
    view! {
        <p class="error-text" role="alert" data-testid="embed-error">{move || error.get()}</p>
        <MachinePanel id=id machine=machine duplicate=Signal::derive(|| false) on_close=Callback::new(|_: ()| {})/>
    }
}

/// The client of an embedded mount, for components that need more than [`crate::api::Backend`].
#[derive(Clone, Debug)]
struct EmbedClient(DefenderClient, Access);

/// Context handle of the [`EmbedClient`] (`!Send`, hence local storage).
#[derive(Clone, Copy, Debug)]
struct EmbedClientCtx(StoredValue<EmbedClient, LocalStorage>);

/// A mounted manager or editor; `unmount()` removes it.
#[wasm_bindgen::prelude::wasm_bindgen]
pub struct EmbedHandle {
    mounted: Option<Box<dyn std::any::Any>>,
}

impl std::fmt::Debug for EmbedHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbedHandle")
            .field("mounted", &self.mounted.is_some())
            .finish()
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
impl EmbedHandle {
    /// Removes the mounted view (its reactive state is disposed with it).
    pub fn unmount(&mut self) {
        self.mounted = None;
    }
}

struct Prepared {
    options: EmbedOptions,
    client: DefenderClient,
    access: Access,
    user: EmbedUser,
}

#[cfg(target_arch = "wasm32")]
async fn prepare(options: wasm_bindgen::JsValue) -> Result<Prepared, EmbedError> {
    use wasm_bindgen::JsCast;
    let get_token: js_sys::Function = js_sys::Reflect::get(&options, &"getToken".into())
        .ok()
        .and_then(|f| f.dyn_into().ok())
        .ok_or_else(|| {
            EmbedError::Options(
                "getToken must be a function returning a token (or a promise of one)".into(),
            )
        })?;
    let parsed: EmbedOptions =
        serde_wasm_bindgen::from_value(options).map_err(|e| EmbedError::Options(e.to_string()))?;
    let base = BaseUrl::parse(&parsed.base_url)
        .map_err(|e| EmbedError::Options(format!("baseUrl: {e}")))?;
    let mut config = ClientConfig::new(base);
    if let Some(scopes) = parsed.scopes.clone() {
        config.scopes = scopes;
    }
    if let Some(scale) = parsed.time_scale {
        config.time_scale = scale;
    }
    let scopes = config.scopes.clone();
    // One token now, only to read who the user is and what they may do; it is not kept.
    let claims = js_token(&get_token, &scopes, false)
        .await
        .map(|raw| decode_claims(&raw).unwrap_or_default())
        .map_err(|e| EmbedError::Token(e.to_string()))?;
    let call = move |request: TokenRequest| {
        let get_token = get_token.clone();
        async move {
            AccessToken::new(js_token(&get_token, &request.scopes, request.force_refresh).await?)
        }
    };
    let access = match &parsed.permissions {
        Some(p) => Access::new(p.clone(), Vec::new()),
        None => claims.access(),
    };
    let user = parsed.user.clone().unwrap_or_else(|| claims.user());
    let client = DefenderClient::new(config, call);
    Ok(Prepared {
        options: parsed,
        client,
        access,
        user,
    })
}

/// Calls the host's `getToken({ scopes, forceRefresh })`; accepts a string or a promise of one.
#[cfg(target_arch = "wasm32")]
async fn js_token(
    get_token: &js_sys::Function,
    scopes: &[String],
    force_refresh: bool,
) -> Result<String, TokenError> {
    use defender_tags_wasm::fetch::js_error_text;
    let request = js_sys::Object::new();
    let list = js_sys::Array::new();
    for s in scopes {
        list.push(&s.into());
    }
    let _ = js_sys::Reflect::set(&request, &"scopes".into(), &list);
    let _ = js_sys::Reflect::set(&request, &"forceRefresh".into(), &force_refresh.into());
    let value = get_token
        .call1(&wasm_bindgen::JsValue::NULL, &request)
        .map_err(|e| TokenError::Provider(js_error_text(&e)))?;
    let value = match value.dyn_ref::<js_sys::Promise>() {
        Some(p) => wasm_bindgen_futures::JsFuture::from(p.clone())
            .await
            .map_err(|e| TokenError::Provider(js_error_text(&e)))?,
        None => value,
    };
    value
        .as_string()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| TokenError::Provider("getToken did not return a token string".into()))
}

fn provide(p: &Prepared) {
    let user = User {
        name: p.user.name.clone(),
        username: p.user.username.clone(),
        access: p.access.clone(),
    };
    let state = AppState::provide_for(
        Settings::default(),
        Session::SignedIn(user),
        None,
        crate::ids::Ids::next_mount(),
    );
    let backend = BackendRef(Rc::new(ClientBackend::new(
        p.client.clone(),
        p.access.clone(),
    )));
    state.backend.0.set(Some(crate::activity::logged(
        backend,
        state.session.0,
        state.activity,
    )));
    provide_context(EmbedClientCtx(StoredValue::new_local(EmbedClient(
        p.client.clone(),
        p.access.clone(),
    ))));
}

fn mount(
    element: web_sys::HtmlElement,
    class: &'static str,
    view: impl FnOnce() -> AnyView + 'static,
) -> EmbedHandle {
    element.set_class_name(format!("{} embed-root {class}", element.class_name()).trim());
    let handle = leptos::mount::mount_to(element, view);
    EmbedHandle {
        mounted: Some(Box::new(handle)),
    }
}

/// Mounts the tag manager (bulk change, tag inventory, a machine's tags, activity) into
/// `element`. Resolves to a handle with `unmount()`; rejects with a message on bad options or
/// when the first `getToken` call fails.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(js_name = mountTagManager)]
pub async fn mount_tag_manager(
    element: web_sys::HtmlElement,
    options: wasm_bindgen::JsValue,
) -> Result<EmbedHandle, wasm_bindgen::JsError> {
    let prepared = prepare(options).await?;
    Ok(mount(element, "embed-manager-root", move || {
        provide(&prepared);
        view! { <EmbeddedManager/> }.into_any()
    }))
}

/// Mounts one machine's tag editor (`options.machineId`) into `element`.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(js_name = mountTagEditor)]
pub async fn mount_tag_editor(
    element: web_sys::HtmlElement,
    options: wasm_bindgen::JsValue,
) -> Result<EmbedHandle, wasm_bindgen::JsError> {
    let prepared = prepare(options).await?;
    let id_text = prepared.options.machine_id.clone().unwrap_or_default();
    let id =
        MachineId::parse(&id_text).map_err(|e| EmbedError::Options(format!("machineId: {e}")))?;
    Ok(mount(element, "embed-editor", move || {
        provide(&prepared);
        view! {
            <div class="embed-editor" data-testid="embedded-editor">
                <EditorBody id=id/>
                <NoticeRegion/>
            </div>
        }
        .into_any()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_read_from_a_jwt_payload() {
        // {"scp":"Machine.Read Machine.ReadWrite","name":"Ann","preferred_username":"ann@x"}
        let payload = "eyJzY3AiOiJNYWNoaW5lLlJlYWQgTWFjaGluZS5SZWFkV3JpdGUiLCJuYW1lIjoiQW5uIiwicHJlZmVycmVkX3VzZXJuYW1lIjoiYW5uQHgifQ";
        let c = decode_claims(&format!("h.{payload}.s")).unwrap();
        assert!(c.access().can_edit());
        assert_eq!(c.user().name, "Ann");
        assert_eq!(c.user().username, "ann@x");
        assert!(decode_claims("not a jwt").is_none());
        assert!(decode_claims("a.!!!.b").is_none());
    }

    #[test]
    fn app_tokens_are_named_by_their_app_id() {
        let c = Claims {
            roles: vec!["Machine.ReadWrite.All".into()],
            appid: "abc".into(),
            ..Claims::default()
        };
        assert!(c.access().can_edit());
        assert_eq!(c.user().username, "app abc");
    }
}
