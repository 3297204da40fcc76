//! What a bulk run needs from the API: `run_plan` with progress and abort, and the client's rate
//! usage. The app's backend provides it over `DefenderClient` (one client, so one rate limiter,
//! for the whole page: searches and bulk runs share the budget).

use defender_tags_core::Plan;
use defender_tags_wasm::{AbortHandle, DefenderClient, LocalBoxFuture, Progress, RunReport};

/// Runs plans.
pub trait BulkRunner {
    /// Runs `plan`, calling `on_progress` after every call and before every wait; stops at
    /// `abort` (a call in flight is awaited). Never fails: the report has one line per machine.
    fn run(
        &self,
        plan: Plan,
        on_progress: Box<dyn FnMut(&Progress)>,
        abort: AbortHandle,
    ) -> LocalBoxFuture<'static, RunReport>;
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
        abort: AbortHandle,
    ) -> LocalBoxFuture<'static, RunReport> {
        let client = self.client.clone();
        Box::pin(async move {
            client
                .run_plan(&plan, |p: &Progress| on_progress(p), &abort)
                .await
        })
    }
}
