//! Rate limiter and retry properties.

use defender_tags_core::api;
use defender_tags_core::throttle::{
    Acquire, Backoff, RateLimiter, RateLimits, RetryAfter, RetryDecision, RetryPolicy,
};
use proptest::prelude::*;

/// Checks that no window of `window` ms starting at any granted call holds more than `limit`.
fn max_in_window(times: &[u64], window: u64) -> usize {
    let mut best = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end] - times[start] >= window {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn never_exceeds_either_budget(
        per_minute in 1u32..8,
        per_hour in 1u32..30,
        steps in prop::collection::vec(0u64..90_000, 1..300),
    ) {
        let mut limiter = RateLimiter::new(RateLimits::new(per_minute, per_hour));
        let mut now = 0u64;
        let mut granted = Vec::new();
        for step in steps {
            now += step;
            match limiter.try_acquire(now) {
                Acquire::Granted => granted.push(now),
                Acquire::Wait { ms } => {
                    prop_assert!(ms > 0);
                    // Waiting exactly as told must be enough.
                    prop_assert_eq!(limiter.try_acquire(now + ms), Acquire::Granted);
                    now += ms;
                    granted.push(now);
                }
            }
        }
        prop_assert!(max_in_window(&granted, 60_000) <= per_minute as usize);
        prop_assert!(max_in_window(&granted, 3_600_000) <= per_hour as usize);
    }

    #[test]
    fn documented_budget_holds_under_a_greedy_client(gaps in prop::collection::vec(0u64..2_000, 2_000)) {
        let mut limiter = RateLimiter::documented();
        let mut now = 1_700_000_000_000u64;
        let mut granted = Vec::new();
        for gap in gaps {
            now += gap;
            loop {
                match limiter.try_acquire(now) {
                    Acquire::Granted => { granted.push(now); break; }
                    Acquire::Wait { ms } => now += ms,
                }
            }
        }
        prop_assert!(max_in_window(&granted, 60_000) <= 100);
        prop_assert!(max_in_window(&granted, 3_600_000) <= 1_500);
    }

    #[test]
    fn backoff_stays_in_bounds(seed in any::<u64>(), attempt in 0u32..80) {
        let mut b = Backoff::new(seed);
        let ceiling = b.ceiling_ms(attempt);
        let d = b.delay_ms(attempt);
        prop_assert!(d >= ceiling / 2 && d <= ceiling && ceiling <= 60_000);
    }
}

#[test]
fn a_429_from_the_api_blocks_the_limiter_and_drives_the_retry() {
    let now = 1_767_225_600_000;
    let err = api::decode_machine(429, &[("Retry-After", "12")], b"").unwrap_err();
    assert_eq!(err.retry_after(), Some(RetryAfter::Seconds(12)));
    let mut limiter = RateLimiter::documented();
    limiter.on_retry_after(&err.retry_after().unwrap(), now);
    assert_eq!(
        limiter.try_acquire(now + 1_000),
        Acquire::Wait { ms: 11_000 }
    );
    let decision =
        RetryPolicy::default().decide_api_error(&err, 1, false, now, &mut Backoff::new(3));
    assert_eq!(decision, RetryDecision::Retry { after_ms: 12_000 });
    assert_eq!(limiter.try_acquire(now + 12_000), Acquire::Granted);
    let usage = limiter.usage(now + 12_000);
    assert_eq!(
        (usage.minute, usage.minute_limit, usage.hour_limit),
        (1, 100, 1_500)
    );
}

#[test]
fn unauthorized_refreshes_once_then_gives_up() {
    let err = api::decode_machine(401, &[] as &[(&str, &str)], b"").unwrap_err();
    let p = RetryPolicy::default();
    let mut b = Backoff::new(0);
    assert_eq!(
        p.decide_api_error(&err, 1, false, 0, &mut b),
        RetryDecision::RefreshTokenAndRetry
    );
    assert_eq!(
        p.decide_api_error(&err, 2, true, 0, &mut b),
        RetryDecision::GiveUp
    );
}
