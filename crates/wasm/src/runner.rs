//! `run_plan`: executes core's plan with a few calls in flight, with progress, abort and a
//! precise report.
//!
//! Pipelining: up to [`ClientConfig::max_in_flight`](crate::ClientConfig::max_in_flight) calls
//! (default 2) run at once, so the client's work on one answer (decoding, bookkeeping) overlaps
//! the next call instead of adding to it. Each call takes its own rate-limit slot, held from the
//! grant until its answer settles it, so overlapping never lets more calls reach the service
//! than the budget allows; a 429's Retry-After blocks the shared limiter, pausing every pending
//! send. The report does not depend on the order answers arrive in: every call settles its own
//! rows, which stay in plan order.
//!
//! Abort semantics: an abort cuts every *wait* short (rate-limit slot, Retry-After, backoff) and
//! stops every send not yet made, but never a call in flight: that call is awaited, so its
//! machines are reported as what the API said (or `Unknown` if the answer was a timeout/5xx).
//! An error that stops the run (token, 401, network) does the same to the other calls.
//! Machines of calls not sent are `NotAttempted`. Nothing is silently dropped.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::task::Poll;

use defender_tags_core::api;
use defender_tags_core::device_value::DeviceValuePlan;
use defender_tags_core::model::{DeviceValue, MachineId, Tag, TagAction, TaggedMachine};
use defender_tags_core::plan::{Plan, PlannedCall};

use crate::abort::AbortHandle;
use crate::client::{CallCtx, DefenderClient, with_response};
use crate::error::ClientError;
use crate::progress::{self, EtaInput, Progress};
use crate::report::{ErrorInfo, MachineOutcome, OutcomeStatus, RunReport};
use crate::token::LocalBoxFuture;

/// What one call of a run sends: a tag change (core's planned call) or one machine's device
/// value (`setDeviceValue` has no bulk form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SpecRequest {
    Tags(PlannedCall),
    DeviceValue {
        machine_id: MachineId,
        value: DeviceValue,
    },
}

impl SpecRequest {
    pub(crate) fn machine_ids(&self) -> &[MachineId] {
        match self {
            SpecRequest::Tags(call) => call.machine_ids(),
            SpecRequest::DeviceValue { machine_id, .. } => std::slice::from_ref(machine_id),
        }
    }
}

impl From<PlannedCall> for SpecRequest {
    fn from(call: PlannedCall) -> Self {
        SpecRequest::Tags(call)
    }
}

/// One API call of a run and the report rows it settles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SpecCall {
    pub call: SpecRequest,
    pub rows: Vec<usize>,
}

/// What a run changes, which decides when a returned machine confirms its call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SpecWhat {
    /// Adds or removes one tag.
    Tags { tag: Tag, action: TagAction },
    /// Sets device values (each call carries its machine's value).
    DeviceValue,
}

/// A plan in the runner's terms: the calls, and the report rows with their initial status.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunSpec {
    pub what: SpecWhat,
    pub calls: Vec<SpecCall>,
    pub rows: Vec<MachineOutcome>,
}

/// What an accepted call returned.
enum Answer {
    /// The machines a tag call returned (id and tags).
    Tagged(Vec<TaggedMachine>),
    /// The device value of the machine a `setDeviceValue` call returned.
    Valued(Option<DeviceValue>),
}

/// Errors after which no further call can succeed: stop and report the rest as not attempted.
/// Judged by the last attempt's failure: a 401 after a 503 stops the run like any 401.
fn stops_the_run(e: &ClientError) -> bool {
    let e = e.last();
    matches!(
        e,
        ClientError::Token(_)
            | ClientError::ForeignOrigin { .. }
            | ClientError::InvalidInput { .. }
            | ClientError::Network { .. }
            | ClientError::CorsRefused { .. }
            | ClientError::Timeout { .. }
    ) || e.code() == "unauthorized"
}

/// Run counters. Cells: the calls in flight report their waits through `emit` while the run
/// loop updates the counters between them.
struct Tracker<'a, P: FnMut(&Progress)> {
    client: &'a DefenderClient,
    on_progress: RefCell<P>,
    calls_done: Cell<u32>,
    calls_total: u32,
    machines_done: Cell<u32>,
    machines_total: u32,
    in_flight: u32,
}

impl<P: FnMut(&Progress)> Tracker<'_, P> {
    fn finished(&self, machines: usize) {
        self.calls_done.set(self.calls_done.get().saturating_add(1));
        let machines = u32::try_from(machines).unwrap_or(u32::MAX);
        self.machines_done
            .set(self.machines_done.get().saturating_add(machines));
    }

    fn emit(&self, waiting_ms: Option<u64>) {
        let (minute, hour) = self.client.rate_usage();
        let remaining_calls = self.calls_total.saturating_sub(self.calls_done.get());
        // Overlapping calls finish `in_flight` at a time: the time per call left is the mean
        // call's share of that (no more than the calls left can overlap).
        let parallel = f64::from(self.in_flight.min(remaining_calls).max(1));
        let eta = progress::eta_ms(EtaInput {
            remaining_calls,
            used_minute: minute,
            used_hour: hour,
            mean_call_ms: self.client.mean_call_ms().map(|ms| ms / parallel),
            time_scale: self.client.config().scale(),
        });
        let event = Progress {
            calls_done: self.calls_done.get(),
            calls_total: self.calls_total,
            machines_done: self.machines_done.get(),
            machines_total: self.machines_total,
            calls_this_minute: minute,
            calls_this_hour: hour,
            minute_limit: progress::CALLS_PER_MINUTE,
            hour_limit: progress::CALLS_PER_HOUR,
            eta_ms: eta.map(|e| e.saturating_add(waiting_ms.unwrap_or(0))),
            waiting_ms,
        };
        (self.on_progress.borrow_mut())(&event);
    }
}

/// Settles the rows of a call the API accepted, from the machines it returned: a machine is
/// `Applied` only when the API returned it in the wanted state. The bulk endpoint skips unknown,
/// invisible and beyond-retention ids silently, so a machine missing from a non-empty answer
/// was `Skipped`; an answer without machines (the real bulk reply is undocumented) confirms
/// nothing, so its machines are `Unknown`.
fn settle_success(
    rows: &mut [MachineOutcome],
    call: &SpecCall,
    tag: &Tag,
    action: TagAction,
    returned: &[TaggedMachine],
) {
    let info = |code: &str, message: &str| ErrorInfo {
        code: code.to_owned(),
        message: message.to_owned(),
        status: None,
        retry_after: None,
    };
    // Indexed once: looking each of 500 ids up in a 500-machine answer by scanning cost
    // 125,000 id comparisons per call. On a duplicate id the first entry wins, as the scan did.
    let mut by_id: HashMap<&MachineId, &TaggedMachine> = HashMap::with_capacity(returned.len());
    for m in returned {
        by_id.entry(&m.id).or_insert(m);
    }
    for (&row, id) in call.rows.iter().zip(call.call.machine_ids()) {
        let (status, error) = match by_id.get(id) {
            Some(m) if m.has_tag(tag.as_str()) == (action == TagAction::Add) => {
                (OutcomeStatus::Applied, None)
            }
            Some(_) => (
                OutcomeStatus::Unknown,
                Some(info(
                    "unconfirmed",
                    "the API accepted the call but returned the machine without the change; re-read it",
                )),
            ),
            None if returned.is_empty() => (
                OutcomeStatus::Unknown,
                Some(info(
                    "unconfirmed",
                    "the API accepted the call without saying which machines it changed; re-read them",
                )),
            ),
            None => (
                OutcomeStatus::Skipped,
                Some(info(
                    "not_processed",
                    "the API did not process this machine (unknown id, beyond the retention period, \
                     or outside your device groups); nothing changed",
                )),
            ),
        };
        rows[row].status = status;
        rows[row].error = error;
    }
}

/// Settles the row of a `setDeviceValue` call the API accepted: `Applied` only when the machine
/// it returned has the value sent.
fn settle_device_value(
    rows: &mut [MachineOutcome],
    call: &SpecCall,
    returned: Option<&DeviceValue>,
) {
    let SpecRequest::DeviceValue { value, .. } = &call.call else {
        return;
    };
    let (status, error) = if returned == Some(value) {
        (OutcomeStatus::Applied, None)
    } else {
        (
            OutcomeStatus::Unknown,
            Some(ErrorInfo {
                code: "unconfirmed".to_owned(),
                message: "the API accepted the call but returned the machine without the new value; re-read it"
                    .to_owned(),
                status: None,
                retry_after: None,
            }),
        )
    };
    for &row in &call.rows {
        rows[row].status = status;
        rows[row].error = error.clone();
    }
}

fn settle(
    rows: &mut [MachineOutcome],
    call: &SpecCall,
    status: OutcomeStatus,
    error: Option<&ClientError>,
) {
    for &row in &call.rows {
        rows[row].status = status;
        rows[row].error = error.map(ErrorInfo::from);
    }
}

impl DefenderClient {
    /// Runs a plan from core's planner: one progress event before the first call, after every
    /// call and before every wait; stops cleanly when `abort` fires (see the module docs).
    pub async fn run_plan(
        &self,
        plan: &Plan,
        on_progress: impl FnMut(&Progress),
        abort: &AbortHandle,
    ) -> RunReport {
        self.run_plan_observed(plan, on_progress, |_| {}, abort)
            .await
    }

    /// [`DefenderClient::run_plan`], also calling `on_settled` with the outcomes of each call's
    /// machines as soon as that call settles (in settle order), so a caller can journal a run
    /// durably while it goes: a page closed mid-run then still knows what each settled call did.
    pub async fn run_plan_observed(
        &self,
        plan: &Plan,
        on_progress: impl FnMut(&Progress),
        on_settled: impl FnMut(&[MachineOutcome]),
        abort: &AbortHandle,
    ) -> RunReport {
        self.run_spec(
            crate::plan_adapter::spec_from_plan(plan),
            on_progress,
            on_settled,
            abort,
        )
        .await
    }

    /// Runs a device-value plan from core (one `setDeviceValue` per machine that changes),
    /// paced, retried, observed and aborted exactly like [`DefenderClient::run_plan_observed`];
    /// the report's `action` is `setDeviceValue` and its `tag` empty.
    pub async fn run_device_value_plan_observed(
        &self,
        plan: &DeviceValuePlan,
        on_progress: impl FnMut(&Progress),
        on_settled: impl FnMut(&[MachineOutcome]),
        abort: &AbortHandle,
    ) -> RunReport {
        self.run_spec(
            spec_from_device_value_plan(plan),
            on_progress,
            on_settled,
            abort,
        )
        .await
    }

    pub(crate) async fn run_spec(
        &self,
        spec: RunSpec,
        on_progress: impl FnMut(&Progress),
        mut on_settled: impl FnMut(&[MachineOutcome]),
        abort: &AbortHandle,
    ) -> RunReport {
        let RunSpec {
            what,
            calls,
            mut rows,
        } = spec;
        let in_flight = self.config().in_flight();
        let tracker = Tracker {
            client: self,
            on_progress: RefCell::new(on_progress),
            calls_done: Cell::new(0),
            calls_total: u32::try_from(calls.len()).unwrap_or(u32::MAX),
            machines_done: Cell::new(0),
            machines_total: u32::try_from(calls.iter().map(|c| c.rows.len()).sum::<usize>())
                .unwrap_or(u32::MAX),
            in_flight: u32::try_from(in_flight).unwrap_or(u32::MAX),
        };
        // The run's own stop switch, fired by the caller's abort and by an error that stops the
        // run: either way every wait is cut short and nothing more is sent, while calls already
        // sent are awaited.
        let stop = AbortHandle::new();
        {
            let stop = stop.clone();
            abort.on_abort(move || stop.abort());
        }
        let on_wait = |ms: u64| tracker.emit(Some(ms));
        let ctx = CallCtx {
            abort: Some(&stop),
            on_wait: Some(&on_wait),
            on_sent: None,
        };
        let mut stopped_by = None;
        let mut next_calls = calls.iter().enumerate();
        let mut flying: Vec<(usize, CallFuture<'_>)> = Vec::with_capacity(in_flight);
        tracker.emit(None);
        loop {
            while flying.len() < in_flight && !stop.is_aborted() {
                let Some((index, call)) = next_calls.next() else {
                    break;
                };
                flying.push((index, Box::pin(self.run_call(call, &ctx))));
            }
            let Some((index, result)) = next_finished(&mut flying).await else {
                break;
            };
            let call = &calls[index];
            if let Err(ClientError::Aborted { last_error: None }) = result {
                // Stopped before anything was sent: these machines stay `NotAttempted`, like
                // those of every call not started.
                continue;
            }
            tracker.finished(call.rows.len());
            match result {
                Ok(Answer::Tagged(machines)) => {
                    if let SpecWhat::Tags { tag, action } = &what {
                        settle_success(&mut rows, call, tag, *action, &machines);
                    }
                }
                Ok(Answer::Valued(value)) => settle_device_value(&mut rows, call, value.as_ref()),
                Err(e) => {
                    let status = if e.may_have_applied() {
                        OutcomeStatus::Unknown
                    } else {
                        OutcomeStatus::Failed
                    };
                    settle(&mut rows, call, status, Some(&e));
                    if stops_the_run(&e) && stopped_by.is_none() {
                        stopped_by = Some(ErrorInfo::from(&e));
                        stop.abort();
                    }
                }
            }
            let settled: Vec<MachineOutcome> = call.rows.iter().map(|&r| rows[r].clone()).collect();
            on_settled(&settled);
            tracker.emit(None);
        }
        let (tag, action) = match &what {
            SpecWhat::Tags { tag, action } => (tag.as_str().to_owned(), action.as_str().to_owned()),
            SpecWhat::DeviceValue => (String::new(), "setDeviceValue".to_owned()),
        };
        RunReport {
            tag,
            action,
            outcomes: rows,
            aborted: abort.is_aborted(),
            stopped_by,
            calls_planned: tracker.calls_total,
            calls_made: tracker.calls_done.get(),
        }
    }

    /// Sends one planned call; returns what the API says it processed: for tags the id and tags
    /// a report needs (core's lean decoders: the rest of each machine is never built), for a
    /// device value the value the returned machine has.
    async fn run_call(&self, call: &SpecCall, ctx: &CallCtx<'_>) -> Result<Answer, ClientError> {
        match &call.call {
            SpecRequest::Tags(planned) => {
                let request = planned.to_request();
                match planned {
                    PlannedCall::Single { .. } => self
                        .call(&request, with_response(api::decode_tagged_machine), ctx)
                        .await
                        .map(|m| Answer::Tagged(vec![m])),
                    PlannedCall::Bulk(_) => self
                        .call(&request, with_response(api::decode_tagged_machines), ctx)
                        .await
                        .map(Answer::Tagged),
                }
            }
            SpecRequest::DeviceValue { machine_id, value } => {
                let request = api::set_device_value(machine_id, value)
                    .map_err(|e| ClientError::invalid("deviceValue", e))?;
                self.call(&request, with_response(api::decode_machine), ctx)
                    .await
                    .map(|m| Answer::Valued(m.device_value))
            }
        }
    }
}

/// A device-value plan in the runner's terms: one row per machine in plan order (already in
/// place as such), one call per machine that changes.
pub(crate) fn spec_from_device_value_plan(plan: &DeviceValuePlan) -> RunSpec {
    let mut rows = Vec::with_capacity(plan.outcomes.len());
    let mut calls = Vec::new();
    for o in &plan.outcomes {
        let row = rows.len();
        rows.push(MachineOutcome::before_run(&o.id, o.expected));
        if o.is_called() {
            calls.push(SpecCall {
                call: SpecRequest::DeviceValue {
                    machine_id: o.id.clone(),
                    value: o.target.clone(),
                },
                rows: vec![row],
            });
        }
    }
    RunSpec {
        what: SpecWhat::DeviceValue,
        calls,
        rows,
    }
}

type CallFuture<'a> = LocalBoxFuture<'a, Result<Answer, ClientError>>;

/// Resolves to the first of `flying` to finish (removed from it, with its call index), or `None`
/// when nothing is in flight. A small join set for one thread: all are polled on every wake-up,
/// which for a handful of calls costs nothing next to a call.
fn next_finished<'f, 'a>(
    flying: &'f mut Vec<(usize, CallFuture<'a>)>,
) -> impl Future<Output = Option<(usize, Result<Answer, ClientError>)>> + 'f {
    std::future::poll_fn(move |cx| {
        if flying.is_empty() {
            return Poll::Ready(None);
        }
        for k in 0..flying.len() {
            if let Some((_, future)) = flying.get_mut(k)
                && let Poll::Ready(result) = future.as_mut().poll(cx)
            {
                let (index, _) = flying.remove(k);
                return Poll::Ready(Some((index, result)));
            }
        }
        Poll::Pending
    })
}

#[cfg(test)]
mod tests;
