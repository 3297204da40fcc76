//! Embedding in another portal: `mountTagManager(element, options)` (bulk change, tag inventory,
//! activity and a machine's tags, in tabs) and `mountTagEditor(element, { machineId, ... })`
//! (one machine's tag chips), each in the host's element, with the host's token callback.
//!
//! ```js
//! import init, { mountTagEditor } from "defender-tags-wasm/ui";
//! await init();
//! const handle = await mountTagEditor(document.getElementById("tags"), {
//!   baseUrl: "https://api.security.microsoft.com",   // or the portal's edge proxy
//!   machineId: "…40 hex…",
//!   getToken: async ({ scopes, forceRefresh }) => portal.token(scopes, forceRefresh),
//! });
//! handle.unmount();   // or remove the element: the component goes with it
//! ```
//!
//! Each component renders into an open shadow root of the host's element, with its own
//! stylesheet ([`style`]); the host themes it through `--dt-*` custom properties only.
//!
//! Options: `baseUrl` (required; an origin, or a path under one for a proxy mounted there),
//! `getToken` (required; called before every request, the token is never kept), `scopes`,
//! `timeScale` (emulator only), `user` (`{ name, username }`, else read from the token),
//! `permissions` (e.g. `["Machine.Read"]`, else read from the token's `scp` / `roles`),
//! `machineId` (editor). No routing: the host page's URL is left alone.

// The JS entry points (`prepare`, the mount functions) exist only on wasm32, where the host's
// JavaScript is; natively only the logic (claims) is compiled and tested, so what only they use
// is unused there.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use std::rc::Rc;

use leptos::prelude::*;
use serde::Deserialize;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen::JsCast as _;

#[cfg(target_arch = "wasm32")]
use defender_tags_core::MachineId;
#[cfg(target_arch = "wasm32")]
use defender_tags_core::cloud::BaseUrl;
use defender_tags_wasm::DefenderClient;
#[cfg(target_arch = "wasm32")]
use defender_tags_wasm::{AccessToken, ClientConfig, TokenError, TokenRequest};

use crate::access::Access;
use crate::api::{BackendRef, ClientBackend};
use crate::settings::Settings;
use crate::state::{AppState, Session, User};

mod claims;
mod lifecycle;
pub mod style;
mod views;

#[cfg(target_arch = "wasm32")]
use crate::components::notice::NoticeRegion;
pub use claims::{Claims, EmbedUser, decode_claims};
#[cfg(target_arch = "wasm32")]
use views::EditorBody;
pub use views::EmbeddedManager;
use views::{EmbedClient, EmbedClientCtx};

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

#[wasm_bindgen::prelude::wasm_bindgen(typescript_custom_section)]
const MOUNT_OPTIONS_TS: &'static str = r#"
/** What a component asks `getToken` for: scopes, and `forceRefresh` after a 401. */
export interface TokenRequestInfo {
    scopes: string[];
    forceRefresh: boolean;
}

/** Options of both mount functions. */
export interface MountOptions {
    /** The Defender API, or the portal's edge proxy (an origin, or a path under one: "https://portal.contoso.com/defender/"). */
    baseUrl: string;
    /** Called before every request; the token is never kept. */
    getToken: (request: TokenRequestInfo) => Promise<string> | string;
    /** Token scopes (default: the cloud's ".default" scope). */
    scopes?: string[];
    /** API time per real time, for emulators started with --time-scale (default 1). */
    timeScale?: number;
    /** Who is signed in, for display and the activity log (default: read from the token). */
    user?: { name: string; username: string };
    /** Permissions to assume, e.g. ["Machine.Read"] (default: the token's scp / roles). */
    permissions?: string[];
}

/** Options of `mountTagEditor`: one machine, by its 40-hex id. */
export interface EditorOptions extends MountOptions {
    machineId: string;
}
"#;

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// `MountOptions` (read member by member: it holds a function).
    #[wasm_bindgen(typescript_type = "MountOptions")]
    pub type MountOptionsJs;
    /// `EditorOptions`.
    #[wasm_bindgen(typescript_type = "EditorOptions")]
    pub type EditorOptionsJs;
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
    /// The element cannot hold the component.
    #[error("element: {0}")]
    Element(String),
}

/// A mounted manager or editor; `unmount()` removes it. The handle only names the mount: the
/// component stays mounted when the handle is dropped or garbage-collected, until `unmount()` or
/// until its element is removed from the page (see [`lifecycle`]).
#[wasm_bindgen::prelude::wasm_bindgen]
#[derive(Debug)]
pub struct EmbedHandle {
    id: u32,
}

#[wasm_bindgen::prelude::wasm_bindgen]
impl EmbedHandle {
    /// Removes the mounted view (its reactive state is disposed with it) and empties its shadow
    /// root; the element can be mounted into again. Unmounting twice does nothing.
    pub fn unmount(&self) {
        lifecycle::unmount(self.id);
    }

    /// Whether the component is still mounted (false after `unmount()` or once its element left
    /// the page).
    #[wasm_bindgen::prelude::wasm_bindgen(getter)]
    pub fn mounted(&self) -> bool {
        lifecycle::is_mounted(self.id)
    }
}

/// Called by the embed binary's `main` (src/embed_main.rs): a binary links a library's code only
/// when it uses something in it, and the exports here (the mount functions, the handle) are used
/// only from JavaScript. Referencing this module keeps them; LTO still drops what they do not
/// reach (the app's shell and router).
pub fn keep_exports() {
    std::hint::black_box(mounted_components as fn() -> u32);
}

/// How many embedded components are mounted on this page (diagnostics and tests).
#[wasm_bindgen::prelude::wasm_bindgen(js_name = mountedComponents)]
pub fn mounted_components() -> u32 {
    u32::try_from(lifecycle::count()).unwrap_or(u32::MAX)
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
    let base = BaseUrl::parse_prefixed(&parsed.base_url)
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

/// Mounts `view` in a shadow root of `element`, styled by [`style::CSS`], and registers it.
#[cfg(target_arch = "wasm32")]
fn mount(
    element: web_sys::HtmlElement,
    class: &'static str,
    view: impl FnOnce() -> AnyView + 'static,
) -> Result<EmbedHandle, EmbedError> {
    let host: web_sys::Element = element.into();
    let root = lifecycle::shadow_root_for(&host).map_err(|e| EmbedError::Element(e.to_string()))?;
    let dom = |e: wasm_bindgen::JsValue| {
        EmbedError::Element(defender_tags_wasm::fetch::js_error_text(&e))
    };
    style::adopt(&root).map_err(dom)?;
    let container: web_sys::HtmlElement = host
        .owner_document()
        .ok_or_else(|| EmbedError::Element("the element has no document".into()))?
        .create_element("div")
        .map_err(dom)?
        .unchecked_into();
    container.set_class_name(&format!("{} {class}", lifecycle::ROOT_CLASS));
    root.append_child(&container).map_err(dom)?;
    let handle = leptos::mount::mount_to(container, view);
    Ok(EmbedHandle {
        id: lifecycle::register(host, root, Box::new(handle)),
    })
}

/// Mounts the tag manager (bulk change, tag inventory, a machine's tags, activity) into
/// `element`. Resolves to a handle with `unmount()`; rejects with a message on bad options or
/// when the first `getToken` call fails.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(js_name = mountTagManager)]
pub async fn mount_tag_manager(
    element: web_sys::HtmlElement,
    options: MountOptionsJs,
) -> Result<EmbedHandle, wasm_bindgen::JsError> {
    let prepared = prepare(options.into()).await?;
    Ok(mount(element, "embed-manager-root", move || {
        provide(&prepared);
        view! { <EmbeddedManager/> }.into_any()
    })?)
}

/// Mounts one machine's tag editor (`options.machineId`) into `element`.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(js_name = mountTagEditor)]
pub async fn mount_tag_editor(
    element: web_sys::HtmlElement,
    options: EditorOptionsJs,
) -> Result<EmbedHandle, wasm_bindgen::JsError> {
    let prepared = prepare(options.into()).await?;
    let id_text = prepared.options.machine_id.clone().unwrap_or_default();
    let id =
        MachineId::parse(&id_text).map_err(|e| EmbedError::Options(format!("machineId: {e}")))?;
    Ok(mount(element, "embed-editor-root", move || {
        provide(&prepared);
        view! {
            <div class="embed-editor" data-testid="embedded-editor">
                <EditorBody id=id/>
                <NoticeRegion/>
            </div>
        }
        .into_any()
    })?)
}
