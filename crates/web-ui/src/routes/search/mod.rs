//! `/`: search machines, see and edit their tags.
//!
//! The search lives in the URL ([`SearchState`]). The server is asked again when the part of the
//! search that changes *which* machines are listed changes; everything else (sorting, the open
//! machine, text still being typed) is applied at once to what is loaded.

use std::sync::Arc;
use std::time::Duration;

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_query_map};

mod narrowing;

use crate::api::UiError;
use crate::components::filter_bar::FilterBar;
use crate::components::machine_panel::MachinePanel;
use crate::components::machine_table::MachineTable;
use crate::components::search_box::SearchBox;
use crate::components::sign_in_card::SignInCard;
use crate::components::top_bar::use_app_state;
use crate::search::SearchState;
use crate::state::now_ms;
use crate::table::{Loaded, SharedLoaded, SortDir, SortKey};
use crate::tags::TagCatalog;
use defender_tags_core::query::MachineQuery;

/// How long typing pauses before the search goes to the URL (and the server).
const TYPING_DEBOUNCE: Duration = Duration::from_millis(350);

/// The search page: a sign-in prompt until someone is signed in.
#[component]
pub fn SearchPage() -> impl IntoView {
    let state = use_app_state();
    let ready = move || {
        state.session.0.with(|s| s.user().is_some()) && state.backend.0.with(|b| b.is_some())
    };
    view! {
        <Show when=ready fallback=|| view! { <SignInCard/> }>
            <MachineSearch/>
        </Show>
    }
}

/// Pushes a search to the URL (a history entry: back/forward walk through searches).
#[derive(Clone)]
struct Go(Arc<dyn Fn(SearchState) + Send + Sync>);

impl Go {
    fn to(&self, next: SearchState) {
        (self.0)(next)
    }
}

#[component]
fn MachineSearch() -> impl IntoView {
    let state = use_app_state();
    let query_map = use_query_map();
    let navigate = use_navigate();
    let go = Go(Arc::new(move |next: SearchState| {
        navigate(
            &format!("/{}", next.to_query_string()),
            NavigateOptions {
                scroll: false,
                ..Default::default()
            },
        )
    }));

    let parsed = Memo::new(move |_| {
        query_map.with(|q| SearchState::from_pairs(q.latest_values().map(|(k, v)| (k.as_ref(), v))))
    });
    let search = Memo::new(move |_| parsed.with(|(s, _)| s.clone()));
    // A hand-edited link still opens; what it could not use is said, naming the parameter.
    let url_errors = Memo::new(move |_| {
        parsed.with(|(_, e)| e.iter().map(ToString::to_string).collect::<Vec<_>>())
    });
    // The search box's text while typing; follows the URL when it changes from outside
    // (back/forward, a pasted link): syncing an input with the URL is what this effect is for.
    let draft = RwSignal::new(search.get_untracked().query.text);
    Effect::new(move |_| {
        let text = search.with(|s| s.query.text.clone());
        if draft.get_untracked().trim() != text {
            draft.set(text);
        }
    });

    // Keyed by what the server is asked: a name or address typed in the box narrows what is
    // loaded, it never lists the tenant again.
    let server_key = Memo::new(move |_| search.with(|s| s.query.server_part()));
    let backend = state.backend.0;
    // Each result remembers the search it answers, so "updating" can be shown while a newer
    // search runs and the older results stay visible (and narrowed) meanwhile.
    // A finished bulk run (UI part 2) changed tags on the server: list again.
    let runs_finished = state.bulk.runs_finished();
    // Not a `LocalResource`: a key that changed while its previous listing was still loading
    // was sometimes never listed (two filter changes in quick succession left the page
    // "updating" for good). Every key change starts a listing; an answer is kept only while it
    // answers the current key, so a slow older answer never replaces a newer one.
    let results = RwSignal::new(None::<(MachineQuery, Result<Arc<Loaded>, UiError>)>);
    let provenance = crate::hunting::provenance::use_provenance();
    Effect::new(move |_| {
        runs_finished.track();
        let key = server_key.get();
        let backend = backend.get();
        leptos::task::spawn_local(async move {
            let result = match backend {
                Some(backend) => backend
                    .0
                    .search(key.clone(), now_ms())
                    .await
                    .map(|m| Arc::new(Loaded::new(m))),
                None => Err(UiError::new(
                    crate::api::UiErrorKind::Auth,
                    "Not signed in.",
                )),
            };
            if server_key.try_get_untracked().as_ref() == Some(&key) {
                if let (Ok(loaded), Some(p)) = (&result, provenance) {
                    // The machine panel's chips ask where the tags of all of these come from.
                    p.set_loaded(loaded.clone());
                }
                if let Ok(loaded) = &result {
                    // Once the results show, the columns only a search reads.
                    let loaded = loaded.clone();
                    set_timeout(move || loaded.prepare_search(), Duration::ZERO);
                }
                results.try_set(Some((key, result)));
            }
        });
    });
    // Tags and machine groups across the tenant (for autocomplete and the group filter). While
    // the search is unfiltered its own results are the whole tenant; only once a filter is used
    // is the tenant listed separately, once per session (the latch never goes back to false).
    let tenant_needed = Memo::new(move |prev: Option<&bool>| {
        prev.copied().unwrap_or(false) || !server_key.with(MachineQuery::is_empty)
    });
    let tenant = LocalResource::new(move || {
        let backend = backend.get();
        let needed = tenant_needed.get();
        async move {
            match backend {
                Some(b) if needed => {
                    b.0.search(MachineQuery::default(), now_ms())
                        .await
                        .ok()
                        .map(|ms| SharedLoaded(Arc::new(Loaded::new(ms))))
                }
                _ => None,
            }
        }
    });
    let tenant_machines = Memo::new(move |_| -> Option<SharedLoaded> {
        if let Some(Some(all)) = tenant.get() {
            return Some(all);
        }
        results.with(|r| match r {
            Some((key, Ok(loaded))) if key.is_empty() => Some(SharedLoaded(loaded.clone())),
            _ => None,
        })
    });
    // The filter lists and the tag catalog are worked out from the whole tenant, about 70 ms at
    // 100k machines (a Chromium profile of the load): once the results are on screen, not
    // before them. A later listing's timeout runs after an earlier one's, so the last wins.
    let tenant_settled = RwSignal::new(None::<SharedLoaded>);
    Effect::new(move |_| {
        let all = tenant_machines.get();
        set_timeout(
            move || {
                tenant_settled.try_set(all);
            },
            Duration::ZERO,
        );
    });
    let catalog = state.catalog.0;
    let choices = Memo::new(move |_| {
        tenant_settled.with(|t| {
            t.as_ref()
                .map(|all| crate::search::FilterChoices::from_machines(all.0.machines.iter()))
                .unwrap_or_default()
        })
    });
    Effect::new(move |_| {
        // Feeds the shared catalog (a context other components read) from the tenant listing.
        tenant_settled.with(|t| {
            if let Some(all) = t {
                catalog.set(TagCatalog::of(&all.0.machines));
            }
        });
    });

    let loaded = Signal::derive(move || results.get().and_then(|(_, r)| r.ok()));
    let error = Signal::derive(move || results.get().and_then(|(_, r)| r.err()));
    let loading = Signal::derive(move || {
        results.with(|r| r.as_ref().map(|(key, _)| key.clone())) != Some(server_key.get())
    });

    // Instant narrowing: the URL's filters with the text as typed, over what is loaded.
    let effective = Memo::new(move |_| {
        let mut q = search.with(|s| s.query.clone());
        q.text = draft.get();
        q
    });
    // Sorted once per listing and sort order, narrowed per keystroke (see `narrowing`).
    let sort_order = Memo::new(move |_| search.with(|s| (s.sort, s.dir)));
    let indices = narrowing::narrowed_rows(loaded, sort_order, effective);

    // Nothing matched a name: offer the closest loaded names, worked out only then and only once
    // typing pauses (the text has reached the URL): comparing a text with every name takes
    // ~100 ms at 100k machines, which per keystroke would stall typing.
    let closest = Memo::new(move |_| {
        let text = search.with(|s| s.query.text.clone());
        if draft.with(|d| d.trim() != text) || !indices.with(|i| i.is_empty()) {
            return None;
        }
        if !matches!(
            defender_tags_core::query::classify(&text),
            defender_tags_core::query::TextQuery::NamePart(_)
        ) {
            return None;
        }
        loaded.with(|l| {
            let l = l.as_ref()?;
            let names = defender_tags_core::query::closest_names(
                l.machines
                    .iter()
                    .filter_map(|m| m.computer_dns_name.as_deref()),
                &text,
                3,
            )
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>();
            Some((text, names))
        })
    });
    let typing_timer = StoredValue::new(None::<TimeoutHandle>);
    let go_text = go.clone();
    let on_text = Callback::new(move |text: String| {
        draft.set(text);
        if let Some(h) = typing_timer.get_value() {
            h.clear();
        }
        let go = go_text.clone();
        let handle = set_timeout_with_handle(
            move || {
                let mut next = search.get_untracked();
                next.query.text = draft.get_untracked().trim().to_owned();
                next.selected = None;
                if next != search.get_untracked() {
                    go.to(next);
                }
            },
            TYPING_DEBOUNCE,
        )
        .ok();
        typing_timer.set_value(handle);
    });
    let go_filters = go.clone();
    // A filter change also takes the text as typed (its debounce is then moot), so a quick
    // "type, then pick a filter" never loses or reorders either.
    let on_filters = Callback::new(move |mut next: SearchState| {
        if let Some(h) = typing_timer.get_value() {
            h.clear();
        }
        next.query.text = draft.get_untracked().trim().to_owned();
        go_filters.to(next)
    });
    let go_sort = go.clone();
    let on_sort = Callback::new(move |key: SortKey| {
        let mut next = search.get_untracked();
        next.dir = if next.sort == key && next.dir == SortDir::Asc {
            SortDir::Desc
        } else {
            SortDir::Asc
        };
        next.sort = key;
        go_sort.to(next);
    });
    let go_clear = go.clone();
    let on_clear = Callback::new(move |_: ()| {
        if let Some(h) = typing_timer.get_value() {
            h.clear();
        }
        draft.set(String::new());
        let current = search.get_untracked();
        go_clear.to(SearchState {
            sort: current.sort,
            dir: current.dir,
            ..SearchState::default()
        });
    });
    let go_close = go.clone();
    let on_close = Callback::new(move |_: ()| {
        let mut next = search.get_untracked();
        next.selected = None;
        go_close.to(next);
    });

    let selected = Memo::new(move |_| search.with(|s| s.selected.clone()));
    let selected_machine = Memo::new(move |_| {
        let id = selected.get()?;
        loaded.with(|l| {
            l.as_ref()
                .and_then(|l| l.machines.iter().find(|m| m.id == id).cloned())
        })
    });
    let duplicate_selected = Signal::derive(move || {
        let Some(id) = selected.get() else {
            return false;
        };
        loaded.with(|l| {
            l.as_ref().is_some_and(|l| {
                l.machines
                    .iter()
                    .position(|m| m.id == id)
                    .is_some_and(|i| l.is_duplicate(i))
            })
        })
    });
    let summary = move || {
        let shown = indices.with(|i| i.len());
        let total = loaded.with(|l| l.as_ref().map_or(0, |l| l.len()));
        let dups = loaded.with(|l| {
            l.as_ref()
                .map_or(0, |l| indices.with(|i| l.duplicate_count(i)))
        });
        // The listing answers the server part of the search; the box's text narrows it here,
        // so once the listing is current the narrowed count is the answer. While a newer
        // listing loads, the count is of what is already loaded.
        let mut text = if shown == total || !loading.get() {
            format!("{shown} machine{}", if shown == 1 { "" } else { "s" })
        } else {
            format!("{shown} of {total} loaded machines")
        };
        if dups > 0 {
            text.push_str(&format!(" \u{b7} {dups} with a duplicate name"));
        }
        text
    };

    view! {
        <div class="search-page" class:with-panel=move || selected.with(Option::is_some)>
            <section class="search-main" aria-labelledby="machines-title">
                <h1 id="machines-title" class="visually-hidden">"Machines"</h1>
                <div class="search-controls">
                    <SearchBox text=draft on_text=on_text/>
                    <FilterBar search=search on_change=on_filters choices=choices/>
                </div>
                <div class="results-bar">
                    <p class="results-summary" role="status" data-testid="results-summary">
                        {move || if loading.get() && loaded.with(Option::is_none) {
                            "Loading machines\u{2026}".to_owned()
                        } else {
                            summary()
                        }}
                        {move || (loading.get() && loaded.with(Option::is_some))
                            .then(|| view! { <span class="muted">" \u{b7} updating\u{2026}"</span> })}
                    </p>
                    <button class="btn btn-quiet" type="button" on:click=move |_| on_clear.run(())
                        disabled=move || !search.with(SearchState::has_filters)>"Clear filters"</button>
                    // UI part 2: the same search on /bulk, to tag these machines in bulk.
                    <a class="btn btn-small" data-testid="bulk-these"
                        href=move || {
                            let mut s = search.get();
                            s.selected = None;
                            crate::site::href(&format!("/bulk{}", s.to_query_string()))
                        }>
                        "Bulk change these machines\u{2026}"
                    </a>
                </div>
                {move || closest.get().map(|(text, names)| view! {
                    <p class="muted" role="status" data-testid="closest-names">
                        {format!("No machine name contains \u{201c}{text}\u{201d}.")}
                        {(!names.is_empty()).then(|| view! {
                            " Closest: "
                            {names.into_iter().map(|n| {
                                let pick = n.clone();
                                view! {
                                    <button type="button" class="btn btn-quiet btn-small closest-name"
                                        on:click=move |_| on_text.run(pick.clone())>{n}</button>
                                }
                            }).collect_view()}
                        })}
                    </p>
                })}
                {move || url_errors.with(|e| (!e.is_empty()).then(|| view! {
                    <p class="error-text" role="status" data-testid="url-errors">
                        "Part of this link was not used: " {e.join("; ")} "."
                    </p>
                }))}
                {move || error.get().map(|e| view! {
                    <p class="error-text" role="alert" data-testid="search-error">
                        {e.message}
                        " "
                        <a href=crate::site::href("/check") data-testid="search-error-check">"Check the connection"</a>
                    </p>
                })}
                <MachineTable
                    loaded=loaded
                    indices=Signal::derive(move || indices.get())
                    search=Signal::derive(move || search.get())
                    on_sort=on_sort
                />
            </section>
            {move || selected.get().map(|id| view! {
                <MachinePanel
                    id=id
                    machine=Signal::derive(move || selected_machine.get())
                    duplicate=duplicate_selected
                    on_close=on_close
                />
            })}
        </div>
    }
}
