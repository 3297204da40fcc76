//! One mount's bulk state (compose → preview → running → report) and the task that runs a job.
//!
//! The state outlives the page components: a run keeps going, and its report stays, while the
//! user looks at the inventory or the activity log. It is one per mount ([`BulkFlow`], provided
//! by `AppState::provide`): the app has one, and each embedded manager its own.

use std::rc::Rc;
use std::sync::Arc;

use defender_tags_wasm::{AbortHandle, ErrorInfo, MachineOutcome, Progress, RunReport};
use leptos::prelude::*;

use super::job::{Job, JobKind, RunRecord, StepDrift};
use super::journal::{self, Interrupted, JournalWriter, Scope};
use super::runner::BulkRunner;
use crate::activity::{self, Activity};
use crate::idb::Store;
use crate::state::now_ms;

/// Where the bulk flow stands.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Phase {
    /// Choosing machines and a tag.
    #[default]
    Compose,
    /// A job waits for confirmation.
    Preview(Arc<Job>),
    /// Run was confirmed: the machines' current tags are being re-read to re-plan the job.
    Checking(Arc<Job>),
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

/// What the re-read before a run found, shown on the preview it sends the user back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recheck {
    /// Machines changed since the preview: the preview now shows the fresh plan.
    Drift(Vec<StepDrift>),
    /// The re-read failed; nothing was sent.
    Failed(String),
}

/// The bulk state of one mount. Copy: signals owned by the mount's root, so they live as long
/// as the mount and not a page.
#[derive(Debug, Clone, Copy)]
pub struct BulkFlow {
    phase: RwSignal<Phase>,
    abort: StoredValue<Option<AbortHandle>, LocalStorage>,
    finished: RwSignal<u32>,
    recheck: RwSignal<Option<Recheck>>,
    verifying: RwSignal<bool>,
    resuming: StoredValue<Option<(Scope, String)>, LocalStorage>,
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
            recheck: RwSignal::new(None),
            verifying: RwSignal::new(false),
            resuming: StoredValue::new_local(None),
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

    /// What the last re-read before a run found, while its preview is shown.
    pub fn recheck(&self) -> RwSignal<Option<Recheck>> {
        self.recheck
    }

    /// Whether "Verify" is re-reading machines.
    pub fn verifying(&self) -> RwSignal<bool> {
        self.verifying
    }

    /// Whether a run is in progress (or about to start: its re-read is under way).
    pub fn is_running(&self) -> bool {
        self.phase
            .with_untracked(|p| matches!(p, Phase::Running { .. } | Phase::Checking(_)))
    }

    /// Shows `job`'s preview (unless a run is in progress, which is never replaced).
    pub fn preview(&self, job: Job) -> bool {
        if self.is_running() {
            return false;
        }
        self.recheck.set(None);
        self.phase.set(Phase::Preview(Arc::new(job)));
        true
    }

    /// Back to choosing machines (not while running).
    pub fn reset(&self) {
        if !self.is_running() {
            self.recheck.set(None);
            self.phase.set(Phase::Compose);
        }
    }

    /// Shows the report of a run the page lost (see `journal`), recording it in the activity
    /// log; Resume on that report then replaces its journal.
    pub fn show_interrupted(&self, scope: Scope, run: Interrupted) {
        if self.is_running() {
            return;
        }
        self.activity.record(activity::run_entry(&run.record));
        self.resuming.set_value(Some((scope, run.run)));
        self.recheck.set(None);
        self.phase.set(Phase::Done(Arc::new(run.record)));
    }

    /// Forgets an interrupted run without resuming it.
    pub fn dismiss_interrupted(scope: Scope, run: String) {
        leptos::task::spawn_local(async move {
            if let Ok(store) = Store::open().await {
                journal::discard(&store, &scope, &run).await;
            }
        });
    }

    /// Prepares to finish what a stopped, cancelled or interrupted run left: the same machines
    /// and steps, re-planned from their tags as they are now (so what the run already did is
    /// "already in place"), shown as a preview to confirm.
    pub fn resume(&self, runner: Rc<dyn BulkRunner>) {
        let Phase::Done(record) = self.phase.get_untracked() else {
            return;
        };
        if self.verifying.get_untracked() {
            return;
        }
        if record.job.device_value.is_some() {
            // What is left is the machines not confirmed, planned from the values they had;
            // no tag to re-read them by, and setting a value twice is harmless.
            let mut job = record.job.clone();
            job.kind = JobKind::Resume;
            job.title = format!("Resume \u{2014} {}", record.job.title);
            job.source = format!("The machines of: {}", record.job.title);
            job.unresolved = Vec::new();
            job.device_value = record.device_value_remaining();
            if job.device_value.is_some() {
                self.recheck.set(None);
                self.phase.set(Phase::Preview(Arc::new(job)));
            }
            return;
        }
        self.verifying.set(true);
        let this = *self;
        leptos::task::spawn_local(async move {
            let mut job = record.job.clone();
            job.kind = JobKind::Resume;
            job.title = format!("Resume \u{2014} {}", record.job.title);
            job.source = format!("The machines of: {}", record.job.title);
            job.unresolved = Vec::new();
            for index in 0..job.steps.len() {
                match runner.holders(&job.steps[index].plan.tag).await {
                    Ok(holders) => job = job.with_step_refreshed(index, &holders).0,
                    Err(e) => {
                        this.verifying.try_set(false);
                        this.recheck.try_set(Some(Recheck::Failed(format!(
                            "Could not re-read the machines to resume: {e}"
                        ))));
                        return;
                    }
                }
            }
            this.verifying.try_set(false);
            this.recheck.try_set(None);
            this.phase.try_set(Phase::Preview(Arc::new(job)));
        });
    }

    /// Re-reads the machines whose result is unknown in the shown report and settles them
    /// (see [`RunRecord::verified`]); the report is replaced by the settled one.
    pub fn verify(&self, runner: Rc<dyn BulkRunner>) {
        let Phase::Done(record) = self.phase.get_untracked() else {
            return;
        };
        if self.verifying.get_untracked() {
            return;
        }
        self.verifying.set(true);
        let this = *self;
        leptos::task::spawn_local(async move {
            let mut settled = (*record).clone();
            let mut failure = None;
            for index in record.unknown_steps() {
                let Some(step) = record.job.steps.get(index) else {
                    continue;
                };
                match runner.holders(&step.plan.tag).await {
                    Ok(holders) => settled = settled.verified(index, &holders),
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            this.verifying.try_set(false);
            if let Some(e) = failure {
                this.recheck.try_set(Some(Recheck::Failed(format!(
                    "Could not re-read the machines: {e}"
                ))));
            }
            this.activity.record(activity::run_entry(&settled));
            this.phase.try_update(|p| {
                // Only the report that was verified is replaced (not a newer phase).
                if matches!(p, Phase::Done(r) if Arc::ptr_eq(r, &record)) {
                    *p = Phase::Done(Arc::new(settled));
                }
            });
        });
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
        journal: Option<Scope>,
        after: impl FnOnce() + 'static,
    ) -> bool {
        let job = match self.phase.get_untracked() {
            Phase::Preview(job) => job,
            _ => return false,
        };
        self.recheck.set(None);
        self.phase.set(Phase::Checking(job.clone()));
        let this = *self;
        leptos::task::spawn_local(async move {
            // Guarded from here: the re-read is the run's first call, and a sign-in renewal
            // that needs a redirect must fail it rather than leave the page.
            let guard = super::guard::RunGuard::engage();
            // The plan is made again from the tags as they are now (one `findbytag` per step),
            // so "changed" in the report means changed by this run. If anything moved since the
            // preview, the user sees the fresh plan and confirms again.
            let mut fresh = (*job).clone();
            let mut drift = Vec::new();
            for index in 0..job.steps.len() {
                match runner.holders(&job.steps[index].plan.tag).await {
                    Ok(holders) => {
                        let (next, moved) = fresh.with_step_refreshed(index, &holders);
                        fresh = next;
                        drift.extend(moved);
                    }
                    Err(e) => {
                        this.recheck.try_set(Some(Recheck::Failed(format!(
                            "Could not re-read the machines' current tags, so nothing was changed: {e}"
                        ))));
                        this.phase.try_set(Phase::Preview(job));
                        return;
                    }
                }
            }
            if !drift.is_empty() {
                this.recheck.try_set(Some(Recheck::Drift(drift)));
                this.phase.try_set(Phase::Preview(Arc::new(fresh)));
                return;
            }
            let abort = AbortHandle::new();
            this.abort.try_update_value(|a| *a = Some(abort.clone()));
            let fresh = Arc::new(fresh);
            this.phase.try_set(Phase::Running {
                job: fresh.clone(),
                step: 1,
                progress: None,
                cancelling: false,
            });
            // A resumed run replaces the interrupted one's journal with its own.
            if let Some((scope, run)) = this.resuming.try_get_value().flatten() {
                this.resuming.try_set_value(None);
                if let Ok(store) = Store::open().await {
                    journal::discard(&store, &scope, &run).await;
                }
            }
            this.run(fresh, runner, who, journal, abort, guard).await;
            after();
        });
        true
    }

    /// The run itself. The mount may be unmounted meanwhile: its signals are then gone, so
    /// every write is a `try_` write that does nothing on a disposed signal.
    async fn run(
        self,
        job: Arc<Job>,
        runner: Rc<dyn BulkRunner>,
        who: String,
        journal: Option<Scope>,
        abort: AbortHandle,
        guard: super::guard::RunGuard,
    ) {
        let started_ms = now_ms();
        // The journal records tag steps (re-planned from `findbytag` on resume); a device-value
        // run is not journaled, so a page closed mid-run does not offer its report again.
        let writer = match journal {
            Some(scope) if job.device_value.is_none() => {
                JournalWriter::start(scope, &job, &who, started_ms).await
            }
            _ => None,
        };
        // The job as run: a later step is re-planned from a fresh read just before it starts
        // (the earlier steps may have taken minutes), so its record is what was really sent.
        let mut ran = (*job).clone();
        let mut reports = Vec::with_capacity(job.steps.len());
        let signal = self.phase;
        for i in 0..job.steps.len() {
            if abort.is_aborted() {
                break;
            }
            signal.try_update(|p| {
                if let Phase::Running { step, progress, .. } = p {
                    *step = i + 1;
                    *progress = None;
                }
            });
            if i > 0 {
                match runner.holders(&ran.steps[i].plan.tag).await {
                    Ok(holders) => ran = ran.with_step_refreshed(i, &holders).0,
                    Err(e) => {
                        reports.push(not_started(&ran.steps[i], &e));
                        break;
                    }
                }
            }
            if let Some(w) = &writer {
                w.step(i, &ran.steps[i]).await;
            }
            let on_progress = Box::new(move |event: &Progress| {
                signal.try_update(|p| {
                    if let Phase::Running { progress, .. } = p {
                        *progress = Some(event.clone());
                    }
                });
            });
            let journal_call = writer.clone();
            let on_settled = Box::new(move |rows: &[MachineOutcome]| {
                if let Some(w) = &journal_call {
                    w.settled(i, rows);
                }
            });
            let report = runner
                .run(
                    ran.steps[i].plan.clone(),
                    on_progress,
                    on_settled,
                    abort.clone(),
                )
                .await;
            let stop = report.aborted || report.stopped_by.is_some();
            reports.push(report);
            if stop {
                break;
            }
        }
        // A device-value change runs after the tag steps (a device-value job has none), through
        // the same runner: same budget, progress, abort and report.
        let stopped = reports.iter().any(|r| r.aborted || r.stopped_by.is_some());
        if let Some(plan) = ran.device_value.clone()
            && !stopped
            && !abort.is_aborted()
        {
            let step_no = ran.steps.len() + 1;
            signal.try_update(|p| {
                if let Phase::Running { step, progress, .. } = p {
                    *step = step_no;
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
            reports.push(
                runner
                    .run_device_values(plan, on_progress, abort.clone())
                    .await,
            );
        }
        let record = RunRecord {
            job: ran,
            reports,
            who,
            started_ms,
            finished_ms: now_ms(),
        };
        self.activity.record(activity::run_entry(&record));
        if let Some(w) = writer {
            w.finish().await;
        }
        drop(guard);
        self.abort.try_update_value(|a| *a = None);
        signal.try_set(Phase::Done(Arc::new(record)));
        self.finished.try_update(|n| *n += 1);
    }
}

/// The report of a step that could not start because its re-read failed: nothing of it was
/// sent, and the run stops there.
fn not_started(step: &super::job::Step, error: &str) -> RunReport {
    RunReport {
        tag: step.plan.tag.as_str().to_owned(),
        action: step.plan.action.as_str().to_owned(),
        outcomes: step
            .plan
            .outcomes
            .iter()
            .map(|o| MachineOutcome::before_run(&o.id, o.expected))
            .collect(),
        aborted: false,
        stopped_by: Some(ErrorInfo {
            code: "reread_failed".to_owned(),
            message: format!(
                "could not re-read the machines' current tags before this step: {error}"
            ),
            status: None,
            retry_after: None,
        }),
        calls_planned: u32::try_from(step.plan.calls.len()).unwrap_or(u32::MAX),
        calls_made: 0,
    }
}
