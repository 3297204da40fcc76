//! `/bulk`: bulk tag changes. The search filter and the source (`?source=import`) live in the URL
//! (same parameters as the search page, so `/bulk?tag=Pilot` picks from the machines tagged
//! Pilot); the running job lives in `crate::bulk::flow` and survives leaving the page.

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::bulk::flow::{self, Phase};
use crate::components::bulk_compose::{BulkCompose, BulkSource};
use crate::components::bulk_job::BulkJobView;
use crate::components::sign_in_card::SignInCard;
use crate::components::top_bar::use_app_state;
use crate::search::SearchState;

/// The page's frame: its heading and outer classes, shared with its loading placeholder
/// ([`super::lazy`]).
pub const FRAME: super::lazy::Frame = super::lazy::Frame {
    title: "Bulk change",
    class: "page bulk-page",
};

/// The bulk page.
#[component]
pub fn BulkPage() -> impl IntoView {
    let state = use_app_state();
    let ready = move || {
        state.session.0.with(|s| s.user().is_some()) && state.backend.0.with(|b| b.is_some())
    };
    view! {
        <div class=FRAME.class>
            <h1>{FRAME.title}</h1>
            <Show when=ready fallback=|| view! { <SignInCard/> }>
                <BulkRoute/>
            </Show>
        </div>
    }
}

#[component]
fn BulkRoute() -> impl IntoView {
    let query = use_query_map();
    let navigate = use_navigate();
    let search = Memo::new(move |_| {
        query.with(|q| SearchState::from_pairs(q.latest_values().map(|(k, v)| (k.as_ref(), v))).0)
    });
    let source = Memo::new(move |_| {
        query.with(|q| BulkSource::from_param(q.get_str("source").unwrap_or("")))
    });
    let go = move |s: SearchState, src: BulkSource| {
        let mut qs = s.to_query_string();
        if src != BulkSource::Search {
            let param = src.as_param();
            qs = if qs.is_empty() {
                format!("?source={param}")
            } else {
                format!("{qs}&source={param}")
            };
        }
        let url = format!("/bulk{qs}");
        navigate(
            &url,
            NavigateOptions {
                scroll: false,
                ..Default::default()
            },
        );
    };
    let go2 = go.clone();
    let on_search = Callback::new(move |s: SearchState| go(s, source.get_untracked()));
    let on_source = Callback::new(move |src: BulkSource| go2(search.get_untracked(), src));
    let phase = flow::use_bulk_flow().phase();
    let composing = Memo::new(move |_| phase.with(|p| matches!(p, Phase::Compose)));
    view! {
        <BulkJobView/>
        <Show when=move || composing.get()>
            <BulkCompose search=search on_search=on_search source=source on_source=on_source/>
        </Show>
    }
}
