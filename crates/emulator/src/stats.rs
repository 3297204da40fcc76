//! Per-endpoint call statistics for `/_emulator/stats`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

/// Counters of one endpoint.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct EndpointStats {
    /// Every request routed to the endpoint (including rejected ones).
    pub calls: u64,
    /// 429 answers (rate limit or injected).
    pub throttled: u64,
    /// 4xx answers other than 429.
    pub client_errors: u64,
    /// 5xx answers.
    pub server_errors: u64,
    /// Connections dropped by fault injection.
    pub dropped: u64,
    /// Requests processed successfully whose answer an injected fault then failed or delayed
    /// (`error500_after`, `error503_after`, `drop_after`, `slow_after`); they are also counted
    /// under what the caller got (a 5xx, a drop, or the late answer).
    pub faulted_after_processing: u64,
}

/// Snapshot served by `/_emulator/stats`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StatsSnapshot {
    /// Per endpoint name (`listMachines`, `getMachine`, `findByTag`, `tagMachine`,
    /// `bulkTagMachines`, `setDeviceValue`, `unknown`).
    pub endpoints: BTreeMap<&'static str, EndpointStats>,
    /// Machine-tag operations accepted (one per machine per successful tag call).
    pub tag_operations: u64,
    /// Of those, operations that changed a machine's tags.
    pub tag_changes: u64,
}

/// One call the rate limiter let through (`GET /_emulator/calls`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AcceptedCall {
    /// Endpoint name.
    pub endpoint: &'static str,
    /// The caller's tenant (`tid`).
    pub tenant: String,
    /// The caller's application (`appid`/`azp`).
    pub app: String,
    /// Arrival, Unix epoch milliseconds (real time; windows are `60,000 / time scale` long).
    pub at_ms: u64,
}

/// How many accepted calls `/_emulator/calls` keeps (the oldest are dropped first): more than an
/// hour's budget of two applications.
pub const CALL_LOG_LIMIT: usize = 5_000;

/// Thread-safe counters.
#[derive(Debug, Default)]
pub struct Stats {
    inner: Mutex<StatsSnapshot>,
    accepted: Mutex<std::collections::VecDeque<AcceptedCall>>,
}

impl Stats {
    /// Records one answered request.
    pub fn record(&self, endpoint: &'static str, status: u16) {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let e = s.endpoints.entry(endpoint).or_default();
        e.calls += 1;
        match status {
            429 => e.throttled += 1,
            400..=499 => e.client_errors += 1,
            500..=599 => e.server_errors += 1,
            _ => {}
        }
    }

    /// Records a dropped connection.
    pub fn record_drop(&self, endpoint: &'static str) {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let e = s.endpoints.entry(endpoint).or_default();
        e.calls += 1;
        e.dropped += 1;
    }

    /// Records a request that succeeded before a fault struck its answer.
    pub fn record_fault_after(&self, endpoint: &'static str) {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        s.endpoints
            .entry(endpoint)
            .or_default()
            .faulted_after_processing += 1;
    }

    /// Records tag operations (`ops` machines processed, `changes` of them changed).
    pub fn record_tags(&self, ops: u64, changes: u64) {
        let mut s = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        s.tag_operations += ops;
        s.tag_changes += changes;
    }

    /// Logs a call the rate limiter accepted (what a budget test counts windows over).
    pub fn record_accepted(&self, call: AcceptedCall) {
        let mut log = self.accepted.lock().unwrap_or_else(|p| p.into_inner());
        if log.len() >= CALL_LOG_LIMIT {
            log.pop_front();
        }
        log.push_back(call);
    }

    /// The accepted calls logged, oldest first.
    pub fn accepted(&self) -> Vec<AcceptedCall> {
        let log = self.accepted.lock().unwrap_or_else(|p| p.into_inner());
        log.iter().cloned().collect()
    }

    /// A copy of the counters.
    pub fn snapshot(&self) -> StatsSnapshot {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Zeroes everything.
    pub fn clear(&self) {
        *self.inner.lock().unwrap_or_else(|p| p.into_inner()) = StatsSnapshot::default();
        self.accepted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}
