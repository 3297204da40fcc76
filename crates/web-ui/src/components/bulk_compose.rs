//! Choosing the machines of a bulk change (from a search, or an imported list) and the tag and
//! action; "Preview" hands a job to `crate::bulk::flow`.

use std::sync::Arc;

use defender_tags_core::{Machine, Tag, TagAction};
use leptos::prelude::*;

use crate::api::{UiError, UiErrorKind};
use crate::bulk::flow;
use crate::bulk::format::thousands;
use crate::bulk::job::Job;
use crate::bulk::resolve::{Resolution, Unresolved, UnresolvedReason, resolve};
use crate::bulk::selection::Selection;
use crate::components::filter_bar::FilterBar;
use crate::components::top_bar::use_app_state;
use crate::search::SearchState;
use crate::state::now_ms;
use crate::table::{Window, content_height_px};
use defender_tags_core::import::{ImportResult, check_import_size, parse_machine_list};

/// Where the machines come from (`?source=` on `/bulk`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BulkSource {
    /// A search: pick rows or take every match.
    #[default]
    Search,
    /// A pasted list or a CSV file.
    Import,
}

impl BulkSource {
    /// URL spelling.
    pub fn as_param(self) -> &'static str {
        match self {
            BulkSource::Search => "search",
            BulkSource::Import => "import",
        }
    }

    /// Parses the URL spelling (anything else is a search).
    pub fn from_param(s: &str) -> Self {
        if s == "import" {
            BulkSource::Import
        } else {
            BulkSource::Search
        }
    }
}

/// Height of the pick list, in px (its CSS height must match).
const PICK_LIST_PX: f64 = 360.0;

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
    let tab = move |s: BulkSource, label: &'static str| {
        view! {
            <button type="button" role="tab" class="tab" id=format!("tab-{}", s.as_param())
                aria-controls="bulk-source-panel"
                aria-selected=move || if source.get() == s { "true" } else { "false" }
                tabindex=move || if source.get() == s { "0" } else { "-1" }
                on:click=move |_| on_source.run(s)
                on:keydown=move |ev: web_sys::KeyboardEvent| {
                    // Arrow keys move between the two tabs (WAI-ARIA tabs pattern).
                    if matches!(ev.key().as_str(), "ArrowLeft" | "ArrowRight") {
                        ev.prevent_default();
                        let other = if s == BulkSource::Search { BulkSource::Import } else { BulkSource::Search };
                        on_source.run(other);
                        if let Some(el) = document().get_element_by_id(&format!("tab-{}", other.as_param())) {
                            let _ = wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(el).map(|e| e.focus());
                        }
                    }
                }>
                {label}
            </button>
        }
    };
    view! {
        <section class="card bulk-compose" aria-labelledby="bulk-compose-title">
            <h2 id="bulk-compose-title">"1. Choose machines"</h2>
            <div role="tablist" aria-label="Where the machines come from" class="tabs">
                {tab(BulkSource::Search, "From a search")}
                {tab(BulkSource::Import, "Import a list")}
            </div>
            <div id="bulk-source-panel" role="tabpanel"
                aria-labelledby=move || format!("tab-{}", source.get().as_param())>
                {move || match source.get() {
                    BulkSource::Search => view! { <SearchSource search=search on_search=on_search/> }.into_any(),
                    BulkSource::Import => view! { <ImportSource/> }.into_any(),
                }}
            </div>
        </section>
    }
}

/// Tag and action, then "Preview". `on_preview` gets the validated tag.
#[component]
fn TagActionForm(
    /// Turns tag and action into a job (or says why not).
    on_preview: Callback<(Tag, TagAction), Result<(), String>>,
    /// Disables the form (nothing chosen yet).
    #[prop(into)]
    disabled: Signal<bool>,
) -> impl IntoView {
    let state = use_app_state();
    let text = RwSignal::new(String::new());
    let action = RwSignal::new(TagAction::Add);
    let error = RwSignal::new(None::<String>);
    let warnings =
        Memo::new(move |_| {
            let t = text.get();
            let Ok(tag) = Tag::parse(&t) else {
                return Vec::new();
            };
            let mut w: Vec<String> = tag.warnings().iter().map(|w| w.to_string()).collect();
            let near = state.catalog.0.with(|c| c.near_duplicates(tag.as_str()));
            if !near.is_empty() {
                w.push(format!(
                "the tenant also uses {}, which differs only in case; Defender keeps them apart",
                near.iter().map(|n| format!("\u{201c}{n}\u{201d}")).collect::<Vec<_>>().join(", ")
            ));
            }
            w
        });
    let options = Memo::new(move |_| state.catalog.0.with(|c| c.suggest("", &[], 300)));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match Tag::parse(&text.get_untracked()) {
            Ok(tag) => error.set(on_preview.run((tag, action.get_untracked())).err()),
            Err(e) => error.set(Some(format!("Tag: {e}."))),
        }
    };
    view! {
        <form class="tag-action-form" on:submit=submit aria-labelledby="bulk-tag-title">
            <h2 id="bulk-tag-title">"2. Choose the tag and the change"</h2>
            <fieldset class="action-choice" prop:disabled=move || disabled.get()>
                <legend>"Change"</legend>
                <label class="radio"><input type="radio" name="bulk-action" value="Add"
                    prop:checked=move || action.get() == TagAction::Add
                    on:change=move |_| action.set(TagAction::Add)/>" Add the tag"</label>
                <label class="radio"><input type="radio" name="bulk-action" value="Remove"
                    prop:checked=move || action.get() == TagAction::Remove
                    on:change=move |_| action.set(TagAction::Remove)/>" Remove the tag"</label>
            </fieldset>
            <div class="field">
                <label for="bulk-tag">"Tag to add or remove"</label>
                <input id="bulk-tag" type="text" list="bulk-tag-options" autocomplete="off" spellcheck="false"
                    aria-describedby="bulk-tag-help bulk-tag-error"
                    aria-invalid=move || if error.with(Option::is_some) { "true" } else { "false" }
                    prop:disabled=move || disabled.get()
                    prop:value=move || text.get()
                    on:input=move |ev| { text.set(event_target_value(&ev)); error.set(None); }
                    data-testid="bulk-tag-input"/>
                <datalist id="bulk-tag-options">
                    {move || options.get().into_iter().map(|t| view! { <option value=t></option> }).collect_view()}
                </datalist>
                <p id="bulk-tag-help" class="hint">"Exact spelling: Defender treats \u{201c}Finance\u{201d} and \u{201c}finance\u{201d} as two tags."</p>
                <p id="bulk-tag-error" class="error-text" role="alert" data-testid="bulk-tag-error">{move || error.get()}</p>
                {move || {
                    let w = warnings.get();
                    (!w.is_empty()).then(|| view! {
                        <ul class="warning-list">{w.into_iter().map(|w| view! { <li>{w}</li> }).collect_view()}</ul>
                    })
                }}
            </div>
            <div class="form-actions">
                <button type="submit" class="btn btn-primary" data-testid="preview-button"
                    prop:disabled=move || disabled.get()>"Preview"</button>
                <span class="hint">"Nothing is changed until you confirm the preview."</span>
            </div>
        </form>
    }
}

fn source_text(s: &SearchState) -> String {
    let pairs = s.to_pairs();
    if pairs.is_empty() {
        "Search: all machines".to_owned()
    } else {
        format!(
            "Search: {}",
            pairs
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

#[component]
fn SearchSource(search: Memo<SearchState>, on_search: Callback<SearchState>) -> impl IntoView {
    let state = use_app_state();
    let backend = state.backend.0;
    // The selection belongs to one result: keyed by the search it answers.
    let server = Memo::new(move |_| {
        let mut s = search.get();
        s.sort = Default::default();
        s.dir = Default::default();
        s.selected = None;
        s
    });
    let results = LocalResource::new(move || {
        let s = server.get();
        let b = backend.get();
        async move {
            let r = match b {
                Some(b) => b.0.search(s.clone(), now_ms()).await.map(Arc::new),
                None => Err(UiError::new(UiErrorKind::Auth, "Not signed in.")),
            };
            (s, r)
        }
    });
    let selection = RwSignal::new((SearchState::default(), Selection::default()));
    let matching = Memo::new(move |_| {
        results.with(|r| {
            r.as_ref()
                .filter(|(key, _)| *key == server.get())
                .and_then(|(_, r)| r.as_ref().ok().cloned())
        })
    });
    let error = move || {
        results.with(|r| {
            r.as_ref()
                .and_then(|(_, r)| r.as_ref().err().map(|e| e.message.clone()))
        })
    };
    let current = move || {
        let key = server.get();
        selection.with(|(k, s)| {
            if *k == key {
                s.clone()
            } else {
                Selection::default()
            }
        })
    };
    let update_selection = move |f: &dyn Fn(&mut Selection)| {
        let key = server.get_untracked();
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
    let groups = Signal::derive(move || {
        matching.with(|m| {
            let mut g: Vec<(i64, String)> = m
                .as_ref()
                .map(|ms| {
                    ms.iter()
                        .filter_map(|m| {
                            Some((
                                m.rbac_group_id?,
                                m.rbac_group_name.clone().unwrap_or_default(),
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            g.sort();
            g.dedup();
            g
        })
    });
    let draft = RwSignal::new(search.get_untracked().text);
    let submit_text = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut next = search.get_untracked();
        next.text = draft.get_untracked().trim().to_owned();
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
                    let input_id = format!("pick-{}", id.as_str());
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

    let on_preview = Callback::new(move |(tag, action): (Tag, TagAction)| {
        let sel = current();
        let s = server.get_untracked();
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
            let job = Job::change(&tag, action, &picked, Vec::new(), source_text(&s));
            if flow::preview(job) {
                Ok(())
            } else {
                Err("A run is in progress.".to_owned())
            }
        })
    });

    view! {
        <div class="search-source">
            <form class="field search-field" on:submit=submit_text role="search">
                <label for="bulk-search">"Search machines"</label>
                <div class="inline-row">
                    <input id="bulk-search" type="search" autocomplete="off" spellcheck="false"
                        placeholder="web01, 10.1.2., or a machine id (empty: all machines)"
                        prop:value=move || draft.get()
                        on:input=move |ev| draft.set(event_target_value(&ev))/>
                    <button type="submit" class="btn">"Find"</button>
                </div>
            </form>
            <FilterBar search=search on_change=on_search groups=groups/>
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

/// "machine: computer name …" → "Machine: computer name ….".
fn sentence(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => {
            let mut out: String = first.to_uppercase().chain(chars).collect();
            if !out.ends_with('.') {
                out.push('.');
            }
            out
        }
        None => String::new(),
    }
}

/// The outcome of checking an imported list against the tenant.
#[derive(Debug, Clone)]
struct Checked {
    parsed: ImportResult,
    resolution: Resolution,
    tenant: Arc<Vec<Machine>>,
}

impl Checked {
    /// Every line left out: unreadable, unknown or ambiguous.
    fn unresolved(&self) -> Vec<Unresolved> {
        let mut out: Vec<Unresolved> = self
            .parsed
            .errors
            .iter()
            .map(|e| Unresolved {
                line: e.row,
                text: String::new(),
                reason: UnresolvedReason::Invalid(sentence(&e.kind.to_string())),
            })
            .chain(self.resolution.unresolved.iter().cloned())
            .collect();
        out.sort_by_key(|u| u.line);
        out
    }
}

#[component]
fn ImportSource() -> impl IntoView {
    let state = use_app_state();
    let text = RwSignal::new(String::new());
    let checked = RwSignal::new(None::<Arc<Checked>>);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let tenant_cache = StoredValue::new_local(None::<Arc<Vec<Machine>>>);

    let check = move || {
        let input = text.get_untracked();
        let parsed = match parse_machine_list(&input) {
            Ok(parsed) => parsed,
            Err(refused) => {
                error.set(Some(sentence(&refused.to_string())));
                checked.set(None);
                return;
            }
        };
        if parsed.rows.is_empty() && parsed.errors.is_empty() {
            error.set(Some(
                "The list is empty: paste names or ids, or choose a file.".to_owned(),
            ));
            checked.set(None);
            return;
        }
        let backend = state.backend.0.get_untracked();
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            let tenant = match tenant_cache.get_value() {
                Some(t) => Ok(t),
                None => match backend {
                    // Names resolve against one listing of the tenant: ceil(N / 10,000) calls,
                    // instead of one lookup call per imported line.
                    Some(b) => {
                        b.0.search(SearchState::default(), now_ms())
                            .await
                            .map(Arc::new)
                    }
                    None => Err(UiError::new(UiErrorKind::Auth, "Not signed in.")),
                },
            };
            busy.set(false);
            match tenant {
                Ok(tenant) => {
                    tenant_cache.set_value(Some(tenant.clone()));
                    let resolution = resolve(&parsed.rows, &tenant);
                    checked.set(Some(Arc::new(Checked {
                        parsed,
                        resolution,
                        tenant,
                    })));
                }
                Err(e) => error.set(Some(e.message)),
            }
        });
    };

    let on_file = move |ev: leptos::ev::Event| {
        let file = ev
            .target()
            .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlInputElement>(t).ok())
            .and_then(|i| i.files())
            .and_then(|f| f.get(0));
        if let Some(file) = file {
            // Refused by its size before a byte is read: reading a several-hundred-MB file
            // into the page would freeze the tab.
            if let Err(refused) = check_import_size(file.size() as u64) {
                error.set(Some(format!(
                    "{}: {}",
                    file.name(),
                    sentence(&refused.to_string())
                )));
                checked.set(None);
                return;
            }
            leptos::task::spawn_local(async move {
                match wasm_bindgen_futures::JsFuture::from(file.text()).await {
                    Ok(v) => {
                        text.set(v.as_string().unwrap_or_default());
                        checked.set(None);
                        check();
                    }
                    Err(_) => error.set(Some(format!("Could not read {}.", file.name()))),
                }
            });
        }
    };

    let on_preview = Callback::new(move |(tag, action): (Tag, TagAction)| {
        let Some(c) = checked.get_untracked() else {
            return Err("Check the list first.".to_owned());
        };
        let picked: Vec<&Machine> = c
            .resolution
            .resolved
            .iter()
            .map(|&i| &c.tenant[i])
            .collect();
        let lines = c.parsed.rows.len() + c.parsed.errors.len() + c.parsed.duplicates.len();
        let job = Job::change(
            &tag,
            action,
            &picked,
            c.unresolved(),
            format!("Imported list ({lines} lines)"),
        );
        if flow::preview(job) {
            Ok(())
        } else {
            Err("A run is in progress.".to_owned())
        }
    });

    view! {
        <div class="import-source">
            <div class="field">
                <label for="bulk-import-text">"Machine names or ids"</label>
                <textarea id="bulk-import-text" rows="8" spellcheck="false" aria-describedby="bulk-import-help"
                    data-testid="import-text"
                    prop:value=move || text.get()
                    on:input=move |ev| { text.set(event_target_value(&ev)); checked.set(None); }></textarea>
                <p id="bulk-import-help" class="hint">
                    "One per line, or CSV with a header naming the machine column (machine, id, name, computerDnsName, deviceName). \
                     Names are matched exactly (ignoring case); a name matching several machines is listed, never guessed."
                </p>
            </div>
            <div class="field">
                <label for="bulk-import-file">"Or choose a CSV or text file"</label>
                <input id="bulk-import-file" type="file" accept=".csv,.txt,text/csv,text/plain" on:change=on_file
                    data-testid="import-file"/>
            </div>
            <div class="form-actions">
                <button type="button" class="btn" data-testid="import-check" prop:disabled=move || busy.get()
                    on:click=move |_| check()>
                    {move || if busy.get() { "Loading the tenant\u{2026}" } else { "Check the list" }}
                </button>
            </div>
            <p class="error-text" role="alert">{move || error.get()}</p>
            {move || checked.get().map(|c| {
                let resolved = c.resolution.resolved.len();
                let unknown = c.resolution.unresolved.iter().filter(|u| u.kind() == "unknown").count();
                let ambiguous = c.resolution.unresolved.iter().filter(|u| u.kind() == "ambiguous").count();
                let bad = c.parsed.errors.len();
                let repeats = c.parsed.duplicates.len();
                let own_tags = c.parsed.rows.iter().any(|r| r.tag.is_some() || r.action.is_some());
                let problems = c.unresolved();
                view! {
                    <div class="import-summary" role="status" data-testid="import-summary">
                        <p>
                            <strong data-testid="import-resolved">{format!("{} machine{} found", thousands(resolved as u64), if resolved == 1 { "" } else { "s" })}</strong>
                            {format!(" \u{b7} {unknown} unknown \u{b7} {ambiguous} ambiguous \u{b7} {bad} unreadable line{} \u{b7} {repeats} repeated", if bad == 1 { "" } else { "s" })}
                        </p>
                        {own_tags.then(|| view! {
                            <p class="warning-text" data-testid="import-tag-columns">
                                "The list has tag or action columns; they are not used here: the tag and the change chosen below apply to every machine of the list."
                            </p>
                        })}
                        {(!problems.is_empty()).then(|| view! {
                            <ul class="import-problems" tabindex="0" aria-label="Lines left out" data-testid="import-problems">
                                {problems.into_iter().take(500).map(|u| {
                                    let kind = u.kind();
                                    let explain = u.explain();
                                    view! {
                                        <li class=format!("unresolved unresolved-{kind}")>
                                            <span class="line-no">{format!("Line {}", u.line)}</span>
                                            <span class="line-name">{u.text}</span>
                                            <span class=format!("badge badge-{kind}")>{kind}</span>
                                            <span class="small line-reason">{explain}</span>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        })}
                    </div>
                }
            })}
            <TagActionForm on_preview=on_preview
                disabled=Signal::derive(move || checked.with(|c| c.as_ref().is_none_or(|c| c.resolution.resolved.is_empty())))/>
        </div>
    }
}
