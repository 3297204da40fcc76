//! Staying inside the API's budget: a sliding-window limiter (100 calls/min, 1,500 calls/h),
//! `Retry-After`, backoff with jitter, and a retry decision per error kind.

mod retry_after;

pub use retry_after::{MAX_RETRY_AFTER_SECS, RetryAfter, RetryAfterError};
