//! The offer to pick up a bulk run the page lost: after a reload, a crash or a closed tab, the
//! runs of this user and tenant that never finished (read from the run journal,
//! `crate::bulk::journal`) are listed with their report, from which Verify, Resume and Undo work.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use crate::bulk::flow::{self, BulkFlow};
use crate::bulk::journal::{self, Interrupted, Scope};
use crate::components::top_bar::use_app_state;
use crate::idb::Store;

/// The journal scope of this mount's signed-in user: the app's only (an embedded mount's ids are
/// new on every page load, so it could never find its runs again).
pub fn journal_scope() -> Option<Scope> {
    let state = use_app_state();
    if !state.ids.prefix().is_empty() {
        return None;
    }
    state
        .session
        .0
        .with_untracked(|s| s.user().map(|u| u.username.clone()))
        .map(|user| Scope::new(&crate::site::tenant_scope(), &user))
}

/// After each sign-in, runs `look` with the run journal's store and the user's scope; after a
/// sign-out, calls `signed_out`. The banner and its loader (`crate::routes::lazy`) both look at
/// the journal this way, each for what it needs.
pub fn on_each_sign_in<Look, Fut>(signed_out: impl Fn() + 'static, look: Look)
where
    Look: Fn(Store, Scope) -> Fut + Copy + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let state = use_app_state();
    let signed_in = Memo::new(move |_| {
        state
            .session
            .0
            .with(|s| s.user().map(|u| u.username.clone()))
    });
    Effect::new(move |_| {
        if signed_in.get().is_none() {
            signed_out();
            return;
        }
        let Some(scope) = journal_scope() else {
            return;
        };
        leptos::task::spawn_local(async move {
            if let Ok(store) = Store::open().await {
                look(store, scope).await;
            }
        });
    });
}

/// Lists interrupted runs, if any.
#[component]
pub fn InterruptedRuns() -> impl IntoView {
    let bulk: BulkFlow = flow::use_bulk_flow();
    let runs = RwSignal::new(Vec::<Interrupted>::new());
    let problems = RwSignal::new(Vec::<String>::new());
    on_each_sign_in(
        move || runs.set(Vec::new()),
        move |store, scope| async move {
            let mut found = Vec::new();
            let mut bad = Vec::new();
            for r in journal::interrupted(&store, &scope).await {
                match r {
                    Ok(run) => found.push(run),
                    Err(e) => bad.push(e.to_string()),
                }
            }
            // The run in progress in this page is not "interrupted".
            if !bulk.is_running() {
                runs.try_set(found);
            }
            problems.try_set(bad);
        },
    );
    let navigate = use_navigate();
    move || {
        let list = runs.get();
        let bad = problems.get();
        (!list.is_empty() || !bad.is_empty()).then(|| {
            let navigate = navigate.clone();
            view! {
                <section class="interrupted-runs" aria-label="Bulk runs that did not finish" data-testid="interrupted-runs">
                    {list.into_iter().map(|run| {
                        let navigate = navigate.clone();
                        let counts = run.record.counts().iter()
                            .map(|(s, n)| format!("{n} {}", crate::bulk::job::status_label(*s).to_lowercase()))
                            .collect::<Vec<_>>().join(", ");
                        let text = format!(
                            "A bulk run did not finish: \u{201c}{}\u{201d}, started {} by {}. The page was closed or reloaded during it ({counts}).",
                            run.record.job.title,
                            crate::activity::display_time(run.record.started_ms),
                            run.record.who,
                        );
                        let id = run.run.clone();
                        let show = run.clone();
                        view! {
                            <div class="drift-callout" role="alert" data-testid="interrupted-run">
                                <p>{text}</p>
                                <div class="form-actions">
                                    <button type="button" class="btn btn-primary" data-testid="interrupted-show"
                                        on:click=move |_| {
                                            if let Some(scope) = journal_scope() {
                                                bulk.show_interrupted(scope, show.clone());
                                                runs.update(|l| l.retain(|r| r.run != show.run));
                                                navigate("/bulk", Default::default());
                                            }
                                        }>
                                        "Show its report (verify, resume, undo)"
                                    </button>
                                    <button type="button" class="btn" data-testid="interrupted-dismiss"
                                        on:click=move |_| {
                                            if let Some(scope) = journal_scope() {
                                                BulkFlow::dismiss_interrupted(scope, id.clone());
                                            }
                                            runs.update(|l| l.retain(|r| r.run != id));
                                        }>
                                        "Dismiss"
                                    </button>
                                </div>
                            </div>
                        }
                    }).collect_view()}
                    {bad.into_iter().map(|p| view! { <p class="error-text">{format!("A saved run could not be read: {p}")}</p> }).collect_view()}
                </section>
            }
        })
    }
}
