//! Choosing the machines of a bulk change (from a search, or an imported list) and the tag and
//! action; "Preview" hands a job to `crate::bulk::flow`.
//!
//! Split by source: `search` (machines from a search), `import` (an imported list) and
//! `hunting` (an advanced hunting query); each ends in `tag_form` (the tag and action).

use leptos::prelude::*;

use crate::search::SearchState;

mod hunting;
mod import;
mod search;
mod tag_form;

use hunting::HuntingSource;
use import::ImportSource;
use search::SearchSource;
use tag_form::TagActionForm;

/// Where the machines come from (`?source=` on `/bulk`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BulkSource {
    /// A search: pick rows or take every match.
    #[default]
    Search,
    /// A pasted list or a CSV file.
    Import,
    /// The machines an advanced hunting query found.
    Hunting,
}

impl BulkSource {
    /// URL spelling.
    pub fn as_param(self) -> &'static str {
        match self {
            BulkSource::Search => "search",
            BulkSource::Import => "import",
            BulkSource::Hunting => "hunting",
        }
    }

    /// Parses the URL spelling (anything else is a search).
    pub fn from_param(s: &str) -> Self {
        match s {
            "import" => BulkSource::Import,
            "hunting" => BulkSource::Hunting,
            _ => BulkSource::Search,
        }
    }
}

/// Height of the pick list, in px (its CSS height must match).
pub(super) const PICK_LIST_PX: f64 = 360.0;

/// Choosing machines, tag and action.
#[component]
pub fn BulkCompose(
    /// The search whose matches can be picked (from the URL in the app).
    search: Memo<SearchState>,
    /// Called with a changed search.
    on_search: Callback<SearchState>,
    /// Where the machines come from.
    #[prop(into)]
    source: Signal<BulkSource>,
    /// Called to switch the source.
    on_source: Callback<BulkSource>,
) -> impl IntoView {
    let ids = crate::ids::use_ids();
    // The hunting tab only where the backend can hunt (the app; not an embedded manager with
    // its host's token callback). Without the permission it is shown, disabled, with the reason.
    let backend = crate::components::top_bar::use_app_state().backend.0;
    let can_hunt =
        Memo::new(move |_| backend.with(|b| b.as_ref().is_some_and(|b| b.0.hunter().is_some())));
    let tab = move |s: BulkSource, label: &'static str| {
        view! {
            <button type="button" role="tab" class="tab" id=ids.id(&format!("tab-{}", s.as_param()))
                aria-controls=ids.id("bulk-source-panel")
                aria-selected=move || if source.get() == s { "true" } else { "false" }
                tabindex=move || if source.get() == s { "0" } else { "-1" }
                on:click=move |_| on_source.run(s)
                on:keydown=move |ev: web_sys::KeyboardEvent| {
                    // Arrow keys move between the tabs, wrapping (WAI-ARIA tabs pattern).
                    let all = [BulkSource::Search, BulkSource::Import, BulkSource::Hunting];
                    let order = &all[..if can_hunt.get_untracked() { 3 } else { 2 }];
                    let step = match ev.key().as_str() {
                        "ArrowRight" => 1,
                        "ArrowLeft" => order.len() - 1,
                        _ => 0,
                    };
                    if step > 0 {
                        ev.prevent_default();
                        let at = order.iter().position(|t| *t == s).unwrap_or(0);
                        let other = order[(at + step) % order.len()];
                        on_source.run(other);
                        crate::ids::focus_near(&ev, &ids.id(&format!("tab-{}", other.as_param())));
                    }
                }>
                {label}
            </button>
        }
    };
    view! {
        <crate::components::read_only::ReadOnlyBanner what="run bulk changes"/>
        <section class="card bulk-compose" aria-labelledby=ids.id("bulk-compose-title")>
            <h2 id=ids.id("bulk-compose-title")>"1. Choose machines"</h2>
            <div role="tablist" aria-label="Where the machines come from" class="tabs">
                {tab(BulkSource::Search, "From a search")}
                {tab(BulkSource::Import, "Import a list")}
                {move || can_hunt.get().then(|| tab(BulkSource::Hunting, "Hunting query"))}
            </div>
            <div id=ids.id("bulk-source-panel") role="tabpanel"
                aria-labelledby=move || ids.id(&format!("tab-{}", source.get().as_param()))>
                {move || match source.get() {
                    BulkSource::Search => view! { <SearchSource search=search on_search=on_search/> }.into_any(),
                    BulkSource::Import => view! { <ImportSource/> }.into_any(),
                    BulkSource::Hunting if can_hunt.get() => view! { <HuntingSource/> }.into_any(),
                    BulkSource::Hunting => view! { <SearchSource search=search on_search=on_search/> }.into_any(),
                }}
            </div>
        </section>
    }
}
