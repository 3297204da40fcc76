//! One mount's bulk state (compose → preview → running → report) and the task that runs a job.
//!
//! The state outlives the page components: a run keeps going, and its report stays, while the
//! user looks at the inventory or the activity log. It is one per mount ([`BulkFlow`], provided
//! by `AppState::provide`): the app has one, and each embedded manager its own.

use std::rc::Rc;
use std::sync::Arc;

use defender_tags_wasm::{AbortHandle, Progress};
use leptos::prelude::*;

use super::job::{Job, RunRecord};
use super::runner::BulkRunner;
use crate::activity::{self, Activity};
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

/// The bulk state of one mount. Copy: signals owned by the mount's root, so they live as long
/// as the mount and not a page.
#[derive(Debug, Clone, Copy)]
pub struct BulkFlow {
    phase: RwSignal<Phase>,
    abort: StoredValue<Option<AbortHandle>, LocalStorage>,
    finished: RwSignal<u32>,
    activity: Activity,
}

/// The mount's [`BulkFlow`] (panics outside `AppState::provide`'s owner, like `expect_context`).
pub fn use_bulk_flow() -> BulkFlow {
    expect_context::<BulkFlow>()
}

impl BulkFlow {
    /// A flow in the compose phase whose runs are written to `activity`.
    pub fn new(activity: Activity) -> Self {
        Self {
            phase: RwSignal::new(Phase::Compose),
            abort: StoredValue::new_local(None),
            finished: RwSignal::new(0),
            activity,
        }
    }

    /// Counts finished runs: pages showing tenant data track it to read it again after a run.
    pub fn runs_finished(&self) -> RwSignal<u32> {
        self.finished
    }

    /// Where the flow stands.
    pub fn phase(&self) -> RwSignal<Phase> {
        self.phase
    }

    /// Whether a run is in progress.
    pub fn is_running(&self) -> bool {
        self.phase
            .with_untracked(|p| matches!(p, Phase::Running { .. }))
    }

    /// Shows `job`'s preview (unless a run is in progress, which is never replaced).
    pub fn preview(&self, job: Job) -> bool {
        if self.is_running() {
            return false;
        }
        self.phase.set(Phase::Preview(Arc::new(job)));
        true
    }

    /// Back to choosing machines (not while running).
    pub fn reset(&self) {
        if !self.is_running() {
            self.phase.set(Phase::Compose);
        }
    }

    /// Asks the running job to stop: waits are cut short, the call in flight is awaited, later
    /// calls are not made.
    pub fn cancel(&self) {
        self.abort.with_value(|a| {
            if let Some(handle) = a {
                handle.abort();
            }
        });
        self.phase.update(|p| {
            if let Phase::Running { cancelling, .. } = p {
                *cancelling = true;
            }
        });
    }

    /// Runs the previewed job with `runner`, as `who`; `after` runs once the run has ended (the
    /// app drops its confirmed single edits there: the listings read after a run include them).
    /// Returns false if there is no preview.
    pub fn start(
        &self,
        runner: Rc<dyn BulkRunner>,
        who: String,
        after: impl FnOnce() + 'static,
    ) -> bool {
        let job = match self.phase.get_untracked() {
            Phase::Preview(job) => job,
            _ => return false,
        };
        let abort = AbortHandle::new();
        self.abort.set_value(Some(abort.clone()));
        self.phase.set(Phase::Running {
            job: job.clone(),
            step: 1,
            progress: None,
            cancelling: false,
        });
        let this = *self;
        leptos::task::spawn_local(async move {
            this.run(job, runner, who, abort).await;
            after();
        });
        true
    }

    /// The run itself. The mount may be unmounted meanwhile: its signals are then gone, so
    /// every write is a `try_` write that does nothing on a disposed signal.
    async fn run(self, job: Arc<Job>, runner: Rc<dyn BulkRunner>, who: String, abort: AbortHandle) {
        let guard = super::guard::RunGuard::engage();
        let started_ms = now_ms();
        let mut reports = Vec::with_capacity(job.steps.len());
        let signal = self.phase;
        for (i, step) in job.steps.iter().enumerate() {
            if abort.is_aborted() {
                break;
            }
            signal.try_update(|p| {
                if let Phase::Running { step, progress, .. } = p {
                    *step = i + 1;
                    *progress = None;
                }
            });
            let on_progress = Box::new(move |event: &Progress| {
                signal.try_update(|p| {
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
        self.activity.record(activity::run_entry(&record));
        drop(guard);
        self.abort.try_update_value(|a| *a = None);
        signal.try_set(Phase::Done(Arc::new(record)));
        self.finished.try_update(|n| *n += 1);
    }
}
