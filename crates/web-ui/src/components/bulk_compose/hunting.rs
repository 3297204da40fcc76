//! Machines from an advanced hunting query: write (or load a saved) KQL query, run it through
//! Microsoft Graph, see its rows and the machines they name (each machine once, however many
//! rows name it), then the same tag form, preview, run and report as the other sources.
//!
//! Every refusal is said before anything else is sent: an empty or too long query (core's
//! `HuntingQuery`), the service's syntax error with its position, a result without a device
//! column, more than 100,000 rows, a 429 naming its quota, a token without the permission.

use std::sync::Arc;

use defender_tags_core::Machine;
use defender_tags_core::hunting::{
    HuntedDevices, HuntingQuery, HuntingResult, MAX_QUERY_CHARS, SkipReason,
};
use defender_tags_core::import::ImportRow;
use defender_tags_core::query::MachineQuery;
use leptos::prelude::*;

use crate::api::UiError;
use crate::bulk::format::thousands;
use crate::bulk::job::plural;
use crate::bulk::resolve::{Resolution, Unresolved, UnresolvedReason, resolve};
use crate::components::top_bar::use_app_state;
use crate::hunting::saved::{self, SavedQuery};
use crate::hunting::{HuntingAccess, cell_text, sentence};
use crate::state::now_ms;

use super::TagActionForm;
use super::tag_form::BulkChange;

/// Result rows shown under the editor (the rest are counted, not drawn).
const SHOWN_ROWS: usize = 50;

/// A query's answer, its machines, and those machines in the tenant.
#[derive(Debug, Clone)]
struct Found {
    result: Arc<HuntingResult>,
    devices: HuntedDevices,
    resolution: Resolution,
    tenant: Arc<Vec<Machine>>,
}

impl Found {
    /// Rows naming no machine, and machines not in the tenant (or not visible to this user).
    fn unresolved(&self) -> Vec<Unresolved> {
        let mut out: Vec<Unresolved> = self
            .devices
            .skipped
            .iter()
            .map(|s| match &s.reason {
                SkipReason::NoDevice => Unresolved {
                    line: s.row,
                    text: String::new(),
                    reason: UnresolvedReason::Invalid(
                        "The row's device column is empty.".to_owned(),
                    ),
                },
                SkipReason::NotAMachineId(raw) => Unresolved {
                    line: s.row,
                    text: raw.clone(),
                    reason: UnresolvedReason::Invalid(
                        "Not a Defender machine id (40 hex characters).".to_owned(),
                    ),
                },
            })
            .chain(self.resolution.unresolved.iter().cloned())
            .collect();
        out.sort_by_key(|u| u.line);
        out
    }
}

#[component]
pub(super) fn HuntingSource() -> impl IntoView {
    let ids = crate::ids::use_ids();
    let state = use_app_state();
    let tenant_scope = crate::site::tenant_scope();
    let access = crate::hunting::use_access();
    // The query survives the preview (which replaces this view) and Back.
    let text = RwSignal::new(saved::draft(&tenant_scope));
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let found = RwSignal::new(None::<Arc<Found>>);
    let saved_list = RwSignal::new(saved::load(&tenant_scope));
    let save_name = RwSignal::new(String::new());
    let save_note = RwSignal::new(None::<String>);
    let tenant_cache = StoredValue::new_local(None::<Arc<Vec<Machine>>>);

    let allowed = move || access.with(|a| matches!(a, Some(HuntingAccess::Allowed)));

    let run = move || {
        found.set(None);
        let query = match HuntingQuery::parse(&text.get_untracked()) {
            Ok(q) => q,
            Err(e) => {
                error.set(Some(sentence(&e.to_string())));
                return;
            }
        };
        let Some(backend) = state.backend.0.get_untracked() else {
            error.set(Some("Not signed in.".to_owned()));
            return;
        };
        let Some(hunter) = backend.0.hunter() else {
            error.set(Some("Hunting is not available in this session.".to_owned()));
            return;
        };
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            let outcome: Result<Found, String> = async {
                let result = hunter.run(query).await.map_err(|e| e.message)?;
                // A result without a device column names no machine: said, and nothing else
                // is asked.
                let devices = result.devices().map_err(|e| sentence(&e.to_string()))?;
                let tenant = match tenant_cache.get_value() {
                    Some(t) => t,
                    None => {
                        // One listing of the tenant gives every machine's current tags (the
                        // preview's before-state) and resolves names, as the import does.
                        let t = backend
                            .0
                            .search(MachineQuery::default(), now_ms())
                            .await
                            .map(Arc::new)
                            .map_err(|e: UiError| e.message)?;
                        tenant_cache.set_value(Some(t.clone()));
                        t
                    }
                };
                let rows: Vec<ImportRow> = devices
                    .devices
                    .iter()
                    .map(|d| ImportRow {
                        row: d.row,
                        machine: d.machine.clone(),
                        tag: None,
                        action: None,
                    })
                    .collect();
                let resolution = resolve(&rows, &tenant);
                Ok(Found {
                    result: Arc::new(result),
                    devices,
                    resolution,
                    tenant,
                })
            }
            .await;
            busy.set(false);
            match outcome {
                Ok(f) => found.set(Some(Arc::new(f))),
                Err(message) => error.set(Some(message)),
            }
        });
    };

    let save = move |_| {
        let name = save_name.get_untracked();
        match saved::with_query(&saved_list.get_untracked(), &name, &text.get_untracked()) {
            Ok(list) => match saved::store(&crate::site::tenant_scope(), &list) {
                Ok(()) => {
                    saved_list.set(list);
                    save_note.set(Some(format!("Saved \u{201c}{}\u{201d}.", name.trim())));
                }
                Err(e) => save_note.set(Some(e)),
            },
            Err(e) => save_note.set(Some(e.to_string())),
        }
    };
    let load_saved = move |name: String| {
        if let Some(q) = saved_list.with_untracked(|l| l.iter().find(|q| q.name == name).cloned()) {
            saved::keep_draft(&crate::site::tenant_scope(), &q.query);
            text.set(q.query);
            save_name.set(q.name);
            found.set(None);
            error.set(None);
        }
    };
    let delete_saved = move |_| {
        let name = save_name.get_untracked();
        let list = saved::without(&saved_list.get_untracked(), name.trim());
        match saved::store(&crate::site::tenant_scope(), &list) {
            Ok(()) => {
                save_note.set(Some(format!("Deleted \u{201c}{}\u{201d}.", name.trim())));
                saved_list.set(list);
            }
            Err(e) => save_note.set(Some(e)),
        }
    };

    let on_preview = Callback::new(move |change: BulkChange| {
        let Some(f) = found.get_untracked() else {
            return Err("Run the query first.".to_owned());
        };
        let picked: Vec<&Machine> = f
            .resolution
            .resolved
            .iter()
            .map(|&i| &f.tenant[i])
            .collect();
        let job = change.job(
            &picked,
            f.unresolved(),
            format!(
                "Hunting query ({})",
                plural(f.result.rows.len(), "row", "rows")
            ),
        )?;
        if state.bulk.preview(job) {
            Ok(())
        } else {
            Err("A run is in progress.".to_owned())
        }
    });

    let chars = move || text.with(|t| t.chars().count());

    view! {
        <div class="hunting-source" data-testid="hunting-source">
            {move || match access.get() {
                None => view! {
                    <p class="hint" role="status" data-testid="hunting-checking">
                        "Checking whether you may run hunting queries\u{2026}"
                    </p>
                }.into_any(),
                Some(HuntingAccess::Unavailable(why)) => view! {
                    <p class="warning-text" role="status" data-testid="hunting-unavailable">
                        <strong>"Hunting queries are unavailable. "</strong>{why}
                        " Search and import work as before."
                    </p>
                }.into_any(),
                Some(HuntingAccess::Allowed) => ().into_any(),
            }}
            <div class="hunting-saved field">
                <label for=ids.id("hunting-saved")>"Saved queries (this tenant, this browser)"</label>
                <div class="form-actions">
                    <select id=ids.id("hunting-saved") data-testid="hunting-saved"
                        prop:disabled=move || !allowed() || saved_list.with(|l| l.is_empty())
                        on:change=move |ev| load_saved(event_target_value(&ev))>
                        <option value="">{move || if saved_list.with(|l| l.is_empty()) { "None saved yet" } else { "Choose a saved query" }}</option>
                        {move || saved_list.get().into_iter().map(|q: SavedQuery| {
                            let value = q.name.clone();
                            view! { <option value=value>{q.name}</option> }
                        }).collect_view()}
                    </select>
                </div>
            </div>
            <div class="field">
                <label for=ids.id("hunting-query")>"Hunting query (KQL)"</label>
                <textarea id=ids.id("hunting-query") rows="7" spellcheck="false" data-testid="hunting-query"
                    aria-describedby=ids.id("hunting-help")
                    placeholder="DeviceInfo\n| where ExposureLevel == \"High\"\n| project DeviceId, DeviceName"
                    prop:disabled=move || !allowed()
                    prop:value=move || text.get()
                    on:input=move |ev| {
                        let value = event_target_value(&ev);
                        saved::keep_draft(&crate::site::tenant_scope(), &value);
                        text.set(value);
                        found.set(None);
                    }></textarea>
                <p id=ids.id("hunting-help") class="hint">
                    "Advanced hunting through Microsoft Graph: 30 days of data, at most 100,000 rows. \
                     Keep the DeviceId column (or DeviceName): each machine is used once, however many rows name it. "
                    <span data-testid="hunting-chars">{move || format!("{} / {} characters.", thousands(chars() as u64), thousands(MAX_QUERY_CHARS as u64))}</span>
                </p>
            </div>
            <div class="form-actions">
                <button type="button" class="btn" data-testid="hunting-run"
                    prop:disabled=move || busy.get() || !allowed()
                    on:click=move |_| run()>
                    {move || if busy.get() { "Running the query\u{2026}" } else { "Run query" }}
                </button>
                <label class="visually-hidden" for=ids.id("hunting-save-name")>"Name to save the query as"</label>
                <input id=ids.id("hunting-save-name") type="text" placeholder="Name to save as" data-testid="hunting-save-name"
                    prop:disabled=move || !allowed()
                    prop:value=move || save_name.get()
                    on:input=move |ev| save_name.set(event_target_value(&ev))/>
                <button type="button" class="btn btn-small" data-testid="hunting-save" prop:disabled=move || !allowed() on:click=save>"Save query"</button>
                <button type="button" class="btn btn-small" data-testid="hunting-delete"
                    prop:disabled=move || !allowed() || save_name.with(|n| saved_list.with(|l| !l.iter().any(|q| q.name == n.trim())))
                    on:click=delete_saved>"Delete saved"</button>
            </div>
            <p class="small" role="status" data-testid="hunting-save-note">{move || save_note.get()}</p>
            <p class="error-text" role="alert" data-testid="hunting-error">{move || error.get()}</p>
            {move || found.get().map(|f| {
                let rows = f.result.rows.len();
                let machines = f.devices.devices.len();
                let resolved = f.resolution.resolved.len();
                let repeated = f.devices.duplicate_rows;
                let problems = f.unresolved();
                let columns = f.result.column_names();
                let shown: Vec<Vec<String>> = f.result.rows.iter().take(SHOWN_ROWS)
                    .map(|r| r.iter().map(cell_text).collect()).collect();
                view! {
                    <div class="import-summary" role="status" data-testid="hunting-summary">
                        <p>
                            <strong data-testid="hunting-machines">{format!("{} found in the tenant", plural(resolved, "machine", "machines"))}</strong>
                            {format!(
                                " \u{b7} {} \u{b7} {} named \u{b7} {} \u{b7} {} left out",
                                plural(rows, "row", "rows"),
                                plural(machines, "machine", "machines"),
                                plural(repeated, "row repeated a machine (used once)", "rows repeated a machine (used once)"),
                                thousands(problems.len() as u64),
                            )}
                        </p>
                        {(!problems.is_empty()).then(|| view! {
                            <ul class="import-problems" tabindex="0" aria-label="Rows left out" data-testid="hunting-problems">
                                {problems.into_iter().take(500).map(|u| {
                                    let kind = u.kind();
                                    view! {
                                        <li class=format!("unresolved unresolved-{kind}")>
                                            <span class="line-no">{format!("Row {}", u.line)}</span>
                                            <span class="line-name">{u.text.clone()}</span>
                                            <span class=format!("badge badge-{kind}")>{kind}</span>
                                            <span class="small line-reason">{u.explain()}</span>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        })}
                        <div class="hunting-rows" tabindex="0" role="region" aria-label="Query result rows">
                            <table class="simple-table" data-testid="hunting-rows">
                                <caption class="small">{if rows > SHOWN_ROWS { format!("The first {SHOWN_ROWS} of {} rows", thousands(rows as u64)) } else { plural(rows, "row", "rows") }}</caption>
                                <thead><tr>{columns.into_iter().map(|c| view! { <th scope="col">{c}</th> }).collect_view()}</tr></thead>
                                <tbody>
                                    {shown.into_iter().map(|r| view! {
                                        <tr>{r.into_iter().map(|c| view! { <td>{c}</td> }).collect_view()}</tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    </div>
                }
            })}
            <TagActionForm on_preview=on_preview
                disabled=Signal::derive(move || found.with(|f| f.as_ref().is_none_or(|f| f.resolution.resolved.is_empty())))/>
        </div>
    }
}
