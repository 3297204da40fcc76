//! `/rules`: saved tag rules of the current tenant. A dry run first runs the hunting queries of
//! the rules it involves (the rule and the rules of its tag), through the same hunter as the bulk
//! page's hunting tab; a rule whose query failed is named with the reason and nothing runs.
//! Then it plans the rule over every machine the sign-in can see (core's rule planner) and opens
//! the same preview as a bulk change; Run goes through the same paced, journaled, undoable bulk
//! run (of the machines the dry run's answers named). Rules are exported and imported
//! as core's versioned rules file, which the headless script (examples/rules) reads too.

use std::collections::BTreeMap;

use defender_tags_core::hunting::HuntingQuery;
use defender_tags_core::query::MachineQuery;
use defender_tags_core::rules::{
    HuntingAnswers, RuleMode, RulesFile, parse_rules_file, plan_rules,
};
use leptos::prelude::*;

use crate::activity;
use crate::bulk::flow::{self, Phase};
use crate::components::bulk_job::BulkJobView;
use crate::components::sign_in_card::SignInCard;
use crate::components::top_bar::use_app_state;
use crate::hunting::{Hunter, HuntingAccess};
use crate::rules::{self as saved, LastRun, RuleDraft, SourceKind};
use crate::state::now_ms;

/// The page's frame: its heading and outer classes, shared with its loading placeholder
/// ([`super::lazy`]).
pub const FRAME: super::lazy::Frame = super::lazy::Frame {
    title: "Tag rules",
    class: "page rules-page",
};

/// The rules page.
#[component]
pub fn RulesPage() -> impl IntoView {
    let state = use_app_state();
    let ready = move || {
        state.session.0.with(|s| s.user().is_some()) && state.backend.0.with(|b| b.is_some())
    };
    view! {
        <div class=FRAME.class>
            <h1>{FRAME.title}</h1>
            <Show when=ready fallback=|| view! { <SignInCard/> }>
                <RulesView/>
            </Show>
        </div>
    }
}

fn when(ms: i64) -> String {
    defender_tags_core::model::datetime::format_datetime(
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
    )
    .replace('T', " ")
    .chars()
    .take(16)
    .collect::<String>()
        + " UTC"
}

#[component]
fn RulesView() -> impl IntoView {
    let ids = crate::ids::use_ids();
    let state = use_app_state();
    let bulk = flow::use_bulk_flow();
    let tenant = crate::site::tenant_scope();
    let (initial, load_error) = match saved::load(&tenant) {
        Ok(f) => (f, None),
        Err(e) => (
            RulesFile::default(),
            Some(format!(
                "The saved rules of this tenant could not be read ({e}); saving a rule replaces them."
            )),
        ),
    };
    let file = RwSignal::new(initial);
    let runs = RwSignal::new(saved::load_runs(&tenant));
    let error = RwSignal::new(load_error);
    let notice = RwSignal::new(None::<String>);
    let conflicts = RwSignal::new(Vec::<String>::new());
    // Rules of the last dry run whose source could not be read (a failed hunting query).
    let blocked = RwSignal::new(Vec::<String>::new());
    // What a dry run is doing, while it does it.
    let busy = RwSignal::new(None::<String>);
    let access = crate::hunting::use_access();

    // A finished rule run is recorded as that rule's last run (also when the run ended while
    // another page was open: the report stays in the flow until the next preview).
    {
        let tenant = tenant.clone();
        Effect::new(move |_| {
            bulk.phase().with(|p| {
                if let Phase::Done(record) = p
                    && let Some(name) = saved::rule_of(&record.job)
                {
                    let entry = activity::run_entry(record);
                    let run = LastRun {
                        at_ms: record.finished_ms,
                        outcome: entry.outcome,
                        ok: entry.ok,
                    };
                    if saved::record_run(&tenant, name, run) {
                        runs.set(saved::load_runs(&tenant));
                    }
                }
            });
        });
    }

    let store = {
        let tenant = tenant.clone();
        move |next: RulesFile| match saved::save(&tenant, &next) {
            Ok(()) => {
                file.set(next);
                true
            }
            Err(e) => {
                error.set(Some(e));
                false
            }
        }
    };

    let dry_run = move |name: String| {
        let backend = state.backend.0.get_untracked();
        let Some(backend) = backend else {
            error.set(Some("Sign in to run a dry run.".to_owned()));
            return;
        };
        if bulk.is_running() {
            error.set(Some(
                "A bulk run is in progress; wait for it to finish.".to_owned(),
            ));
            return;
        }
        error.set(None);
        notice.set(None);
        conflicts.set(Vec::new());
        blocked.set(Vec::new());
        // Only the rule and the rules of its tag: their plans and conflicts are all a dry run
        // of it needs, so an unrelated rule's query is neither run nor able to block it.
        let rules = file.with_untracked(|f| f.involved_in(&name));
        let queries: Vec<HuntingQuery> = rules.hunting_queries().into_iter().cloned().collect();
        busy.set(Some(if queries.is_empty() {
            format!("Listing the machines for a dry run of \u{201c}{name}\u{201d}\u{2026}")
        } else {
            format!(
                "Running {} for a dry run of \u{201c}{name}\u{201d}\u{2026}",
                crate::bulk::job::plural(queries.len(), "hunting query", "hunting queries")
            )
        }));
        leptos::task::spawn_local(async move {
            let answers = hunting_answers(backend.0.hunter(), &queries).await;
            // A rule whose query failed is said, with the reason, before anything else is
            // asked; nothing of the dry run is shown (its conflicts could not be checked).
            let unreadable = saved::blocked_rules(&plan_rules(&rules, &[], &answers, 0));
            if !unreadable.is_empty() {
                busy.try_set(None);
                error.try_set(Some(format!(
                    "Nothing was planned for \u{201c}{name}\u{201d}: the machines of {} could not be found (below).",
                    crate::bulk::job::plural(unreadable.len(), "rule", "rules")
                )));
                blocked.try_set(unreadable);
                return;
            }
            busy.try_set(Some(format!(
                "Listing the machines for a dry run of \u{201c}{name}\u{201d}\u{2026}"
            )));
            let now = now_ms();
            let machines = backend.0.search(MachineQuery::default(), now).await;
            busy.try_set(None);
            let machines = match machines {
                Ok(m) => m,
                Err(e) => {
                    error.try_set(Some(format!("Could not list the machines: {}", e.message)));
                    return;
                }
            };
            let planned = plan_rules(&rules, &machines, &answers, now);
            let Some(rule) = planned.rules.iter().find(|r| r.name == name) else {
                return;
            };
            let blocking = saved::conflicts_of(&planned.conflicts, &name);
            if !blocking.is_empty() {
                conflicts.try_set(
                    blocking
                        .iter()
                        .map(|c| saved::describe_conflict(c))
                        .collect(),
                );
                error.try_set(Some(format!(
                    "Rule \u{201c}{name}\u{201d} conflicts with another rule on {}: nothing can run until the rules agree (change a source or a tag, or delete a rule).",
                    crate::bulk::job::plural(blocking.len(), "machine", "machines")
                )));
                return;
            }
            if !bulk.preview(saved::job_for(rule, &machines)) {
                error.try_set(Some(
                    "A bulk run is in progress; wait for it to finish.".to_owned(),
                ));
            }
        });
    };

    let delete = {
        let store = store.clone();
        move |name: String| {
            let next = saved::without(&file.get_untracked(), &name);
            if store(next) {
                notice.set(Some(format!("Deleted rule \u{201c}{name}\u{201d}.")));
            }
        }
    };

    // The form.
    let name = RwSignal::new(String::new());
    let tag = RwSignal::new(String::new());
    let exact = RwSignal::new(true);
    let kind = RwSignal::new(SourceKind::Filter);
    let source = RwSignal::new(String::new());
    let form_error = RwSignal::new(None::<String>);
    // The rule being edited in place (its saved name), or `None` for a new rule.
    let editing = RwSignal::new(None::<String>);
    let clear_form = move || {
        editing.set(None);
        name.set(String::new());
        tag.set(String::new());
        source.set(String::new());
        form_error.set(None);
    };
    let edit = move |rule: String| {
        let draft =
            file.with_untracked(|f| f.rules.iter().find(|r| r.name == rule).map(RuleDraft::of));
        if let Some(d) = draft {
            name.set(d.name);
            tag.set(d.tag);
            exact.set(d.exact);
            kind.set(d.kind);
            source.set(d.source);
            form_error.set(None);
            editing.set(Some(rule));
        }
    };
    let save_rule = {
        let store = store.clone();
        let tenant = tenant.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let draft = RuleDraft {
                name: name.get_untracked(),
                tag: tag.get_untracked(),
                exact: exact.get_untracked(),
                kind: kind.get_untracked(),
                source: source.get_untracked(),
            };
            let replacing = editing.get_untracked();
            match draft.save_in(&file.get_untracked(), replacing.as_deref()) {
                Ok(next) => {
                    if store(next) {
                        if let Some(old) = &replacing {
                            saved::rename_run(&tenant, old, draft.name.trim());
                            runs.set(saved::load_runs(&tenant));
                        }
                        notice.set(Some(format!(
                            "Saved rule \u{201c}{}\u{201d}.",
                            draft.name.trim()
                        )));
                        clear_form();
                    }
                }
                Err(e) => form_error.set(Some(saved::field_message(&e))),
            }
        }
    };

    let export = move |_| {
        let text = file.with_untracked(RulesFile::to_json);
        if let Err(e) =
            crate::download::save_text("defender-tags-rules.json", "application/json", &text)
        {
            error.set(Some(e.to_string()));
        }
    };
    let on_import = {
        let store = store.clone();
        move |ev: leptos::ev::Event| {
            let input = ev
                .target()
                .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlInputElement>(t).ok());
            let Some(file_obj) = input
                .as_ref()
                .and_then(|i| i.files())
                .and_then(|f| f.get(0))
            else {
                return;
            };
            if let Some(i) = &input {
                // The same file can be chosen again after fixing it.
                i.set_value("");
            }
            // A rules file is small; a large one is a wrong file, refused before reading it.
            if file_obj.size() > 8.0 * 1024.0 * 1024.0 {
                error.set(Some(format!(
                    "{} is larger than 8 MB: not a rules file.",
                    file_obj.name()
                )));
                return;
            }
            let store = store.clone();
            leptos::task::spawn_local(async move {
                let text = match wasm_bindgen_futures::JsFuture::from(file_obj.text()).await {
                    Ok(v) => v.as_string().unwrap_or_default(),
                    Err(_) => {
                        error.try_set(Some(format!("Could not read {}.", file_obj.name())));
                        return;
                    }
                };
                match parse_rules_file(&text) {
                    Ok(next) => {
                        let n = next.rules.len();
                        if store(next) {
                            error.try_set(None);
                            notice.try_set(Some(format!(
                                "Imported {} from {}; they replace the rules saved before.",
                                crate::bulk::job::plural(n, "rule", "rules"),
                                file_obj.name()
                            )));
                        }
                    }
                    Err(e) => {
                        error.try_set(Some(format!(
                            "{} was not imported (nothing changed): {e}",
                            file_obj.name()
                        )));
                    }
                }
            });
        }
    };

    let rows = move || {
        let runs: BTreeMap<String, LastRun> = runs.get();
        file.get()
            .rules
            .into_iter()
            .map(|r| {
                let last = runs.get(&r.name).cloned();
                let n1 = r.name.clone();
                let n2 = r.name.clone();
                let n3 = r.name.clone();
                let n4 = r.name.clone();
                let n5 = r.name.clone();
                let dry = dry_run;
                let del = delete.clone();
                view! {
                    <tr data-testid="rule-row" data-rule=r.name.clone()>
                        <th scope="row">{r.name.clone()}</th>
                        <td class="tag-cell">{r.tag.as_str().to_owned()}</td>
                        <td>{match r.mode { RuleMode::Add => "Add", RuleMode::Exact => "Exact" }}</td>
                        <td class="small">{saved::describe_source(&r.source)}</td>
                        <td class="small" data-testid="rule-last-run">{match last {
                            Some(l) => format!("{}: {}{}", when(l.at_ms), l.outcome, if l.ok { "" } else { " (needs a look)" }),
                            None => "Never".to_owned(),
                        }}</td>
                        <td class="actions">
                            <button type="button" class="btn btn-small" data-testid="rule-dry-run"
                                aria-label=format!("Dry run of {n1}")
                                disabled=move || busy.get().is_some()
                                on:click=move |_| dry(n2.clone())>"Dry run"</button>
                            <button type="button" class="btn btn-small" data-testid="rule-edit"
                                aria-label=format!("Edit {n4}")
                                on:click=move |ev| {
                                    edit(n5.clone());
                                    // To the form, where the rule now is.
                                    crate::ids::focus_near(&ev, &ids.id("rule-name"));
                                }>"Edit"</button>
                            <button type="button" class="btn btn-small" data-testid="rule-delete"
                                aria-label=format!("Delete {n3}")
                                on:click=move |_| del(n3.clone())>"Delete"</button>
                        </td>
                    </tr>
                }
            })
            .collect_view()
    };

    view! {
        <BulkJobView/>
        <p class="muted">
            "A rule keeps a tag true to your own criteria: "<strong>"Add"</strong>" tags the machines its source matches; "
            <strong>"Exact"</strong>" also removes the tag from machines that carry it but no longer match. A dry run shows what a run would change; "
            "the run itself is paced, journaled and can be undone from its report like any bulk change."
        </p>
        <crate::components::read_only::ReadOnlyBanner what="run tag rules"/>
        <p class="error-text" role="alert" data-testid="rules-error">{move || error.get()}</p>
        <p role="status" data-testid="rules-notice">{move || notice.get()}</p>
        {move || busy.get().map(|what| view! { <p role="status" class="muted" data-testid="rules-busy">{what}</p> })}
        {move || { let b = blocked.get(); (!b.is_empty()).then(|| view! {
            <div class="drift-callout" data-testid="rule-source-errors">
                <p><strong>"Rules that cannot run"</strong></p>
                <ul class="warning-list">
                    {b.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}
                </ul>
            </div>
        })}}
        {move || { let c = conflicts.get(); (!c.is_empty()).then(|| view! {
            <div class="drift-callout" data-testid="rule-conflicts">
                <p><strong>"Conflicting rules"</strong></p>
                <ul class="warning-list">
                    {c.iter().take(50).map(|l| view! { <li>{l.clone()}</li> }).collect_view()}
                    {(c.len() > 50).then(|| view! { <li>{format!("\u{2026} and {} more", c.len() - 50)}</li> })}
                </ul>
            </div>
        })}}
        <section class="card inventory-section" aria-labelledby=ids.id("rules-title")>
            <h2 id=ids.id("rules-title")>"Saved rules"</h2>
            {move || file.with(|f| f.rules.is_empty()).then(|| view! { <p class="muted" data-testid="rules-empty">"No rules yet: add one below, or import a rules file."</p> })}
            <div class="rules-table-wrap">
            <table class="inventory-table" data-testid="rules-table">
                <caption class="visually-hidden">"Saved tag rules of this tenant"</caption>
                <thead><tr>
                    <th scope="col">"Rule"</th><th scope="col">"Tag"</th><th scope="col">"Mode"</th>
                    <th scope="col">"Machines from"</th><th scope="col">"Last run"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
            </div>
            <div class="form-actions">
                <button type="button" class="btn btn-small" data-testid="rules-export" on:click=export
                    disabled=move || file.with(|f| f.rules.is_empty())>"Export rules (JSON)"</button>
                <label class="btn btn-small" for=ids.id("rules-import-file")>"Import rules\u{2026}"</label>
                <input id=ids.id("rules-import-file") class="visually-hidden" type="file" accept=".json,application/json"
                    data-testid="rules-import" on:change=on_import/>
            </div>
        </section>
        <section class="card inventory-section" aria-labelledby=ids.id("rule-form-title")>
            <h2 id=ids.id("rule-form-title") data-testid="rule-form-title">{move || match editing.get() {
                Some(n) => format!("Edit rule \u{201c}{n}\u{201d}"),
                None => "New rule".to_owned(),
            }}</h2>
            <form class="rule-form" on:submit=save_rule>
                <div class="inline-row">
                    <div class="field">
                        <label for=ids.id("rule-name")>"Name"</label>
                        <input id=ids.id("rule-name") type="text" autocomplete="off" required
                            prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                    </div>
                    <div class="field">
                        <label for=ids.id("rule-tag")>"Tag"</label>
                        <input id=ids.id("rule-tag") type="text" autocomplete="off" spellcheck="false" required
                            prop:value=move || tag.get() on:input=move |ev| tag.set(event_target_value(&ev))/>
                    </div>
                    <div class="field">
                        <label for=ids.id("rule-mode")>"Mode"</label>
                        <select id=ids.id("rule-mode") on:change=move |ev| exact.set(event_target_value(&ev) == "exact")>
                            <option value="exact" selected=move || exact.get()>"Exact: add and remove"</option>
                            <option value="add" selected=move || !exact.get()>"Add only"</option>
                        </select>
                    </div>
                    <div class="field">
                        <label for=ids.id("rule-source-kind")>"Machines from"</label>
                        <select id=ids.id("rule-source-kind") on:change=move |ev| kind.set(SourceKind::from_value(&event_target_value(&ev)))>
                            <option value="filter" selected=move || kind.get() == SourceKind::Filter>"A saved search"</option>
                            <option value="import" selected=move || kind.get() == SourceKind::Import>"An imported list"</option>
                            <option value="hunting" selected=move || kind.get() == SourceKind::Hunting
                                disabled=move || !access.with(|a| matches!(a, Some(HuntingAccess::Allowed)))>"A hunting query"</option>
                        </select>
                    </div>
                </div>
                {move || match access.get() {
                    Some(HuntingAccess::Unavailable(why)) => Some(view! {
                        <p class="hint" data-testid="rule-hunting-unavailable">
                            <strong>"A hunting query cannot be a rule's source here. "</strong>{why}
                        </p>
                    }),
                    _ => None,
                }}
                <div class="field">
                    <label for=ids.id("rule-source")>{move || match kind.get() {
                        SourceKind::Import => "Machine ids or computer names, one per line, or a CSV with a machine column (as on the bulk page's import)",
                        SourceKind::Filter => "Search (the search page's address after ?, e.g. os=Windows11&risk=High)",
                        SourceKind::Hunting => "Hunting query (KQL; keep the DeviceId or DeviceName column: each machine counts once; run at every dry run)",
                    }}</label>
                    <textarea id=ids.id("rule-source") spellcheck="false" required
                        rows=move || if kind.get() == SourceKind::Hunting { "6" } else { "3" }
                        prop:value=move || source.get() on:input=move |ev| source.set(event_target_value(&ev))></textarea>
                </div>
                <p class="error-text" role="alert" data-testid="rule-form-error">{move || form_error.get()}</p>
                <div class="form-actions">
                    <button type="submit" class="btn btn-primary" data-testid="rule-save">"Save rule"</button>
                    {move || editing.get().is_some().then(|| view! {
                        <button type="button" class="btn" data-testid="rule-edit-cancel" on:click=move |_| clear_form()>"Cancel edit"</button>
                    })}
                    <span class="hint">"Saving changes no machine; a dry run shows what a run would do."</span>
                </div>
            </form>
        </section>
    }
}

/// Runs each distinct hunting query once, in order, and records its machines or why it failed
/// (the hunting tab's sentences: the service's refusal with its position, a 429's quota, a
/// missing device column, too many rows). Without hunting access every query fails with the
/// reason the form shows, and nothing is sent.
async fn hunting_answers(
    hunter: Option<std::rc::Rc<dyn Hunter>>,
    queries: &[HuntingQuery],
) -> HuntingAnswers {
    let mut answers = HuntingAnswers::new();
    if queries.is_empty() {
        return answers;
    }
    let hunter = match hunter {
        Some(h) => match h.access().await {
            HuntingAccess::Allowed => h,
            HuntingAccess::Unavailable(why) => {
                for q in queries {
                    answers.insert_failure(q, why.clone());
                }
                return answers;
            }
        },
        None => {
            for q in queries {
                answers.insert_failure(
                    q,
                    "this session has no Microsoft Graph access, so hunting queries cannot run here",
                );
            }
            return answers;
        }
    };
    for q in queries {
        match hunter.run(q.clone()).await {
            Ok(result) => answers.insert_result(q, &result),
            Err(e) => answers.insert_failure(q, e.message),
        }
    }
    answers
}
