//! What a bulk run needs from the API: `run_plan` with progress and abort, and the client's rate
//! usage. The app's backend provides it over `DefenderClient` (one client, so one rate limiter,
//! for the whole page: searches and bulk runs share the budget).

use std::rc::Rc;

use defender_tags_core::device_value::DeviceValuePlan;
use defender_tags_core::{Plan, Tag, TaggedMachine};
use defender_tags_wasm::{
    AbortHandle, DefenderClient, ErrorInfo, LocalBoxFuture, MachineOutcome, Progress, RunReport,
};

use crate::routes::lazy::PageLoadError;

/// Called with each call's outcomes as it settles.
pub type OnSettled = Box<dyn FnMut(&[MachineOutcome])>;

/// Runs plans.
pub trait BulkRunner {
    /// Runs `plan`, calling `on_progress` after every call and before every wait and
    /// `on_settled` with each call's outcomes as it settles (the run journal); stops at
    /// `abort` (a call in flight is awaited). Never fails: the report has one line per machine.
    fn run(
        &self,
        plan: Plan,
        on_progress: Box<dyn FnMut(&Progress)>,
        on_settled: OnSettled,
        abort: AbortHandle,
    ) -> LocalBoxFuture<'static, RunReport>;

    /// Runs a device-value plan (one `setDeviceValue` per machine that changes) like [`run`]:
    /// same budget, progress, abort and report.
    ///
    /// [`run`]: BulkRunner::run
    fn run_device_values(
        &self,
        plan: DeviceValuePlan,
        on_progress: Box<dyn FnMut(&Progress)>,
        abort: AbortHandle,
    ) -> LocalBoxFuture<'static, RunReport>;

    /// The machines carrying `tag` now, with their tags (`findbytag`): runs re-plan from it
    /// just before they send anything, and "Verify" settles unknown results with it.
    fn holders(&self, tag: &Tag) -> LocalBoxFuture<'static, Result<Vec<TaggedMachine>, String>>;
}

/// [`BulkRunner`] over the API client.
#[derive(Debug, Clone)]
pub struct ClientRunner {
    client: DefenderClient,
}

impl ClientRunner {
    /// Runs plans with `client`.
    pub fn new(client: DefenderClient) -> Self {
        Self { client }
    }
}

impl BulkRunner for ClientRunner {
    fn run(
        &self,
        plan: Plan,
        on_progress: Box<dyn FnMut(&Progress)>,
        on_settled: OnSettled,
        abort: AbortHandle,
    ) -> LocalBoxFuture<'static, RunReport> {
        let client = self.client.clone();
        // Shared with the split point so a failed download can still report the plan.
        let plan = Rc::new(plan);
        Box::pin(async move {
            #[cfg(feature = "split")]
            let run = dt_bulk_run(client, plan.clone(), on_progress, on_settled, abort).await;
            #[cfg(not(feature = "split"))]
            let run = dt_bulk_run(client, plan.clone(), on_progress, on_settled, abort);
            match run {
                Ok(running) => running.await,
                Err(PageLoadError) => not_started(
                    plan.tag.as_str(),
                    plan.action.as_str(),
                    plan_rows(&plan),
                    plan.calls.len(),
                ),
            }
        })
    }

    fn run_device_values(
        &self,
        plan: DeviceValuePlan,
        on_progress: Box<dyn FnMut(&Progress)>,
        abort: AbortHandle,
    ) -> LocalBoxFuture<'static, RunReport> {
        let client = self.client.clone();
        let plan = Rc::new(plan);
        Box::pin(async move {
            #[cfg(feature = "split")]
            let run = dt_bulk_run_device_values(client, plan.clone(), on_progress, abort).await;
            #[cfg(not(feature = "split"))]
            let run = dt_bulk_run_device_values(client, plan.clone(), on_progress, abort);
            match run {
                Ok(running) => running.await,
                Err(PageLoadError) => not_started(
                    "",
                    "setDeviceValue",
                    plan.outcomes
                        .iter()
                        .map(|o| MachineOutcome::before_run(&o.id, o.expected))
                        .collect(),
                    plan.outcomes.iter().filter(|o| o.is_called()).count(),
                ),
            }
        })
    }

    fn holders(&self, tag: &Tag) -> LocalBoxFuture<'static, Result<Vec<TaggedMachine>, String>> {
        let client = self.client.clone();
        let tag = tag.as_str().to_owned();
        Box::pin(async move {
            #[cfg(feature = "split")]
            let read = dt_bulk_holders(client, tag).await;
            #[cfg(not(feature = "split"))]
            let read = dt_bulk_holders(client, tag);
            match read {
                Ok(reading) => reading.await,
                Err(PageLoadError) => Err(CodeUnavailable.to_string()),
            }
        })
    }
}

/// The code that runs plans could not be downloaded (the stop reason of a run that therefore
/// sent nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the code that runs bulk changes could not be downloaded (check the connection; if the site was updated meanwhile, reload the page)"
)]
pub struct CodeUnavailable;

/// The code of [`CodeUnavailable`] as a run's stop reason.
pub const CODE_UNAVAILABLE: &str = "code_unavailable";

/// A plan's report rows before its run touches anything: each machine already in place, or not
/// attempted.
pub fn plan_rows(plan: &Plan) -> Vec<MachineOutcome> {
    plan.outcomes
        .iter()
        .map(|o| MachineOutcome::before_run(&o.id, o.expected))
        .collect()
}

/// The report of a run that sent nothing because its code could not be downloaded: the rows as
/// before the run, stopped by [`CodeUnavailable`], so the report offers to resume it.
fn not_started(tag: &str, action: &str, outcomes: Vec<MachineOutcome>, calls: usize) -> RunReport {
    RunReport {
        tag: tag.to_owned(),
        action: action.to_owned(),
        outcomes,
        aborted: false,
        stopped_by: Some(ErrorInfo {
            code: CODE_UNAVAILABLE.to_owned(),
            message: CodeUnavailable.to_string(),
            status: None,
            retry_after: None,
        }),
        calls_planned: u32::try_from(calls).unwrap_or(u32::MAX),
        calls_made: 0,
    }
}

// The runs' code (the client's pacing, retries and settling, the plan's calls and their
// decoders) is a `wasm_split` split point in the site's release build (`--features split`), like
// the pages of `crate::routes::lazy`: only the bulk page, the interrupted-runs banner and the
// rules page run plans, so sign-in and search do not download it. A failed download leaves the
// run unsent (the next run tries again).

#[cfg_attr(
    feature = "split",
    leptos::wasm_split::wasm_split(dt_bulk_run, wasm_split_path = ::leptos::wasm_split, fallible)
)]
fn dt_bulk_run(
    client: DefenderClient,
    plan: Rc<Plan>,
    mut on_progress: Box<dyn FnMut(&Progress)>,
    mut on_settled: OnSettled,
    abort: AbortHandle,
) -> Result<LocalBoxFuture<'static, RunReport>, PageLoadError> {
    Ok(Box::pin(async move {
        client
            .run_plan_observed(
                &plan,
                |p: &Progress| on_progress(p),
                |rows: &[MachineOutcome]| on_settled(rows),
                &abort,
            )
            .await
    }))
}

#[cfg_attr(
    feature = "split",
    leptos::wasm_split::wasm_split(dt_bulk_run, wasm_split_path = ::leptos::wasm_split, fallible)
)]
fn dt_bulk_run_device_values(
    client: DefenderClient,
    plan: Rc<DeviceValuePlan>,
    mut on_progress: Box<dyn FnMut(&Progress)>,
    abort: AbortHandle,
) -> Result<LocalBoxFuture<'static, RunReport>, PageLoadError> {
    Ok(Box::pin(async move {
        client
            .run_device_value_plan_observed(&plan, |p: &Progress| on_progress(p), |_| {}, &abort)
            .await
    }))
}

#[cfg_attr(
    feature = "split",
    leptos::wasm_split::wasm_split(dt_bulk_run, wasm_split_path = ::leptos::wasm_split, fallible)
)]
fn dt_bulk_holders(
    client: DefenderClient,
    tag: String,
) -> Result<LocalBoxFuture<'static, Result<Vec<TaggedMachine>, String>>, PageLoadError> {
    Ok(Box::pin(async move {
        client
            .find_by_tag(&tag, false)
            .await
            .map(|machines| machines.into_iter().map(TaggedMachine::from).collect())
            .map_err(|e| e.to_string())
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use defender_tags_core::plan::{MachineState, plan};
    use defender_tags_core::{MachineId, TagAction};
    use defender_tags_wasm::OutcomeStatus;

    fn id(n: u8) -> MachineId {
        MachineId::parse(&format!("{n:040x}")).unwrap()
    }

    #[test]
    fn a_run_whose_code_did_not_load_reports_every_machine_unsent() {
        let tag = Tag::parse("Finance").unwrap();
        let machines = [
            MachineState {
                id: id(1),
                name: None,
                tags: Some(vec!["Finance".into()]),
            },
            MachineState {
                id: id(2),
                name: None,
                tags: Some(Vec::new()),
            },
        ];
        let p = plan(&tag, TagAction::Add, &machines);
        let report = not_started(
            p.tag.as_str(),
            p.action.as_str(),
            plan_rows(&p),
            p.calls.len(),
        );
        assert_eq!(report.tag, "Finance");
        assert_eq!(report.action, "Add");
        let statuses: Vec<_> = report.outcomes.iter().map(|o| o.status).collect();
        assert_eq!(
            statuses,
            [OutcomeStatus::AlreadyInPlace, OutcomeStatus::NotAttempted]
        );
        assert_eq!((report.calls_planned, report.calls_made), (1, 0));
        let stop = report.stopped_by.as_ref().unwrap();
        assert_eq!(stop.code, CODE_UNAVAILABLE);
        assert!(
            stop.message.contains("could not be downloaded"),
            "{}",
            stop.message
        );
        assert!(!report.aborted && !report.is_complete());
        assert_eq!(report.applied().count(), 0);
    }
}
