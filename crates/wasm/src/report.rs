//! The result of a bulk run: one outcome per machine, and exactly what was applied.

use defender_tags_core::{ExpectedOutcome, MachineId};
use serde::Serialize;

use crate::error::ClientError;

/// What happened to one machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(all(feature = "js", target_arch = "wasm32"), derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum OutcomeStatus {
    /// The API confirmed the change.
    Applied,
    /// The plan found the machine already in the wanted state; no call was made.
    AlreadyInPlace,
    /// Nothing changed because the machine was skipped: the API's bulk call did not process it
    /// (unknown id, beyond retention, outside the caller's device groups).
    Skipped,
    /// The call failed and the change was not applied (4xx, or aborted while waiting to retry
    /// a 429), and no earlier attempt of it may have applied it either.
    Failed,
    /// The call failed in a way that may or may not have applied the change (timeout, network
    /// error, 5xx, on any of its attempts: a 429 after a timeout is still `Unknown`): re-read
    /// the machine to know.
    Unknown,
    /// The run stopped (abort, or a failure that stops every call) before this machine's call.
    NotAttempted,
}

impl OutcomeStatus {
    /// A planned machine's status before the run touches it: already in place, or not attempted.
    pub fn before_run(expected: ExpectedOutcome) -> Self {
        if expected == ExpectedOutcome::AlreadyInPlace {
            Self::AlreadyInPlace
        } else {
            Self::NotAttempted
        }
    }
}

/// An error as it appears in a report (and in JS): stable code, message, HTTP details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(all(feature = "js", target_arch = "wasm32"), derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct ErrorInfo {
    /// [`ClientError::code`].
    pub code: String,
    /// Human-readable message (never contains a token).
    pub message: String,
    /// HTTP status, when the API answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(all(feature = "js", target_arch = "wasm32"), tsify(optional))]
    pub status: Option<u16>,
    /// Retry-After of a 429, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(all(feature = "js", target_arch = "wasm32"), tsify(optional))]
    pub retry_after: Option<u64>,
}

impl From<&ClientError> for ErrorInfo {
    fn from(e: &ClientError) -> Self {
        Self {
            code: e.code().to_owned(),
            message: e.to_string(),
            status: e.status(),
            retry_after: e.retry_after_secs(),
        }
    }
}

/// One machine's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(all(feature = "js", target_arch = "wasm32"), derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct MachineOutcome {
    /// Machine id, or the name as given when the plan could not resolve it.
    pub machine: String,
    /// What happened.
    pub status: OutcomeStatus,
    /// Why, for `Failed`, `Unknown` and `Skipped` (codes as `ClientError::code`, plus
    /// `not_processed` and `unconfirmed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(all(feature = "js", target_arch = "wasm32"), tsify(optional))]
    pub error: Option<ErrorInfo>,
}

impl MachineOutcome {
    /// A planned machine's line before the run touches it (see [`OutcomeStatus::before_run`]).
    pub fn before_run(id: &MachineId, expected: ExpectedOutcome) -> Self {
        Self {
            machine: id.to_string(),
            status: OutcomeStatus::before_run(expected),
            error: None,
        }
    }
}

/// The result of `run_plan`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(all(feature = "js", target_arch = "wasm32"), derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    /// The tag of the plan.
    pub tag: String,
    /// `Add` or `Remove`.
    pub action: String,
    /// One entry per machine of the plan, in plan order.
    pub outcomes: Vec<MachineOutcome>,
    /// True when the caller aborted the run.
    pub aborted: bool,
    /// The failure that stopped the whole run (e.g. 401 after refresh), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(all(feature = "js", target_arch = "wasm32"), tsify(optional))]
    pub stopped_by: Option<ErrorInfo>,
    /// Calls the plan needed.
    pub calls_planned: u32,
    /// Calls actually finished (whatever their result).
    pub calls_made: u32,
}

impl RunReport {
    /// Number of machines with `status`.
    pub fn count(&self, status: OutcomeStatus) -> usize {
        self.outcomes.iter().filter(|o| o.status == status).count()
    }

    /// Machines the API confirmed changed: what an undo must revert.
    pub fn applied(&self) -> impl Iterator<Item = &str> {
        self.outcomes
            .iter()
            .filter(|o| o.status == OutcomeStatus::Applied)
            .map(|o| o.machine.as_str())
    }

    /// True when every machine is `Applied` or `AlreadyInPlace`.
    pub fn is_complete(&self) -> bool {
        self.outcomes.iter().all(|o| {
            matches!(
                o.status,
                OutcomeStatus::Applied | OutcomeStatus::AlreadyInPlace
            )
        })
    }
}
