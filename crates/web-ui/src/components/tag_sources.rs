//! Where tags come from, in the views: the bulk preview's warnings before removing a registry
//! or rule tag, and the source label of a tag chip (`crate::hunting::provenance`).

use std::sync::Arc;

use defender_tags_core::MachineId;
use defender_tags_core::TagAction;
use defender_tags_core::plan::ExpectedOutcome;
use leptos::prelude::*;

use crate::bulk::job::Job;
use crate::hunting::provenance::use_provenance;
use crate::state::BackendCtx;

/// For a job that removes tags: one warning per affected group of machines whose tag is set
/// by the registry or a rule (core's `Plan::warn_by_provenance`), or the one-line reason the
/// sources are unknown. Nothing for a job that only adds.
#[component]
pub fn RemovalSources(job: Arc<Job>) -> impl IntoView {
    let removing = job.steps.iter().any(|s| s.plan.action == TagAction::Remove);
    let ctx = use_provenance();
    let (Some(ctx), true) = (ctx, removing) else {
        return ().into_any();
    };
    let ids: Vec<MachineId> = job
        .steps
        .iter()
        .filter(|s| s.plan.action == TagAction::Remove)
        .flat_map(|s| s.plan.outcomes.iter())
        .filter(|o| o.expected != ExpectedOutcome::AlreadyInPlace)
        .map(|o| o.id.clone())
        .collect();
    let backend = use_context::<BackendCtx>().and_then(|b| b.0.get_untracked());
    ctx.ensure(backend, ids);
    view! {
        {move || {
            let state = ctx.0.get();
            if let Some(snap) = state.snapshot.as_ref().filter(|_| !state.loading) {
                let warnings: Vec<String> = job
                    .steps
                    .iter()
                    .flat_map(|s| {
                        let mut plan = s.plan.clone();
                        plan.warnings.clear();
                        plan.warn_by_provenance(&snap.sources);
                        plan.warnings
                    })
                    .map(|w| crate::hunting::sentence(&w.to_string()))
                    .collect();
                if warnings.is_empty() {
                    return view! {
                        <p class="hint" data-testid="provenance-ok">
                            "Hunting data shows no registry or rule setting the tag on these machines: the removal should stick."
                        </p>
                    }.into_any();
                }
                return view! {
                    <ul class="warning-list" role="alert" data-testid="provenance-warnings">
                        {warnings.into_iter().map(|w| view! { <li>{w}</li> }).collect_view()}
                    </ul>
                }.into_any();
            }
            if state.loading {
                view! {
                    <p class="hint" role="status" data-testid="provenance-checking">
                        "Checking where the tags to remove come from (advanced hunting)\u{2026}"
                    </p>
                }.into_any()
            } else {
                view! {
                    <p class="hint" data-testid="provenance-unavailable">{state.unavailable.clone()}</p>
                }.into_any()
            }
        }}
    }
    .into_any()
}
