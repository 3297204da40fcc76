//! What to do after a failed call.
//!
//! Retrying tag changes is safe: Add and Remove are idempotent in effect. Adding a tag a
//! machine already has, or removing one it lacks, leaves its tag set unchanged (the planner
//! even predicts "already in place" for those), so when a call timed out or hit a 5xx after the
//! service may already have applied it, sending it again cannot double-apply anything. The
//! exact reply to such a repeat is undocumented, which is why runs re-read machines to verify.

use crate::api::ApiError;

use super::Backoff;

/// A failure, classified by how to react to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// 401.
    Unauthorized,
    /// 403.
    Forbidden,
    /// 404.
    NotFound,
    /// 400.
    BadRequest,
    /// 429, with the `Retry-After` delay if one was sent.
    RateLimited {
        /// Milliseconds the service asked us to wait.
        retry_after_ms: Option<u64>,
    },
    /// 5xx.
    Server,
    /// The request never got an HTTP answer (DNS, TLS, connection reset, CORS).
    Network,
    /// No answer within the client's timeout.
    Timeout,
    /// A success status with an unreadable body.
    Undecodable,
    /// Any other status.
    Other,
}

impl FailureKind {
    /// Classifies an API error; `now_ms` (Unix epoch ms) resolves an HTTP-date `Retry-After`.
    pub fn of(error: &ApiError, now_ms: u64) -> Self {
        match error {
            ApiError::Unauthorized { .. } => Self::Unauthorized,
            ApiError::Forbidden { .. } => Self::Forbidden,
            ApiError::NotFound { .. } => Self::NotFound,
            ApiError::BadRequest { .. } => Self::BadRequest,
            ApiError::TooManyRequests { retry_after, .. } => Self::RateLimited {
                retry_after_ms: retry_after.map(|r| r.delay_ms(now_ms)),
            },
            ApiError::Server { .. } => Self::Server,
            ApiError::Undecodable { .. } => Self::Undecodable,
            _ => Self::Other,
        }
    }
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Send the same request again after this many milliseconds.
    Retry {
        /// Delay.
        after_ms: u64,
    },
    /// Get a fresh token (forcing a refresh), then send again at once.
    RefreshTokenAndRetry,
    /// Stop and report the error.
    GiveUp,
}

/// Retry budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts per request, the first included.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 5 }
    }
}

impl RetryPolicy {
    /// Decides after attempt number `attempt` (1 = the first try) failed with `kind`.
    ///
    /// - 401: refresh the token once (`already_refreshed` false), then give up: a second 401
    ///   with a fresh token means the sign-in itself is wrong.
    /// - 429: wait for `Retry-After` when given (the limiter must also be blocked until then),
    ///   else back off.
    /// - 5xx, network, timeout: back off (safe for tag calls, see the module docs).
    /// - 400, 403, 404, undecodable, other: give up; repeating cannot change the answer.
    pub fn decide(
        &self,
        kind: FailureKind,
        attempt: u32,
        already_refreshed: bool,
        backoff: &mut Backoff,
    ) -> RetryDecision {
        let out_of_attempts = attempt >= self.max_attempts;
        match kind {
            FailureKind::Unauthorized if !already_refreshed && !out_of_attempts => {
                RetryDecision::RefreshTokenAndRetry
            }
            FailureKind::RateLimited { .. }
            | FailureKind::Server
            | FailureKind::Network
            | FailureKind::Timeout
                if out_of_attempts =>
            {
                RetryDecision::GiveUp
            }
            FailureKind::RateLimited {
                retry_after_ms: Some(ms),
            } => RetryDecision::Retry { after_ms: ms },
            FailureKind::RateLimited {
                retry_after_ms: None,
            }
            | FailureKind::Server
            | FailureKind::Network
            | FailureKind::Timeout => RetryDecision::Retry {
                after_ms: backoff.delay_ms(attempt),
            },
            _ => RetryDecision::GiveUp,
        }
    }

    /// [`RetryPolicy::decide`] for an [`ApiError`].
    pub fn decide_api_error(
        &self,
        error: &ApiError,
        attempt: u32,
        already_refreshed: bool,
        now_ms: u64,
        backoff: &mut Backoff,
    ) -> RetryDecision {
        self.decide(
            FailureKind::of(error, now_ms),
            attempt,
            already_refreshed,
            backoff,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::throttle::RetryAfter;

    fn decide(kind: FailureKind, attempt: u32, refreshed: bool) -> RetryDecision {
        RetryPolicy::default().decide(kind, attempt, refreshed, &mut Backoff::new(1))
    }

    #[test]
    fn unauthorized_refreshes_once() {
        assert_eq!(
            decide(FailureKind::Unauthorized, 1, false),
            RetryDecision::RefreshTokenAndRetry
        );
        assert_eq!(
            decide(FailureKind::Unauthorized, 2, true),
            RetryDecision::GiveUp
        );
    }

    #[test]
    fn rate_limits_honour_retry_after_then_give_up() {
        let e = ApiError::TooManyRequests {
            retry_after: Some(RetryAfter::Seconds(7)),
            details: None,
        };
        let p = RetryPolicy::default();
        assert_eq!(
            p.decide_api_error(&e, 1, false, 0, &mut Backoff::new(1)),
            RetryDecision::Retry { after_ms: 7_000 }
        );
        assert_eq!(
            p.decide_api_error(&e, 5, false, 0, &mut Backoff::new(1)),
            RetryDecision::GiveUp
        );
        let no_header = decide(
            FailureKind::RateLimited {
                retry_after_ms: None,
            },
            2,
            false,
        );
        assert!(
            matches!(no_header, RetryDecision::Retry { after_ms } if (1_000..=2_000).contains(&after_ms))
        );
    }

    #[test]
    fn transient_failures_back_off_and_permanent_ones_stop() {
        for kind in [
            FailureKind::Server,
            FailureKind::Network,
            FailureKind::Timeout,
        ] {
            assert!(
                matches!(decide(kind, 1, false), RetryDecision::Retry { .. }),
                "{kind:?}"
            );
        }
        for kind in [
            FailureKind::Forbidden,
            FailureKind::NotFound,
            FailureKind::BadRequest,
            FailureKind::Undecodable,
            FailureKind::Other,
        ] {
            assert_eq!(decide(kind, 1, false), RetryDecision::GiveUp, "{kind:?}");
        }
    }
}
