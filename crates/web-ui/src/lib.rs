//! defender-tags web UI: find Defender for Endpoint machines and add or remove their tags.
//!
//! Leptos 0.8, client-side rendered. Logic lives in plain modules (tested natively); components
//! only lay out and wire it. Data flow: [`api::Backend`] (over `defender_tags_wasm`) →
//! [`table::Loaded`] → narrowed and sorted indices → a virtualised table.

pub mod access;
pub mod activity;
pub mod api;
pub mod bulk;
pub mod check;
pub mod components;
pub mod download;
#[cfg(feature = "embed")]
pub mod embed;
pub mod hunting;
pub mod idb;
pub mod ids;
pub mod msal;
pub mod query;
pub mod routes;
pub mod rules;
pub mod search;
pub mod session;
pub mod settings;
pub mod site;
pub mod state;
pub mod table;
pub mod tags;

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use crate::components::notice::{ClearNoticeOnNavigate, NoticeRegion};
use crate::components::top_bar::TopBar;
use crate::state::{AppState, Session};

/// The application: contexts, the top bar and the routes.
#[component]
pub fn App() -> impl IntoView {
    let state = AppState::provide(session::load_settings(), Session::Starting, None);
    leptos::task::spawn_local(session::start(state));
    view! { <Shell/> }
}

/// The layout and routes, given contexts provided by [`App`] (or by a test).
#[component]
pub fn Shell() -> impl IntoView {
    // Under a sub-path (`cargo xtask dist --base-path`), routes and in-app navigation resolve
    // against it, and links outside it are left to the browser.
    let base = site::router_base(&site::base_path());
    let main = NodeRef::<leptos::html::Main>::new();
    // The router would treat "#main" as a navigation; the skip link's job is to move focus.
    let skip = move |ev: leptos::ev::MouseEvent| {
        ev.prevent_default();
        if let Some(m) = main.get_untracked() {
            let _ = m.focus();
        }
    };
    // "/" focuses the search box, as on most search pages (not while typing in a field).
    let slash = window_event_listener(leptos::ev::keydown, |ev| {
        if ev.key() != "/" || ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
            return;
        }
        let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        let typing = doc.active_element().is_some_and(|e| {
            matches!(e.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                || e.get_attribute("contenteditable").is_some()
        });
        if typing {
            return;
        }
        if let Some(input) = doc
            .get_element_by_id("search-input")
            .and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(e).ok())
        {
            ev.prevent_default();
            let _ = input.focus();
        }
    });
    on_cleanup(move || slash.remove());
    view! {
        <Router base=base>
            <a class="skip-link" href="#main" on:click=skip>"Skip to main content"</a>
            <TopBar/>
            <NoticeRegion/>
            <ClearNoticeOnNavigate/>
            <main id="main" tabindex="-1" node_ref=main>
                {routes::lazy::interrupted_runs()}
                <Routes fallback=routes::not_found::NotFound>
                    <Route path=path!("/") view=routes::search::SearchPage/>
                    <Route path=path!("/bulk") view=routes::lazy::bulk/>
                    <Route path=path!("/inventory") view=routes::lazy::inventory/>
                    <Route path=path!("/rules") view=routes::lazy::rules/>
                    <Route path=path!("/activity") view=routes::lazy::activity/>
                    <Route path=path!("/settings") view=routes::lazy::settings/>
                    <Route path=path!("/check") view=routes::lazy::check/>
                </Routes>
            </main>
        </Router>
    }
}

/// The attribute marking the app's own shell element in `www/index.html`
/// (`<div id="app" data-defender-tags-app>`). The app mounts only there: a host page that loads
/// this bundle for any other reason keeps its own `#app`.
pub const SHELL_MARKER: &str = "data-defender-tags-app";

/// Mounts [`App`] into the shell element [`SHELL_MARKER`] names (replacing its static "Loading"
/// text); on any other page nothing is mounted. Embedding uses the embed build's explicit mount
/// calls instead (`mountTagManager` / `mountTagEditor`, the `embed` module, behind the `embed`
/// feature).
pub fn mount() {
    let selector = format!("div#app[{SHELL_MARKER}]");
    let target = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.query_selector(&selector).ok().flatten())
        .and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(e).ok());
    if let Some(el) = target {
        el.set_inner_html("");
        leptos::mount::mount_to(el, App).forget();
    }
}
