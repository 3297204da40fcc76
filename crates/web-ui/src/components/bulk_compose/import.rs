//! Machines from an imported list: paste or upload, check against the tenant, then preview.

use std::sync::Arc;

use defender_tags_core::Machine;
use leptos::prelude::*;

use crate::api::{UiError, UiErrorKind};
use crate::bulk::format::{sentence, thousands};
use crate::bulk::resolve::{Resolution, Unresolved, UnresolvedReason, resolve};
use crate::components::top_bar::use_app_state;
use crate::state::now_ms;
use defender_tags_core::import::{ImportResult, check_import_size, parse_machine_list};
use defender_tags_core::query::MachineQuery;

use super::TagActionForm;
use super::tag_form::BulkChange;

/// The outcome of checking an imported list against the tenant.
#[derive(Debug, Clone)]
struct Checked {
    parsed: ImportResult,
    resolution: Resolution,
    tenant: Arc<Vec<Machine>>,
    /// The input as checked, for the text of the lines that could not be read.
    input: Arc<str>,
}

impl Checked {
    /// Every line left out: unreadable (with the line as given), unknown or ambiguous.
    fn unresolved(&self) -> Vec<Unresolved> {
        let mut out: Vec<Unresolved> = self
            .parsed
            .errors
            .iter()
            .map(|e| Unresolved {
                line: e.row,
                text: self
                    .input
                    .lines()
                    .nth(e.row.saturating_sub(1))
                    .unwrap_or("")
                    .to_owned(),
                reason: UnresolvedReason::Invalid(sentence(&e.kind.to_string())),
            })
            .chain(self.resolution.unresolved.iter().cloned())
            .collect();
        out.sort_by_key(|u| u.line);
        out
    }
}

#[component]
pub(super) fn ImportSource() -> impl IntoView {
    let ids = crate::ids::use_ids();
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
                        b.0.search(MachineQuery::default(), now_ms())
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
                        input: Arc::from(input.as_str()),
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

    // An ambiguous name is settled only by a choice: one of its machines, or the most recently
    // seen machine for every ambiguous name.
    let pick = move |line: usize, machine: usize| {
        checked.update(|c| {
            if let Some(c) = c {
                let mut next = (**c).clone();
                next.resolution.pick(line, machine);
                *c = Arc::new(next);
            }
        });
    };
    let pick_recent = move |_| {
        checked.update(|c| {
            if let Some(c) = c {
                let mut next = (**c).clone();
                let tenant = next.tenant.clone();
                next.resolution.pick_most_recently_seen(&tenant);
                *c = Arc::new(next);
            }
        });
    };

    let on_preview = Callback::new(move |change: BulkChange| {
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
        let job = change.job(
            &picked,
            c.unresolved(),
            format!("Imported list ({lines} lines)"),
        )?;
        if state.bulk.preview(job) {
            Ok(())
        } else {
            Err("A run is in progress.".to_owned())
        }
    });

    view! {
        <div class="import-source">
            <div class="field">
                <label for=ids.id("bulk-import-text")>"Machine names or ids"</label>
                <textarea id=ids.id("bulk-import-text") rows="8" spellcheck="false" aria-describedby=ids.id("bulk-import-help")
                    data-testid="import-text"
                    prop:value=move || text.get()
                    on:input=move |ev| { text.set(event_target_value(&ev)); checked.set(None); }></textarea>
                <p id=ids.id("bulk-import-help") class="hint">
                    "One per line, or CSV with a header naming the machine column (machine, id, name, computerDnsName, deviceName). \
                     Names are matched exactly (ignoring case); a name matching several machines is listed, never guessed."
                </p>
            </div>
            <div class="field">
                <label for=ids.id("bulk-import-file")>"Or choose a CSV or text file"</label>
                <input id=ids.id("bulk-import-file") type="file" accept=".csv,.txt,text/csv,text/plain" on:change=on_file
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
                                    let line = u.line;
                                    let choices = match &u.reason {
                                        UnresolvedReason::Ambiguous(candidates) => candidates
                                            .iter()
                                            .filter_map(|(id, _)| c.tenant.iter().position(|m| m.id.as_str() == id))
                                            .collect::<Vec<usize>>(),
                                        _ => Vec::new(),
                                    };
                                    let tenant = c.tenant.clone();
                                    view! {
                                        <li class=format!("unresolved unresolved-{kind}")>
                                            <span class="line-no">{format!("Line {}", u.line)}</span>
                                            <span class="line-name">{u.text}</span>
                                            <span class=format!("badge badge-{kind}")>{kind}</span>
                                            <span class="small line-reason">{explain}</span>
                                            {(!choices.is_empty()).then(|| view! {
                                                <span class="pick-one" role="group" aria-label=format!("Choose the machine for line {line}")>
                                                    {choices.into_iter().map(|i| {
                                                        let m = &tenant[i];
                                                        let seen = m.last_seen.map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64);
                                                        let label = format!(
                                                            "Use {} \u{b7} last seen {} \u{b7} {} \u{b7} {}",
                                                            m.id,
                                                            crate::table::format_age(seen, now_ms()),
                                                            crate::search::group_label(m.rbac_group_id, m.rbac_group_name.as_deref()),
                                                            m.health_status.as_ref().map_or("health unknown", |h| h.as_str()),
                                                        );
                                                        view! {
                                                            <button type="button" class="btn btn-small" data-testid="pick-candidate"
                                                                on:click=move |_| pick(line, i)>{label}</button>
                                                        }
                                                    }).collect_view()}
                                                </span>
                                            })}
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                            {(ambiguous > 0).then(|| view! {
                                <button type="button" class="btn btn-small" data-testid="pick-most-recent" on:click=pick_recent>
                                    {format!("Use the most recently seen machine for {}", crate::bulk::job::plural(ambiguous, "ambiguous name", "ambiguous names"))}
                                </button>
                            })}
                        })}
                    </div>
                }
            })}
            <TagActionForm on_preview=on_preview
                disabled=Signal::derive(move || checked.with(|c| c.as_ref().is_none_or(|c| c.resolution.resolved.is_empty())))/>
        </div>
    }
}
