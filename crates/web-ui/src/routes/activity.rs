//! `/activity`: the tag changes made from this browser by the signed-in user in this tenant,
//! exportable as CSV or JSON, kept for a chosen number of days, cleared on request.

use leptos::prelude::*;

use crate::activity::{self, format_time};
use crate::download;

/// The page's frame: its heading and outer classes, shared with its loading placeholder
/// ([`super::lazy`]).
pub const FRAME: super::lazy::Frame = super::lazy::Frame {
    title: "Activity",
    class: "page activity-page",
};

/// The activity page.
#[component]
pub fn ActivityPage() -> impl IntoView {
    view! {
        <div class=FRAME.class>
            <h1>{FRAME.title}</h1>
            <ActivityView/>
        </div>
    }
}

/// The log and its export buttons.
#[component]
pub fn ActivityView() -> impl IntoView {
    let activity = activity::use_activity();
    let log = activity.log();
    let retention = activity.retention();
    let confirming = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let stamp = || {
        format_time(crate::state::now_ms())
            .chars()
            .take(19)
            .map(|c| if c == ':' { '-' } else { c })
            .collect::<String>()
    };
    let export_csv = move |_| {
        let r = log
            .with_untracked(|l| l.to_csv())
            .map_err(|e| e.to_string())
            .and_then(|t| {
                download::save_text(
                    &format!("defender-tags-activity-{}Z.csv", stamp()),
                    "text/csv",
                    &t,
                )
                .map_err(|e| e.to_string())
            });
        error.set(r.err());
    };
    let export_json = move |_| {
        let t = log.with_untracked(|l| l.to_json());
        let r = download::save_text(
            &format!("defender-tags-activity-{}Z.json", stamp()),
            "application/json",
            &t,
        );
        error.set(r.err().map(|e| e.to_string()));
    };
    let empty = move || log.with(|l| l.entries.is_empty());
    let durable = move || activity.is_durable();
    let ids = crate::ids::use_ids();
    view! {
        <p class="muted" data-testid="activity-scope">
            {move || if durable() {
                "Tag changes you made from this browser in this tenant: single edits and bulk runs, by whom, when, and how they ended. \
                 The log is kept in this browser (IndexedDB) for you and this tenant only, for the days chosen below, and is cleared only when you ask. \
                 It never contains a token."
            } else {
                "Tag changes made from this view: single edits and bulk runs, by whom, when, and how they ended. \
                 It is kept in this browser tab only (sessionStorage) and is gone when the tab closes; export it to keep it. It never contains a token."
            }}
        </p>
        <div class="form-actions">
            <button type="button" class="btn" data-testid="activity-export-csv" prop:disabled=empty on:click=export_csv>"Export CSV"</button>
            <button type="button" class="btn" data-testid="activity-export-json" prop:disabled=empty on:click=export_json>"Export JSON"</button>
            {move || durable().then(|| view! {
                <label for=ids.id("activity-retention")>"Keep entries for"</label>
                <select id=ids.id("activity-retention") data-testid="activity-retention"
                    prop:value=move || retention.get().to_string()
                    on:change=move |ev| {
                        if let Ok(days) = event_target_value(&ev).parse::<u32>() {
                            activity.set_retention(days);
                        }
                    }>
                    {[7u32, 30, 90, 365, 3650].into_iter().map(|d| view! {
                        <option value=d.to_string()>{match d { 365 => "1 year".to_owned(), 3650 => "10 years".to_owned(), d => format!("{d} days") }}</option>
                    }).collect_view()}
                </select>
                <span class="muted" role="status" data-testid="activity-retention-saved">
                    {move || (activity.retention_saved().get() == Some(retention.get())).then_some("Saved")}
                </span>
            })}
            <Show when=move || !confirming.get()>
                <button type="button" class="btn btn-quiet" data-testid="activity-clear" prop:disabled=empty on:click=move |_| confirming.set(true)>"Clear log\u{2026}"</button>
            </Show>
            <Show when=move || confirming.get()>
                <span role="alert">{move || format!("Delete all {} entries? Export them first to keep a copy.", log.with(|l| l.entries.len()))}</span>
                <button type="button" class="btn btn-danger" data-testid="activity-clear-confirm" on:click=move |_| { activity.clear(); confirming.set(false); }>"Delete them"</button>
                <button type="button" class="btn" on:click=move |_| confirming.set(false)>"Keep them"</button>
            </Show>
        </div>
        <p class="error-text" role="alert">{move || error.get()}</p>
        <Show when=move || !empty() fallback=|| view! { <p class="muted" data-testid="activity-empty">"No changes logged yet."</p> }>
            <table class="activity-table" data-testid="activity-table">
                <caption class="visually-hidden">"Changes made in this session, newest first"</caption>
                <thead>
                    <tr>
                        <th scope="col">"#"</th>
                        <th scope="col">"When (UTC)"</th>
                        <th scope="col">"Who"</th>
                        <th scope="col">"What"</th>
                        <th scope="col" class="num">"Machines"</th>
                        <th scope="col">"Outcome"</th>
                    </tr>
                </thead>
                <tbody>
                    {move || log.with(|l| l.entries.iter().rev().map(|e| {
                        let changes = e.changes.clone();
                        let n = changes.len();
                        view! {
                            <tr class:failed=!e.ok data-testid="activity-row">
                                <td>{e.seq}</td>
                                <td class="nowrap">{activity::display_time(e.at_ms).trim_end_matches(" UTC").to_owned()}</td>
                                <td>{e.who.clone()}</td>
                                <td>
                                    <span class="badge badge-muted">{e.kind.clone()}</span>" "{e.what.clone()}
                                    {(n > 0).then(|| view! {
                                        <details class="activity-details">
                                            <summary>{format!("{n} machine line{}", if n == 1 { "" } else { "s" })}</summary>
                                            <ul class="machine-lines" tabindex="0" aria-label="Machine lines">
                                                {changes.into_iter().take(500).map(|c| view! {
                                                    <li>
                                                        <span class="line-name">{if c.computer_name.is_empty() { c.machine_id.clone() } else { c.computer_name.clone() }}</span>
                                                        <span class="small">{format!("{} \u{201c}{}\u{201d}: {}", c.action, c.tag, c.status)}</span>
                                                        {c.error.map(|e| view! { <span class="small error-text">{e}</span> })}
                                                    </li>
                                                }).collect_view()}
                                            </ul>
                                        </details>
                                    })}
                                </td>
                                <td class="num">{e.machines}</td>
                                <td class:error-text=!e.ok>{e.outcome.clone()}</td>
                            </tr>
                        }
                    }).collect_view())}
                </tbody>
            </table>
        </Show>
    }
}
