//! Staying inside the API's budget: a sliding-window limiter (100 calls/min, 1,500 calls/h),
//! `Retry-After`, backoff with jitter, a retry decision per error kind, and the ledger that lets
//! several clients share one budget.

mod backoff;
mod decision;
mod limiter;
mod retry_after;
mod shared;

pub use backoff::{Backoff, SplitMix64};
pub use decision::{FailureKind, RetryDecision, RetryPolicy};
pub use limiter::{Acquire, RateLimiter, RateLimits, Usage};
pub use retry_after::{MAX_RETRY_AFTER_SECS, RetryAfter, RetryAfterError};
pub use shared::{BudgetLedger, BudgetScope};
