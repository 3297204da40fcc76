//! The client's use of core's `throttle`: one rate limiter, one backoff and one retry policy per
//! client. All decisions are core's; this module only feeds them API-time milliseconds and maps
//! transport failures onto core's failure kinds.

use defender_tags_core::throttle::{
    Acquire, Backoff, FailureKind, RateLimiter, RetryDecision, RetryPolicy,
};

use crate::error::ClientError;

/// What the client does after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Wait this many API-time milliseconds, then send again.
    Retry { api_ms: u64 },
    /// Ask the provider for a fresh token, then send again at once.
    RefreshToken,
    /// Return the error.
    GiveUp,
}

#[derive(Debug)]
pub(crate) struct Policy {
    limiter: RateLimiter,
    backoff: Backoff,
    retry: RetryPolicy,
}

pub(crate) fn as_ms(api_now: f64) -> u64 {
    // `as` saturates (and maps NaN to 0); a clock never needs more than u64 milliseconds.
    api_now.max(0.0) as u64
}

impl Policy {
    pub fn new(seed: u64, max_attempts: u32) -> Self {
        Self {
            limiter: RateLimiter::documented(),
            backoff: Backoff::new(seed),
            retry: RetryPolicy {
                max_attempts: max_attempts.max(1),
            },
        }
    }

    /// Counts a call as in flight from now and returns the API time it was granted at, or says
    /// how many API-time milliseconds to wait first. The call holds its slot until
    /// [`settle`](Self::settle) or [`cancel`](Self::cancel): bulk runs overlap calls, and a
    /// slow call must not free its slot while the service may still count it.
    pub fn acquire(&mut self, api_now: f64) -> Result<u64, u64> {
        let now = as_ms(api_now);
        match self.limiter.try_begin(now) {
            Acquire::Granted => Ok(now),
            Acquire::Wait { ms } => Err(ms),
        }
    }

    /// Re-counts the call granted at `granted` from `api_now`, when its answer arrived (see
    /// core's `RateLimiter::settle`: the service counted it somewhere in between).
    pub fn settle(&mut self, granted: u64, api_now: f64) {
        self.limiter.settle(granted, as_ms(api_now));
    }

    /// Frees the slot of a call granted at `granted` that was never sent.
    pub fn cancel(&mut self, granted: u64) {
        self.limiter.cancel(granted);
    }

    /// Carries on with `limiter` (the shared budget's last view when its store failed).
    pub fn replace_limiter(&mut self, limiter: RateLimiter) {
        self.limiter = limiter;
    }

    /// Calls in the current (minute, hour) windows.
    pub fn usage(&mut self, api_now: f64) -> (u32, u32) {
        let usage = self.limiter.usage(as_ms(api_now));
        (usage.minute, usage.hour)
    }

    /// Core's retry decision for `error` after attempt `attempt`. `real_now` (epoch ms) resolves
    /// an HTTP-date Retry-After; a 429's Retry-After also blocks the limiter, so other calls of
    /// this client wait too, and is returned (API time) for the budget shared with other clients.
    pub fn decide(
        &mut self,
        error: &ClientError,
        attempt: u32,
        already_refreshed: bool,
        api_now: f64,
        real_now: f64,
    ) -> (Decision, Option<u64>) {
        let mut blocked = None;
        let kind = match error {
            ClientError::Api(e) => {
                if let Some(retry_after) = e.retry_after() {
                    let until =
                        as_ms(api_now).saturating_add(retry_after.delay_ms(as_ms(real_now)));
                    self.limiter.block_until(until);
                    blocked = Some(until);
                }
                FailureKind::of(e, as_ms(real_now))
            }
            ClientError::Network { .. } => FailureKind::Network,
            ClientError::Timeout { .. } => FailureKind::Timeout,
            _ => return (Decision::GiveUp, blocked),
        };
        let decision = match self
            .retry
            .decide(kind, attempt, already_refreshed, &mut self.backoff)
        {
            RetryDecision::Retry { after_ms } => Decision::Retry { api_ms: after_ms },
            RetryDecision::RefreshTokenAndRetry => Decision::RefreshToken,
            RetryDecision::GiveUp => Decision::GiveUp,
        };
        (decision, blocked)
    }
}
