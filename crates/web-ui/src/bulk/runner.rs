//! What a bulk run needs from the API: `run_plan` with progress and abort, and the client's rate
//! usage. The app's backend provides it over `DefenderClient` (one client, so one rate limiter,
//! for the whole page: searches and bulk runs share the budget).

use defender_tags_core::device_value::DeviceValuePlan;
use defender_tags_core::{Plan, Tag, TaggedMachine};
use defender_tags_wasm::{
    AbortHandle, DefenderClient, LocalBoxFuture, MachineOutcome, Progress, RunReport,
};

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
        mut on_progress: Box<dyn FnMut(&Progress)>,
        mut on_settled: OnSettled,
        abort: AbortHandle,
    ) -> LocalBoxFuture<'static, RunReport> {
        let client = self.client.clone();
        Box::pin(async move {
            client
                .run_plan_observed(
                    &plan,
                    |p: &Progress| on_progress(p),
                    |rows: &[MachineOutcome]| on_settled(rows),
                    &abort,
                )
                .await
        })
    }

    fn run_device_values(
        &self,
        plan: DeviceValuePlan,
        mut on_progress: Box<dyn FnMut(&Progress)>,
        abort: AbortHandle,
    ) -> LocalBoxFuture<'static, RunReport> {
        let client = self.client.clone();
        Box::pin(async move {
            client
                .run_device_value_plan_observed(
                    &plan,
                    |p: &Progress| on_progress(p),
                    |_| {},
                    &abort,
                )
                .await
        })
    }

    fn holders(&self, tag: &Tag) -> LocalBoxFuture<'static, Result<Vec<TaggedMachine>, String>> {
        let client = self.client.clone();
        let tag = tag.as_str().to_owned();
        Box::pin(async move {
            client
                .find_by_tag(&tag, false)
                .await
                .map(|machines| machines.into_iter().map(TaggedMachine::from).collect())
                .map_err(|e| e.to_string())
        })
    }
}
