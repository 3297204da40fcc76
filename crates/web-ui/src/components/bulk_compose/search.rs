//! Machines from a search: the filters, the matching machines and the hand-picked selection.

use std::sync::Arc;

use defender_tags_core::Machine;
use leptos::prelude::*;

use crate::api::{UiError, UiErrorKind};
use crate::bulk::format::thousands;
use crate::bulk::selection::Selection;
use crate::components::filter_bar::FilterBar;
use crate::components::top_bar::use_app_state;
use crate::search::SearchState;
use crate::state::now_ms;
use crate::table::{Window, content_height_px};
use defender_tags_core::query::MachineQuery;

use super::tag_form::BulkChange;
use super::{PICK_LIST_PX, TagActionForm};

/// Where the machines came from, for the preview, report and activity log: every match of the
/// search, or machines picked by hand from its results.
fn source_text(s: &MachineQuery, picked: usize, all_matching: bool) -> String {
    let pairs = s.to_query_pairs();
    let search = if pairs.is_empty() {
        "all machines".to_owned()
    } else {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if all_matching {
        format!("Search: {search} (every match)")
    } else {
        format!(
            "Hand-picked: {} from the search {search}",
            crate::bulk::job::plural(picked, "machine", "machines")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hand_picked_selection_is_named_as_such() {
        let q = MachineQuery {
            text: "fin".into(),
            ..MachineQuery::default()
        };
        assert_eq!(source_text(&q, 40, true), "Search: q=fin (every match)");
        assert_eq!(
            source_text(&MachineQuery::default(), 2, false),
            "Hand-picked: 2 machines from the search all machines"
        );
    }
}

#[component]
pub(super) fn SearchSource(
    search: Memo<SearchState>,
    on_search: Callback<SearchState>,
) -> impl IntoView {
    let ids = crate::ids::use_ids();
    let state = use_app_state();
    let backend = state.backend.0;
    // The selection belongs to one result: keyed by the search it answers. The server is asked
    // only its part of it (as on the Machines page); the text narrows the listing here.
    let wanted = Memo::new(move |_| search.with(|s| s.query.clone()));
    let server = Memo::new(move |_| wanted.with(MachineQuery::server_part));
    // An effect rather than a `LocalResource`, for the reason given on the Machines page: a
    // listing is started for every key, and only the current key's answer is kept.
    let results = RwSignal::new(None::<(MachineQuery, Result<Arc<Vec<Machine>>, UiError>)>);
    Effect::new(move |_| {
        let s = server.get();
        let b = backend.get();
        leptos::task::spawn_local(async move {
            let r = match b {
                Some(b) => b.0.search(s.clone(), now_ms()).await.map(Arc::new),
                None => Err(UiError::new(UiErrorKind::Auth, "Not signed in.")),
            };
            if server.try_get_untracked().as_ref() == Some(&s) {
                results.try_set(Some((s, r)));
            }
        });
    });
    // The tag box's suggestions and "did you mean" read the shared catalog: feed it from the
    // whole tenant's listing, or from whatever is listed while nothing fuller is known.
    let catalog = state.catalog.0;
    Effect::new(move |_| {
        results.with(|r| {
            if let Some((key, Ok(machines))) = r.as_ref()
                && (key.is_empty() || catalog.with_untracked(|c| c.is_empty()))
            {
                catalog.set(crate::tags::TagCatalog::of(machines.iter()));
            }
        });
    });
    let selection = RwSignal::new((MachineQuery::default(), Selection::default()));
    let matching = Memo::new(move |_| {
        let listed = results.with(|r| {
            r.as_ref()
                .filter(|(key, _)| *key == server.get())
                .and_then(|(_, r)| r.as_ref().ok().cloned())
        })?;
        let query = wanted.get();
        if query == server.get() {
            return Some(listed);
        }
        let matcher = query.matcher(now_ms());
        Some(Arc::new(
            listed
                .iter()
                .filter(|m| matcher.matches(m))
                .cloned()
                .collect::<Vec<Machine>>(),
        ))
    });
    let error = move || {
        results.with(|r| {
            r.as_ref()
                .and_then(|(_, r)| r.as_ref().err().map(|e| e.message.clone()))
        })
    };
    let current = move || {
        let key = wanted.get();
        selection.with(|(k, s)| {
            if *k == key {
                s.clone()
            } else {
                Selection::default()
            }
        })
    };
    let update_selection = move |f: &dyn Fn(&mut Selection)| {
        let key = wanted.get_untracked();
        selection.update(|(k, s)| {
            if *k != key {
                *k = key;
                *s = Selection::default();
            }
            f(s);
        });
    };
    let total = Memo::new(move |_| matching.with(|m| m.as_ref().map_or(0, |m| m.len())));
    let chosen = Memo::new(move |_| {
        let sel = current();
        matching.with(|m| m.as_ref().map_or(0, |m| sel.count(m)))
    });
    let choices = Memo::new(move |_| {
        matching.with(|m| {
            m.as_ref()
                .map(|ms| crate::search::FilterChoices::from_machines(ms.iter()))
                .unwrap_or_default()
        })
    });
    let draft = RwSignal::new(search.get_untracked().query.text);
    // As on the Machines page, the text applies after a pause in typing (Enter or "Find" at
    // once); it narrows what is listed, so it costs no API call.
    let typing = StoredValue::new(None::<leptos::prelude::TimeoutHandle>);
    let on_draft = move |value: String| {
        draft.set(value);
        if let Some(h) = typing.get_value() {
            h.clear();
        }
        let handle = set_timeout_with_handle(
            move || {
                let mut next = search.get_untracked();
                next.query.text = draft.get_untracked().trim().to_owned();
                if next != search.get_untracked() {
                    on_search.run(next);
                }
            },
            std::time::Duration::from_millis(250),
        )
        .ok();
        typing.set_value(handle);
    };
    let submit_text = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut next = search.get_untracked();
        next.query.text = draft.get_untracked().trim().to_owned();
        on_search.run(next);
    };

    let scroll = RwSignal::new(0.0_f64);
    let window = Memo::new(move |_| Window::at(scroll.get(), PICK_LIST_PX, total.get()));
    let rows = move || {
        let w = window.get();
        let sel = current();
        matching.with(|m| {
            let Some(ms) = m.as_ref() else { return Vec::new() };
            w.rows(ms.len())
                .map(|i| {
                    let mm: &Machine = &ms[i];
                    let id = mm.id.clone();
                    let checked = sel.contains(&id);
                    let name = mm.computer_dns_name.clone().unwrap_or_else(|| "(no name)".to_owned());
                    let tags = mm.machine_tags.join(", ");
                    let tags_title = tags.clone();
                    let input_id = ids.id(&format!("pick-{}", id.as_str()));
                    view! {
                        <div class="pick-row" role="listitem">
                            <input type="checkbox" id=input_id.clone() prop:checked=checked
                                on:change=move |_| update_selection(&|s| s.toggle(&id))/>
                            <label for=input_id class="pick-name">{name}</label>
                            <span class="pick-os muted small">{mm.os_platform.clone().unwrap_or_default()}</span>
                            <span class="pick-tags small" title=tags_title>{tags}</span>
                        </div>
                    }
                })
                .collect::<Vec<_>>()
        })
    };

    let on_preview = Callback::new(move |change: BulkChange| {
        let sel = current();
        let s = wanted.get_untracked();
        matching.with_untracked(|m| {
            let Some(ms) = m.as_ref() else {
                return Err("The machines are still loading.".to_owned());
            };
            let picked = sel.pick(ms);
            if picked.is_empty() {
                return Err(
                    "Select at least one machine, or \u{201c}all matching\u{201d}.".to_owned(),
                );
            }
            let source = source_text(&s, picked.len(), sel.is_all_matching());
            let job = change.job(&picked, Vec::new(), source)?;
            if state.bulk.preview(job) {
                Ok(())
            } else {
                Err("A run is in progress.".to_owned())
            }
        })
    });

    view! {
        <div class="search-source">
            <form class="field search-field" on:submit=submit_text role="search">
                <label for=ids.id("bulk-search")>"Search machines"</label>
                <div class="inline-row">
                    <input id=ids.id("bulk-search") type="search" autocomplete="off" spellcheck="false"
                        placeholder="web01, 10.1.2., or a machine id (empty: all machines)"
                        prop:value=move || draft.get()
                        on:input=move |ev| on_draft(event_target_value(&ev))/>
                    <button type="submit" class="btn">"Find"</button>
                </div>
            </form>
            <FilterBar search=search on_change=on_search choices=choices/>
            <div class="pick-bar">
                <p class="results-summary" role="status" data-testid="bulk-match-summary">
                    {move || match (results.with(Option::is_none) || matching.with(Option::is_none) && error().is_none(), total.get()) {
                        (true, _) => "Loading matching machines\u{2026}".to_owned(),
                        (false, t) => format!("{} of {} matching machines selected", thousands(chosen.get() as u64), thousands(t as u64)),
                    }}
                </p>
                <button type="button" class="btn btn-small" data-testid="select-all-matching"
                    aria-pressed=move || if current().is_all_matching() { "true" } else { "false" }
                    prop:disabled=move || total.get() == 0
                    on:click=move |_| update_selection(&|s| s.select_all_matching())>
                    {move || format!("Select all {} matching this filter", thousands(total.get() as u64))}
                </button>
                <button type="button" class="btn btn-small btn-quiet" data-testid="clear-selection"
                    on:click=move |_| update_selection(&|s| s.clear())>"Clear selection"</button>
            </div>
            {move || error().map(|e| view! { <p class="error-text" role="alert">{e}</p> })}
            <div class="pick-list" role="list" aria-label="Matching machines" data-testid="pick-list"
                on:scroll=move |ev| {
                    if let Some(el) = ev.target().and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(t).ok()) {
                        scroll.set(f64::from(el.scroll_top()));
                    }
                }>
                <div class="pick-spacer" style:height=move || format!("{}px", content_height_px(total.get()))>
                    <div class="pick-window" style:transform=move || format!("translateY({}px)", window.get().offset_px())>
                        {rows}
                    </div>
                </div>
            </div>
            <p class="hint">"Every matching machine is loaded, across API pages of 10,000; \u{201c}all matching\u{201d} takes them all, not only the rows shown."</p>
            <TagActionForm on_preview=on_preview disabled=Signal::derive(move || chosen.get() == 0)/>
        </div>
    }
}
