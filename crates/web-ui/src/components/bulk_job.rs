//! The bulk job's three faces: the preview (what will change, what is already in place, what
//! cannot be resolved), the run (progress, rate budget, time left, cancel) and the report (per
//! machine, undo, export). Layout only: the logic is in `crate::bulk`.

use std::sync::Arc;

use leptos::prelude::*;

use crate::activity;
use crate::bulk::export;
use crate::bulk::flow::{self, Phase, Recheck};
use crate::bulk::format::{progress_text, thousands};
use crate::bulk::job::{Job, Line, Preview, RunRecord, STATUS_ORDER, status_key, status_label};
use crate::bulk::resolve::Unresolved;
use crate::components::top_bar::use_app_state;
use crate::download;
use crate::state::Session;

/// At most this many machines are listed per group on screen; the export has them all.
pub const LIST_LIMIT: usize = 1_000;

/// Identity of the phase, so the view is rebuilt when the phase changes but not on every
/// progress event (rebuilding would take keyboard focus off the Cancel button).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Face {
    Compose,
    Preview(usize),
    Checking(usize),
    Running(usize),
    Done(usize),
}

fn face(p: &Phase) -> Face {
    match p {
        Phase::Compose => Face::Compose,
        Phase::Preview(job) => Face::Preview(Arc::as_ptr(job) as usize),
        Phase::Checking(job) => Face::Checking(Arc::as_ptr(job) as usize),
        Phase::Running { job, .. } => Face::Running(Arc::as_ptr(job) as usize),
        Phase::Done(record) => Face::Done(Arc::as_ptr(record) as usize),
    }
}

/// Puts keyboard focus on the heading of a new face, so keyboard and screen-reader users land on
/// what changed.
fn focus_heading(node: NodeRef<leptos::html::H2>) {
    // The view may be gone by the next frame (a run that ends within one frame, or a hidden tab
    // where frames wait): a disposed NodeRef is then simply not focused, never a panic.
    request_animation_frame(move || {
        if let Some(Some(h)) = node.try_get_untracked() {
            let _ = h.focus();
        }
    });
}

/// The current bulk job, or nothing while composing.
#[component]
pub fn BulkJobView() -> impl IntoView {
    let bulk = flow::use_bulk_flow();
    let phase = bulk.phase();
    let current = Memo::new(move |_| phase.with(face));
    move || match current.get() {
        Face::Compose => None,
        Face::Preview(_) => phase
            .with_untracked(|p| match p {
                Phase::Preview(job) => Some(job.clone()),
                _ => None,
            })
            .map(|job| view! { <PreviewView job=job/> }.into_any()),
        Face::Checking(_) => phase
            .with_untracked(|p| match p {
                Phase::Checking(job) => Some(job.clone()),
                _ => None,
            })
            .map(|job| view! { <CheckingView job=job/> }.into_any()),
        Face::Running(_) => phase
            .with_untracked(|p| match p {
                Phase::Running { job, .. } => Some(job.clone()),
                _ => None,
            })
            .map(|job| view! { <RunningView job=job phase=phase/> }.into_any()),
        Face::Done(_) => phase
            .with_untracked(|p| match p {
                Phase::Done(r) => Some(r.clone()),
                _ => None,
            })
            .map(|record| view! { <ReportView record=record/> }.into_any()),
    }
}

/// A figure with its label.
#[component]
fn Stat(n: usize, label: &'static str, class: &'static str, testid: String) -> impl IntoView {
    view! {
        <div class=format!("stat {class}") data-testid=testid>
            <span class="stat-n">{thousands(n as u64)}</span>
            <span class="stat-label">{label}</span>
        </div>
    }
}

/// A collapsible list of machines.
#[component]
fn Lines(
    title: String,
    lines: Vec<Line>,
    testid: String,
    #[prop(optional)] open: bool,
    #[prop(optional)] show_step: bool,
) -> impl IntoView {
    let total = lines.len();
    let more = total.saturating_sub(LIST_LIMIT);
    let list_label = title.clone();
    view! {
        <details class="machine-group" open=open data-testid=testid>
            <summary>{format!("{title} ({})", thousands(total as u64))}</summary>
            {(total == 0).then(|| view! { <p class="muted small">"None."</p> })}
            <ul class="machine-lines" tabindex="0" aria-label=list_label>
                {lines.into_iter().take(LIST_LIMIT).map(|l| view! {
                    <li>
                        <span class="line-name">{if l.name.is_empty() { "(no name)".to_owned() } else { l.name }}</span>
                        <span class="mono small muted line-id">{l.id}</span>
                        {show_step.then(|| view! { <span class="small line-step">{l.step}</span> })}
                    </li>
                }).collect_view()}
            </ul>
            {(more > 0).then(|| view! {
                <p class="muted small">{format!("\u{2026} and {} more (all of them are in the export).", thousands(more as u64))}</p>
            })}
        </details>
    }
}

/// Lines that did not resolve to one machine.
#[component]
fn UnresolvedLines(
    title: &'static str,
    items: Vec<Unresolved>,
    testid: &'static str,
) -> impl IntoView {
    let total = items.len();
    view! {
        <details class="machine-group" open={total > 0} data-testid=testid>
            <summary>{format!("{title} ({})", thousands(total as u64))}</summary>
            {(total == 0).then(|| view! { <p class="muted small">"None."</p> })}
            <ul class="machine-lines" tabindex="0" aria-label=title>
                {items.into_iter().take(LIST_LIMIT).map(|u| {
                    let kind = u.kind();
                    let explain = u.explain();
                    view! {
                        <li class=format!("unresolved unresolved-{kind}")>
                            {(u.line > 0).then(|| view! { <span class="line-no">{format!("Line {}", u.line)}</span> })}
                            <span class="line-name">{u.text}</span>
                            <span class=format!("badge badge-{kind}")>{kind}</span>
                            <span class="small line-reason">{explain}</span>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </details>
    }
}

#[component]
fn PreviewView(job: Arc<Job>) -> impl IntoView {
    let ids = crate::ids::use_ids();
    let state = use_app_state();
    let bulk = state.bulk;
    let heading = NodeRef::<leptos::html::H2>::new();
    focus_heading(heading);
    let preview = Preview::of(&job);
    let multi = job.steps.len() > 1;
    // Each line says its step, or for a device value its change ("Normal → High").
    let show_step = multi || job.device_value.is_some();
    let can_edit = move || state.session.0.with(Session::can_edit);
    let error = RwSignal::new(None::<String>);
    let nothing = preview.nothing_to_do();
    let to_change = preview.will_change.len() + preview.unknown.len();
    let run = move |_| {
        let runner = state
            .backend
            .0
            .with_untracked(|b| b.as_ref().and_then(|b| b.0.bulk()));
        match runner {
            Some(runner) => {
                let who = state.session.0.with_untracked(activity::who);
                let edits = state.edits.0;
                // try_update: the view (an embedded one, say) may be gone when the run ends.
                let after = move || {
                    edits.try_update(|e| e.drop_confirmed());
                };
                let journal = crate::components::interrupted_runs::journal_scope();
                if !bulk.start(runner, who, journal, after) {
                    error.set(Some("This preview is no longer current.".to_owned()));
                }
            }
            None => error.set(Some("Sign in to run bulk changes.".to_owned())),
        }
    };
    let calls = preview.calls;
    let steps = job.steps.len();
    let recheck = bulk.recheck();
    view! {
        <section class="card bulk-job" aria-labelledby=ids.id("bulk-job-title") data-testid="bulk-preview">
            <h2 id=ids.id("bulk-job-title") tabindex="-1" node_ref=heading>{format!("Preview: {}", job.title)}</h2>
            <p class="muted small" data-testid="preview-source">{format!("Machines from: {}", job.source)}</p>
            {move || recheck.get().map(|r| match r {
                Recheck::Drift(drift) => view! {
                    <div class="drift-callout" role="alert" data-testid="preview-drift">
                        <p><strong>{format!(
                            "{} changed since the preview. The plan below is made from their tags as they are now; check it and run again.",
                            crate::bulk::job::plural(drift.len(), "machine", "machines")
                        )}</strong></p>
                        <ul class="warning-list">
                            {drift.iter().take(20).map(|d| view! { <li>{d.describe()}</li> }).collect_view()}
                            {(drift.len() > 20).then(|| view! { <li>{format!("\u{2026} and {} more", drift.len() - 20)}</li> })}
                        </ul>
                    </div>
                }.into_any(),
                Recheck::Failed(message) => view! {
                    <p class="error-text" role="alert" data-testid="preview-recheck-failed">{message}</p>
                }.into_any(),
            })}
            {multi.then(|| view! {
                <ol class="steps">
                    {job.steps.iter().map(|s| {
                        let sum = s.plan.summary();
                        view! { <li>{format!("{} \u{2014} {} will change, {} already in place", s.label(), sum.will_change + sum.unknown, sum.already_in_place)}</li> }
                    }).collect_view()}
                </ol>
            })}
            <div class="stat-row">
                <Stat n=preview.will_change.len() label="will change" class="stat-change" testid="preview-will-change".into()/>
                <Stat n=preview.already.len() label="already in place" class="stat-same" testid="preview-already".into()/>
                <Stat n=preview.cannot_resolve.len() label="cannot resolve" class="stat-bad" testid="preview-unresolved".into()/>
                {(!preview.unknown.is_empty()).then(|| view! {
                    <Stat n=preview.unknown.len() label=if show_step && !multi { "value unknown, sent anyway" } else { "tags unknown, sent anyway" } class="stat-same" testid="preview-unknown".into()/>
                })}
            </div>
            <p data-testid="preview-calls">
                {match &job.device_value {
                    Some(plan) => crate::bulk::job::device_value_cost(plan),
                    None => format!(
                        "{} API call{} (up to 500 machines each), plus {} to re-read the machines' current tags just before sending. Defender allows 100 calls a minute and 1,500 an hour; the run paces itself to stay inside.",
                        thousands(calls as u64),
                        if calls == 1 { "" } else { "s" },
                        if steps == 1 { "one".to_owned() } else { format!("one per step ({steps})") }
                    ),
                }}
            </p>
            {(!preview.warnings.is_empty()).then(|| view! {
                <ul class="warning-list" data-testid="preview-warnings">
                    {preview.warnings.iter().take(20).map(|w| view! { <li>{w.clone()}</li> }).collect_view()}
                    {(preview.warnings.len() > 20).then(|| view! { <li>{format!("\u{2026} and {} more warnings", preview.warnings.len() - 20)}</li> })}
                </ul>
            })}
            <crate::components::tag_sources::RemovalSources job=job.clone()/>
            <Lines title="Will change".into() lines=preview.will_change.clone() testid="list-will-change".into() open=true show_step=show_step/>
            <Lines title="Already in place".into() lines=preview.already.clone() testid="list-already".into() show_step=show_step/>
            {(!preview.unknown.is_empty()).then(|| view! {
                <Lines title=if show_step && !multi { "Current value unknown (sent anyway)" } else { "Tags unknown (sent anyway)" }.into() lines=preview.unknown.clone() testid="list-unknown".into() show_step=show_step/>
            })}
            <UnresolvedLines title="Cannot resolve" items=preview.cannot_resolve.clone() testid="list-unresolved"/>
            {move || (!can_edit()).then(|| view! {
                <p class="warning-text">"Your sign-in is read-only (Machine.Read): you can preview, but not run, changes."</p>
            })}
            <p class="error-text" role="alert">{move || error.get()}</p>
            <div class="form-actions">
                <button type="button" class="btn btn-primary" data-testid="run-button"
                    disabled=move || nothing || !can_edit()
                    on:click=run>
                    {if nothing { "Nothing to change".to_owned() } else { format!("Run: change {} machine{}", thousands(to_change as u64), if to_change == 1 { "" } else { "s" }) }}
                </button>
                <button type="button" class="btn" data-testid="back-button" on:click=move |_| bulk.reset()>"Back"</button>
            </div>
        </section>
    }
}

/// Between "Run" and the first call: the re-read of the machines' current tags.
#[component]
fn CheckingView(job: Arc<Job>) -> impl IntoView {
    let ids = crate::ids::use_ids();
    let heading = NodeRef::<leptos::html::H2>::new();
    focus_heading(heading);
    view! {
        <section class="card bulk-job" aria-labelledby=ids.id("bulk-job-title") data-testid="bulk-checking" aria-busy="true">
            <h2 id=ids.id("bulk-job-title") tabindex="-1" node_ref=heading>{format!("Starting: {}", job.title)}</h2>
            <p role="status">"Re-reading the machines' current tags, so that only what still needs changing is sent\u{2026}"</p>
        </section>
    }
}

#[component]
fn RunningView(job: Arc<Job>, phase: RwSignal<Phase>) -> impl IntoView {
    let ids = crate::ids::use_ids();
    let bulk = flow::use_bulk_flow();
    let heading = NodeRef::<leptos::html::H2>::new();
    focus_heading(heading);
    let steps = job.steps.len();
    let text = Memo::new(move |_| {
        phase.with(|p| match p {
            Phase::Running {
                step,
                progress: Some(progress),
                ..
            } => Some(progress_text(progress, *step, steps)),
            _ => None,
        })
    });
    let cancelling = Memo::new(move |_| {
        phase.with(|p| {
            matches!(
                p,
                Phase::Running {
                    cancelling: true,
                    ..
                }
            )
        })
    });
    let percent = move || text.with(|t| t.as_ref().map_or(0, |t| t.percent));
    view! {
        <section class="card bulk-job" aria-labelledby=ids.id("bulk-job-title") data-testid="bulk-running">
            <h2 id=ids.id("bulk-job-title") tabindex="-1" node_ref=heading>{format!("Running: {}", job.title)}</h2>
            <label for=ids.id("bulk-progress") class="visually-hidden">"Progress"</label>
            <progress id=ids.id("bulk-progress") class="bulk-progress" max="100" value=move || percent().to_string()
                aria-describedby=ids.id("bulk-progress-counts bulk-progress-eta")></progress>
            <p id=ids.id("bulk-progress-counts") data-testid="progress-counts">
                {move || text.with(|t| t.as_ref().map_or_else(|| "Starting\u{2026}".to_owned(), |t| t.counts.clone()))}
            </p>
            <p class="muted" data-testid="progress-budget">{move || text.with(|t| t.as_ref().map(|t| t.budget.clone()))}</p>
            <p id=ids.id("bulk-progress-eta") class="muted" data-testid="progress-eta">{move || text.with(|t| t.as_ref().map(|t| t.eta.clone()))}</p>
            <p class="visually-hidden" role="status" aria-live="polite" data-testid="progress-live">
                {move || text.with(|t| t.as_ref().map(|t| t.announce.clone()))}
            </p>
            <div class="form-actions">
                <button type="button" class="btn" data-testid="cancel-button"
                    disabled=move || cancelling.get()
                    on:click=move |_| bulk.cancel()>
                    {move || if cancelling.get() { "Cancelling\u{2026} (the call in flight finishes first)" } else { "Cancel" }}
                </button>
            </div>
        </section>
    }
}

#[component]
fn ReportView(record: Arc<RunRecord>) -> impl IntoView {
    let ids = crate::ids::use_ids();
    let bulk = flow::use_bulk_flow();
    let heading = NodeRef::<leptos::html::H2>::new();
    focus_heading(heading);
    let rows = record.rows();
    let counts = record.counts();
    let changed = record.changed_machines();
    let headline = if let Some(stop) = record.stopped_by() {
        format!("Stopped: {stop}")
    } else if record.cancelled() {
        let made: u32 = record.reports.iter().map(|r| r.calls_made).sum();
        format!("Cancelled after {made} of {} calls.", record.job.calls())
    } else if record
        .reports
        .iter()
        .any(|r| r.count(defender_tags_wasm::OutcomeStatus::Unknown) > 0)
    {
        "Finished, but some results are unknown: verify them before relying on the report."
            .to_owned()
    } else {
        "Finished.".to_owned()
    };
    let meta = format!(
        "Run by {} \u{b7} {} \u{2192} {}",
        record.who,
        activity::display_time(record.started_ms),
        activity::display_time(record.finished_ms)
    );
    let error = RwSignal::new(None::<String>);
    let save = move |file: String, mime: &'static str, text: Result<String, String>| {
        let result =
            text.and_then(|t| download::save_text(&file, mime, &t).map_err(|e| e.to_string()));
        error.set(result.err());
    };
    let (r1, r2, r3) = (record.clone(), record.clone(), record.clone());
    let state = use_app_state();
    let unknown = record
        .reports
        .iter()
        .map(|r| r.count(defender_tags_wasm::OutcomeStatus::Unknown))
        .sum::<usize>();
    let verifying = bulk.verifying();
    let recheck = bulk.recheck();
    // A device-value run has no tag to re-read its machines by: its unknown results are
    // checked in the machine panel, and its undo leaves them out.
    let device_value = record.job.device_value.is_some();
    let runner = move || {
        state
            .backend
            .0
            .with_untracked(|b| b.as_ref().and_then(|b| b.0.bulk()))
    };
    let verify = move |_| {
        if let Some(r) = runner() {
            bulk.verify(r);
        }
    };
    // Something of the plan may be left to do: offer to finish it from the current state.
    let resumable = record.cancelled()
        || record.stopped_by().is_some()
        || record.reports.len() < record.job.steps.len()
        || record.reports.iter().any(|r| {
            use defender_tags_wasm::OutcomeStatus as S;
            r.count(S::Failed) + r.count(S::NotAttempted) + r.count(S::Unknown) > 0
        });
    let can_edit = move || state.session.0.with(Session::can_edit);
    let groups = STATUS_ORDER
        .iter()
        .filter_map(|s| {
            let lines: Vec<Line> = rows
                .iter()
                .filter(|r| r.status == *s)
                .map(|r| Line {
                    id: r.id.clone(),
                    name: r.name.clone(),
                    step: {
                        let change = match &r.previous {
                            Some(previous) => format!("Device value {previous} \u{2192} {}", r.tag),
                            None => format!("{} \u{201c}{}\u{201d}", r.action, r.tag),
                        };
                        match &r.error {
                            Some(e) => format!("{change} \u{2014} {e}"),
                            None => change,
                        }
                    },
                })
                .collect();
            (!lines.is_empty()).then(|| {
                let open = matches!(s, defender_tags_wasm::OutcomeStatus::Applied | defender_tags_wasm::OutcomeStatus::Failed | defender_tags_wasm::OutcomeStatus::Unknown);
                view! { <Lines title=status_label(*s).to_owned() lines=lines testid=format!("report-{}", status_key(*s)) open=open show_step=true/> }
            })
        })
        .collect_view();
    view! {
        <section class="card bulk-job" aria-labelledby=ids.id("bulk-job-title") data-testid="bulk-report">
            <h2 id=ids.id("bulk-job-title") tabindex="-1" node_ref=heading>{format!("Report: {}", record.job.title)}</h2>
            <p data-testid="report-headline">{headline}</p>
            <p class="muted small" data-testid="report-meta">{meta}</p>
            {(record.job.steps.len() > 1).then(|| view! {
                <p class="muted small">{format!(
                    "Counts are per step ({} steps): a machine changed by two steps counts twice.",
                    record.job.steps.len()
                )}</p>
            })}
            <div class="stat-row">
                {counts.iter().map(|(s, n)| view! {
                    <Stat n=*n label=status_label(*s) class="stat-same" testid=format!("count-{}", status_key(*s))/>
                }).collect_view()}
            </div>
            {groups}
            {(!record.job.unresolved.is_empty()).then(|| view! {
                <UnresolvedLines title="Not part of the run" items=record.job.unresolved.clone() testid="report-unresolved"/>
            })}
            {device_value.then(|| view! {
                <p class="muted small" data-testid="report-device-value-note">
                    "Each line shows the machine's device value before the run \u{2192} the value sent. Undo puts each changed machine back to its earlier value, one call per machine, after a preview. This run is not kept across a page reload."
                </p>
            })}
            {(unknown > 0 && device_value).then(|| view! {
                <p class="warning-text" data-testid="verify-hint">{format!(
                    "{} may or may not have changed (a call failed after it may have been applied): open them in the machine panel to see their value; undo leaves them out.",
                    crate::bulk::job::plural(unknown, "machine", "machines")
                )}</p>
            })}
            {(unknown > 0 && !device_value).then(|| view! {
                <p class="warning-text" data-testid="verify-hint">{format!(
                    "{} may or may not have changed (a call failed after it may have been applied). Verify re-reads them before you undo, so the undo covers every machine this run changed.",
                    crate::bulk::job::plural(unknown, "machine", "machines")
                )}</p>
            })}
            <p class="error-text" role="alert">{move || error.get().or_else(|| recheck.with(|r| match r { Some(Recheck::Failed(m)) => Some(m.clone()), _ => None }))}</p>
            <div class="form-actions">
                {(unknown > 0 && !device_value).then(|| view! {
                    <button type="button" class="btn btn-primary" data-testid="verify-button"
                        disabled=move || verifying.get()
                        on:click=verify>
                        {move || if verifying.get() { "Verifying\u{2026}".to_owned() } else { format!("Verify {}", crate::bulk::job::plural(unknown, "machine", "machines")) }}
                    </button>
                })}
                <button type="button" class={if unknown > 0 { "btn" } else { "btn btn-primary" }} data-testid="undo-button"
                    disabled=changed == 0
                    title="Prepares the inverse change for exactly the machines this run changed; you confirm it on a preview."
                    on:click=move |_| {
                        if let Some(job) = r1.undo() {
                            bulk.preview(job);
                        }
                    }>
                    {format!("Undo this run ({} machine{})", thousands(changed as u64), if changed == 1 { "" } else { "s" })}
                </button>
                {resumable.then(|| view! {
                    <button type="button" class="btn" data-testid="resume-button"
                        disabled=move || verifying.get() || !can_edit()
                        title="Re-reads the machines and previews what is still left to change."
                        on:click=move |_| {
                            if let Some(r) = runner() {
                                bulk.resume(r);
                            }
                        }>
                        "Resume\u{2026}"
                    </button>
                })}
                <button type="button" class="btn" data-testid="export-csv"
                    on:click=move |_| save(export::file_name(&r2, "csv"), "text/csv", export::report_csv(&r2).map_err(|e| e.to_string()))>
                    "Export CSV"
                </button>
                <button type="button" class="btn" data-testid="export-json"
                    on:click=move |_| save(export::file_name(&r3, "json"), "application/json", Ok(export::report_json(&r3)))>
                    "Export JSON"
                </button>
                <button type="button" class="btn btn-quiet" data-testid="new-bulk" on:click=move |_| bulk.reset()>"New bulk change"</button>
            </div>
        </section>
    }
}
