//! One rate budget for every client of a browser: the decision logic over a ledger that the
//! clients share (tabs of the app, the app and an embedded editor, several mounts on one page).
//!
//! Defender counts calls per application + tenant, whoever sends them. Two clients that each keep
//! their own [`RateLimiter`] can therefore spend the budget twice over and get 429s. Here every
//! grant is decided over one [`BudgetLedger`] that holds the calls of all of them: the caller
//! reads it, asks [`BudgetLedger::try_begin`], and writes it back, all in one atomic step of its
//! storage (crates/wasm keeps it in an IndexedDB read-write transaction). The window arithmetic
//! is the limiter's own: [`BudgetLedger::limiter`] builds a [`RateLimiter`] over the shared calls.
//!
//! Nothing in the ledger can hold budget forever: a call in flight counts as answered at its
//! `expires` time (the longest its client can wait for it) if nobody settles it first, answered
//! calls leave after the widest window (an hour), and blocks end when their time has passed. A
//! client that dies mid-run (a closed tab) therefore frees its slots by time alone.

use serde::{Deserialize, Serialize};

use super::limiter::{Acquire, RateLimiter, RateLimits, Usage};
use crate::site_config::is_guid;

const HOUR_MS: u64 = 3_600_000;

/// Which budget a client spends, as far as it knows: Defender counts per application + tenant.
///
/// A part the client does not know may be anything, so calls with an unknown part are counted
/// against every budget they may belong to ([`may_share`](Self::may_share)): sharing too much
/// only slows clients down, sharing too little gets 429s.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetScope {
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    tenant: Option<String>,
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    app: Option<String>,
}

impl BudgetScope {
    /// Tenant and application unknown: shares with every call on the same API.
    pub fn unknown() -> Self {
        Self::default()
    }

    /// From a tenant id (a token's `tid`) and an application id (`appid` / `azp`, i.e. the app
    /// registration's client id). Anything but a GUID is read as unknown: scopes are stored in
    /// the browser beside other clients' calls, and only these ids, never a token or any other
    /// string passed by mistake, may be. Case and surrounding blanks do not matter.
    pub fn new(tenant: Option<&str>, app: Option<&str>) -> Self {
        fn part(value: Option<&str>) -> Option<String> {
            value
                .map(str::trim)
                .filter(|v| is_guid(v))
                .map(str::to_ascii_lowercase)
        }
        Self {
            tenant: part(tenant),
            app: part(app),
        }
    }

    /// The tenant id, if known.
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// The application id, if known.
    pub fn app(&self) -> Option<&str> {
        self.app.as_deref()
    }

    /// Whether calls in `self` and in `other` may draw on the same budget: no part known on both
    /// sides differs.
    pub fn may_share(&self, other: &Self) -> bool {
        fn same(a: Option<&String>, b: Option<&String>) -> bool {
            match (a, b) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
        }
        same(self.tenant.as_ref(), other.tenant.as_ref())
            && same(self.app.as_ref(), other.app.as_ref())
    }
}

/// One call in the ledger (short field names: the ledger is stored as JSON and re-read on every
/// grant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    /// The client that made it (a random id per client instance).
    #[serde(rename = "c")]
    client: u64,
    #[serde(rename = "s", default)]
    scope: BudgetScope,
    /// Grant time.
    #[serde(rename = "g")]
    granted: u64,
    /// When its answer arrived (it counts from then); `None` while in flight.
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    done: Option<u64>,
    /// The latest its client can still be waiting for the answer: unsettled by then, the call
    /// counts as answered at this time (its client died, or lost the ledger).
    #[serde(rename = "x")]
    expires: u64,
}

impl Entry {
    /// The time this call counts from, or `None` while it is (still) in flight at `now`.
    fn counts_from(&self, now: u64) -> Option<u64> {
        match self.done {
            Some(done) => Some(done.max(self.granted)),
            None if now >= self.expires => Some(self.expires.max(self.granted)),
            None => None,
        }
    }
}

/// A `Retry-After` someone received: no call of a scope that may share it before `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Block {
    #[serde(rename = "s", default)]
    scope: BudgetScope,
    #[serde(rename = "u")]
    until: u64,
}

/// The calls and blocks of every client sharing one API's budget (see the module docs). All
/// times are API-time milliseconds on a clock every client shares (`Date.now()`, scaled alike).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetLedger {
    #[serde(default)]
    calls: Vec<Entry>,
    #[serde(default)]
    blocks: Vec<Block>,
}

impl BudgetLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a stored ledger.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The ledger as stored.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// Calls recorded (in flight or answered within the last hour, as of the last prune).
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Whether no call is recorded.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// The rate limiter a client of `scope` is bound by at `now`: every call and block that may
    /// share its budget, its own included.
    pub fn limiter(&self, scope: &BudgetScope, limits: RateLimits, now: u64) -> RateLimiter {
        let mut counted = Vec::new();
        let mut in_flight = Vec::new();
        for entry in self.calls.iter().filter(|e| e.scope.may_share(scope)) {
            match entry.counts_from(now) {
                Some(at) => counted.push(at),
                None => in_flight.push(entry.granted),
            }
        }
        let blocked_until = self
            .blocks
            .iter()
            .filter(|b| b.scope.may_share(scope))
            .map(|b| b.until)
            .max()
            .unwrap_or(0);
        RateLimiter::from_calls(limits, counted, in_flight, blocked_until)
    }

    /// Grants `client` (of `scope`) a call at `now` if the shared budget allows it, recording it
    /// as in flight until [`settle`](Self::settle) or [`cancel`](Self::cancel), or until
    /// `now + max_flight_ms` at the latest; else says how long to wait. Forgets what can no
    /// longer count first.
    pub fn try_begin(
        &mut self,
        client: u64,
        scope: &BudgetScope,
        limits: RateLimits,
        now: u64,
        max_flight_ms: u64,
    ) -> Acquire {
        self.prune(now);
        match self.limiter(scope, limits, now).wait_ms(now) {
            0 => {
                self.calls.push(Entry {
                    client,
                    scope: scope.clone(),
                    granted: now,
                    done: None,
                    expires: now.saturating_add(max_flight_ms.max(1)),
                });
                Acquire::Granted
            }
            ms => Acquire::Wait { ms },
        }
    }

    /// The answer to `client`'s call granted at `granted` arrived at `done`: it counts from then
    /// (see [`RateLimiter::settle`]). Unknown or already settled grants are ignored.
    pub fn settle(&mut self, client: u64, granted: u64, done: u64) {
        if let Some(entry) = self
            .calls
            .iter_mut()
            .find(|e| e.client == client && e.granted == granted && e.done.is_none())
        {
            entry.done = Some(done.max(granted));
        }
    }

    /// `client`'s call granted at `granted` was never sent: its slot frees at once.
    pub fn cancel(&mut self, client: u64, granted: u64) {
        if let Some(pos) = self
            .calls
            .iter()
            .position(|e| e.client == client && e.granted == granted && e.done.is_none())
        {
            self.calls.swap_remove(pos);
        }
    }

    /// A 429 for `scope`: no client that may share it calls before `until`. Never shortens a
    /// block.
    pub fn block(&mut self, scope: &BudgetScope, until: u64) {
        match self.blocks.iter_mut().find(|b| b.scope == *scope) {
            Some(block) => block.until = block.until.max(until),
            None => self.blocks.push(Block {
                scope: scope.clone(),
                until,
            }),
        }
    }

    /// Drops calls that no window ending at or after `now` can hold, and ended blocks.
    pub fn prune(&mut self, now: u64) {
        self.calls.retain(|e| {
            e.counts_from(now)
                .is_none_or(|at| at.saturating_add(HOUR_MS) > now)
        });
        self.blocks.retain(|b| b.until > now);
    }

    /// The shared usage a client of `scope` sees at `now` (every client's calls that may share
    /// its budget), for the live budget display.
    pub fn usage(&self, scope: &BudgetScope, limits: RateLimits, now: u64) -> Usage {
        self.limiter(scope, limits, now).usage(now)
    }
}

#[cfg(test)]
mod tests;
