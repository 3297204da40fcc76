//! Progress events of a bulk run and the ETA estimate behind them.
//!
//! Pure arithmetic, tested natively. Times are *real* milliseconds; rate windows are in API time,
//! which runs `time_scale` times faster than real time when the client targets an emulator started
//! with `--time-scale`.

use serde::Serialize;

/// Documented budget of every machine/tag endpoint (docs/defender-api.md §10).
pub const CALLS_PER_MINUTE: u32 = 100;
/// Documented hourly budget.
pub const CALLS_PER_HOUR: u32 = 1_500;

const MINUTE_MS: f64 = 60_000.0;
const HOUR_MS: f64 = 3_600_000.0;

/// One progress event of `run_plan`, sent after every finished call and before every long wait.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(all(feature = "js", target_arch = "wasm32"), derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// API calls finished (successfully or not).
    pub calls_done: u32,
    /// API calls the plan needs.
    pub calls_total: u32,
    /// Machines whose call has finished.
    pub machines_done: u32,
    /// Machines the plan touches with a call.
    pub machines_total: u32,
    /// Calls this client made in the rate limiter's current minute window.
    pub calls_this_minute: u32,
    /// Calls this client made in the current hour window.
    pub calls_this_hour: u32,
    /// The per-minute budget (100).
    pub minute_limit: u32,
    /// The per-hour budget (1,500).
    pub hour_limit: u32,
    /// Estimated real milliseconds until the run finishes; absent before anything is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(all(feature = "js", target_arch = "wasm32"), tsify(optional))]
    pub eta_ms: Option<u64>,
    /// Real milliseconds the run is about to wait (rate limit, Retry-After or backoff), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(all(feature = "js", target_arch = "wasm32"), tsify(optional))]
    pub waiting_ms: Option<u64>,
}

/// What the ETA is computed from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EtaInput {
    /// Calls still to make.
    pub remaining_calls: u32,
    /// Calls already counted in the current minute window.
    pub used_minute: u32,
    /// Calls already counted in the current hour window.
    pub used_hour: u32,
    /// Mean real duration of a finished call, if any call has finished.
    pub mean_call_ms: Option<f64>,
    /// API-time milliseconds per real millisecond (1.0 against the real API).
    pub time_scale: f64,
}

/// Estimated real milliseconds to make `remaining_calls` more calls.
///
/// Calls that fit in the free part of both windows go at the observed call speed; the rest wait
/// for windows to roll over: one minute (API time) per 100 calls while the hour budget lasts, then
/// one hour per 1,500. It is an estimate (windows slide, calls vary), good to the minute, which is
/// what a progress bar needs. `None` when no call has finished yet.
pub fn eta_ms(input: EtaInput) -> Option<u64> {
    if input.remaining_calls == 0 {
        return Some(0);
    }
    let mean = input.mean_call_ms?;
    let scale = if input.time_scale.is_finite() && input.time_scale > 0.0 {
        input.time_scale
    } else {
        1.0
    };
    let remaining = f64::from(input.remaining_calls);
    let free_minute = f64::from(CALLS_PER_MINUTE.saturating_sub(input.used_minute));
    let free_hour = f64::from(CALLS_PER_HOUR.saturating_sub(input.used_hour));
    let burst = remaining.min(free_minute.min(free_hour));
    let after_burst = remaining - burst;

    // Calls beyond the burst that still fit the hour budget go at 100 per (API) minute.
    let hour_left = free_hour - burst;
    let minute_paced = after_burst.min(hour_left);
    let hour_paced = after_burst - minute_paced;
    let wait_api_ms = (minute_paced / f64::from(CALLS_PER_MINUTE)).ceil() * MINUTE_MS
        + (hour_paced / f64::from(CALLS_PER_HOUR)).ceil() * HOUR_MS;

    let calling_ms = remaining * mean.max(0.0);
    let total = calling_ms.max(wait_api_ms / scale + burst * mean.max(0.0));
    // `as` saturates for f64 -> u64, which is what we want for absurd inputs.
    Some(total.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(remaining: u32, used_minute: u32, used_hour: u32) -> EtaInput {
        EtaInput {
            remaining_calls: remaining,
            used_minute,
            used_hour,
            mean_call_ms: Some(200.0),
            time_scale: 1.0,
        }
    }

    #[test]
    fn nothing_left_is_zero_and_nothing_measured_is_unknown() {
        assert_eq!(eta_ms(input(0, 0, 0)), Some(0));
        let unknown = EtaInput {
            mean_call_ms: None,
            ..input(10, 0, 0)
        };
        assert_eq!(eta_ms(unknown), None);
    }

    #[test]
    fn calls_that_fit_the_windows_go_at_call_speed() {
        assert_eq!(eta_ms(input(10, 0, 0)), Some(2_000));
        assert_eq!(eta_ms(input(90, 10, 10)), Some(18_000));
    }

    #[test]
    fn a_full_minute_window_adds_a_minute_per_hundred_calls() {
        // 100 used: all 150 calls wait; 2 minutes of windows dominate 150 x 200 ms = 30 s.
        assert_eq!(eta_ms(input(150, 100, 100)), Some(120_000));
        // 50 free now, 100 more next minute: 1 minute + 50 calls at 200 ms.
        assert_eq!(eta_ms(input(150, 50, 50)), Some(70_000));
    }

    #[test]
    fn an_exhausted_hour_budget_waits_for_the_next_hour() {
        let eta = eta_ms(input(10, 0, 1_500)).unwrap();
        assert_eq!(eta, 3_600_000);
        // 1,600 calls from an empty window: 100 now, 1,400 at 100/min (14 min), 100 next hour.
        let eta = eta_ms(input(1_600, 0, 0)).unwrap();
        assert_eq!(eta, 14 * 60_000 + 3_600_000 + 100 * 200);
    }

    #[test]
    fn time_scale_shrinks_window_waits_but_not_call_time() {
        let scaled = EtaInput {
            time_scale: 60.0,
            ..input(150, 100, 100)
        };
        // 2 API minutes = 2 real seconds; 150 calls x 200 ms = 30 s of calling dominates.
        assert_eq!(eta_ms(scaled), Some(30_000));
        let bogus = EtaInput {
            time_scale: f64::NAN,
            ..input(150, 100, 100)
        };
        assert_eq!(eta_ms(bogus), Some(120_000));
    }
}
