//! The page's bulk state (compose → preview → running → report) and the task that runs a job.
//!
//! The state outlives the page components: a run keeps going, and its report stays, while the
//! user looks at the inventory or the activity log. It is one per page (thread-local Arc signals,
//! reference-counted rather than owned by whichever component asked first).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use defender_tags_wasm::{AbortHandle, Progress};
use leptos::prelude::*;

use super::job::{Job, RunRecord};
use super::runner::BulkRunner;
use crate::activity;
use crate::state::now_ms;

/// Where the bulk flow stands.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Phase {
    /// Choosing machines and a tag.
    #[default]
    Compose,
    /// A job waits for confirmation.
    Preview(Arc<Job>),
    /// A job runs.
    Running {
        /// The job.
        job: Arc<Job>,
        /// 1-based step running.
        step: usize,
        /// The last progress event of the step, if any.
        progress: Option<Progress>,
        /// Cancel was pressed; the call in flight finishes first.
        cancelling: bool,
    },
    /// A run ended (completed, cancelled or stopped).
    Done(Arc<RunRecord>),
}

thread_local! {
    static PHASE: ArcRwSignal<Phase> = ArcRwSignal::new(Phase::Compose);
    static ABORT: RefCell<Option<AbortHandle>> = const { RefCell::new(None) };
    static FINISHED: ArcRwSignal<u32> = ArcRwSignal::new(0);
}

/// Counts finished runs: pages showing tenant data track it to read it again after a run.
pub fn runs_finished() -> ArcRwSignal<u32> {
    FINISHED.with(Clone::clone)
}

/// The page's bulk phase.
pub fn phase() -> ArcRwSignal<Phase> {
    PHASE.with(Clone::clone)
}

/// Whether a run is in progress.
pub fn is_running() -> bool {
    phase().with_untracked(|p| matches!(p, Phase::Running { .. }))
}

/// Shows `job`'s preview (unless a run is in progress, which is never replaced).
pub fn preview(job: Job) -> bool {
    if is_running() {
        return false;
    }
    phase().set(Phase::Preview(Arc::new(job)));
    true
}

/// Back to choosing machines (not while running).
pub fn reset() {
    if !is_running() {
        phase().set(Phase::Compose);
    }
}

/// Asks the running job to stop: waits are cut short, the call in flight is awaited, later
/// calls are not made.
pub fn cancel() {
    ABORT.with(|a| {
        if let Some(handle) = a.borrow().as_ref() {
            handle.abort();
        }
    });
    phase().update(|p| {
        if let Phase::Running { cancelling, .. } = p {
            *cancelling = true;
        }
    });
}

/// Runs the previewed job with `runner`, as `who`; `after` runs once the run has ended (the
/// app drops its confirmed single edits there: the listings read after a run include them).
/// Returns false if there is no preview.
pub fn start(runner: Rc<dyn BulkRunner>, who: String, after: impl FnOnce() + 'static) -> bool {
    let job = match phase().get_untracked() {
        Phase::Preview(job) => job,
        _ => return false,
    };
    let abort = AbortHandle::new();
    ABORT.with(|a| *a.borrow_mut() = Some(abort.clone()));
    phase().set(Phase::Running {
        job: job.clone(),
        step: 1,
        progress: None,
        cancelling: false,
    });
    leptos::task::spawn_local(async move {
        run(job, runner, who, abort).await;
        after();
    });
    true
}

async fn run(job: Arc<Job>, runner: Rc<dyn BulkRunner>, who: String, abort: AbortHandle) {
    let guard = super::guard::RunGuard::engage();
    let started_ms = now_ms();
    let mut reports = Vec::with_capacity(job.steps.len());
    for (i, step) in job.steps.iter().enumerate() {
        if abort.is_aborted() {
            break;
        }
        let signal = phase();
        signal.update(|p| {
            if let Phase::Running { step, progress, .. } = p {
                *step = i + 1;
                *progress = None;
            }
        });
        let on_progress = Box::new(move |event: &Progress| {
            signal.update(|p| {
                if let Phase::Running { progress, .. } = p {
                    *progress = Some(event.clone());
                }
            });
        });
        let report = runner
            .run(step.plan.clone(), on_progress, abort.clone())
            .await;
        let stop = report.aborted || report.stopped_by.is_some();
        reports.push(report);
        if stop {
            break;
        }
    }
    let record = RunRecord {
        job: (*job).clone(),
        reports,
        who,
        started_ms,
        finished_ms: now_ms(),
    };
    activity::record(activity::run_entry(&record));
    drop(guard);
    ABORT.with(|a| *a.borrow_mut() = None);
    phase().set(Phase::Done(Arc::new(record)));
    runs_finished().update(|n| *n += 1);
}
