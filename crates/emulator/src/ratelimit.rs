//! The documented rate limits: 100 calls per minute and 1,500 per hour, counted per
//! application + tenant (docs/defender-api.md §10) and per endpoint (each API page states its own
//! limit), as rolling windows.
//!
//! Time scale: with `--time-scale S` both windows are `S` times shorter in real time. The
//! `Retry-After` header stays in *emulated* seconds (what the real service would say), rounded
//! up; `x-emulator-retry-after-ms` carries the real wait in milliseconds. A client whose clock
//! runs at the same scale waits `Retry-After / S` real seconds, which is never too early.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Calls per rolling minute.
pub const PER_MINUTE: usize = 100;
/// Calls per rolling hour.
pub const PER_HOUR: usize = 1_500;
/// A call leaves its window this much (real time) early. It absorbs the latency jitter between a
/// client's own limiter, which stamps a call when it sends it, and this server, which stamps it
/// on arrival; at high time scales a millisecond is many emulated ones. Negligible at scale 1.
pub const GRACE: Duration = Duration::from_millis(5);

/// Who is counted: tenant, application and endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RateKey {
    /// Tenant id (`tid`).
    pub tenant: String,
    /// Application id (`appid`/`azp`).
    pub app: String,
    /// Endpoint name (see `api::Endpoint`).
    pub endpoint: &'static str,
}

/// A rejected call: how long to wait.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limited {
    /// Real time until a call would be accepted.
    pub real_wait: Duration,
    /// The same wait in emulated seconds, rounded up (the `Retry-After` value, at least 1).
    pub retry_after_secs: u64,
    /// Which window is full.
    pub window: Window,
}

/// The window that rejected a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// 100 per minute.
    Minute,
    /// 1,500 per hour.
    Hour,
}

#[derive(Debug, Default)]
struct Calls {
    minute: VecDeque<Instant>,
    hour: VecDeque<Instant>,
}

/// Rolling-window limiter. Only accepted calls are counted.
#[derive(Debug)]
pub struct RateLimiter {
    scale: f64,
    per_minute: usize,
    per_hour: usize,
    minute: Duration,
    hour: Duration,
    calls: Mutex<HashMap<RateKey, Calls>>,
}

impl RateLimiter {
    /// A limiter whose windows are `scale` times shorter than real ones.
    pub fn new(scale: f64) -> Self {
        Self::with_limits(scale, PER_MINUTE, PER_HOUR)
    }

    /// The same with other budgets (advanced hunting's quota is 45/min and 1,500/h).
    pub fn with_limits(scale: f64, per_minute: usize, per_hour: usize) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        Self {
            scale,
            per_minute: per_minute.max(1),
            per_hour: per_hour.max(1),
            minute: Duration::from_secs_f64(60.0 / scale).saturating_sub(GRACE),
            hour: Duration::from_secs_f64(3600.0 / scale).saturating_sub(GRACE),
            calls: Mutex::new(HashMap::new()),
        }
    }

    /// Calls per rolling minute and hour.
    pub fn limits(&self) -> (usize, usize) {
        (self.per_minute, self.per_hour)
    }

    /// The time scale.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Records a call at `now` if both windows have room, else says how long to wait.
    pub fn check(&self, key: &RateKey, now: Instant) -> Result<(), Limited> {
        let mut map = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        let calls = map.entry(key.clone()).or_default();
        prune(&mut calls.minute, now, self.minute);
        prune(&mut calls.hour, now, self.hour);
        let mut wait: Option<(Duration, Window)> = None;
        if calls.minute.len() >= self.per_minute
            && let Some(oldest) = calls.minute.front()
        {
            wait = Some((
                (*oldest + self.minute).saturating_duration_since(now),
                Window::Minute,
            ));
        }
        if calls.hour.len() >= self.per_hour
            && let Some(oldest) = calls.hour.front()
        {
            let w = (*oldest + self.hour).saturating_duration_since(now);
            if wait.is_none_or(|(cur, _)| w > cur) {
                wait = Some((w, Window::Hour));
            }
        }
        if let Some((real_wait, window)) = wait {
            return Err(Limited {
                real_wait,
                retry_after_secs: self.emulated_secs_ceil(real_wait),
                window,
            });
        }
        calls.minute.push_back(now);
        calls.hour.push_back(now);
        Ok(())
    }

    /// Converts a real wait to whole emulated seconds, rounded up, at least 1.
    pub fn emulated_secs_ceil(&self, real: Duration) -> u64 {
        let secs = (real.as_secs_f64() * self.scale).ceil();
        if secs < 1.0 { 1 } else { secs as u64 }
    }

    /// Converts emulated seconds to a real duration.
    pub fn real_duration(&self, emulated_secs: u64) -> Duration {
        Duration::from_secs_f64(emulated_secs as f64 / self.scale)
    }

    /// Forgets every window (used by `/_emulator/reset`).
    pub fn clear(&self) {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

fn prune(q: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while let Some(front) = q.front() {
        if now.saturating_duration_since(*front) >= window {
            q.pop_front();
        } else {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(endpoint: &'static str) -> RateKey {
        RateKey {
            tenant: "t".into(),
            app: "a".into(),
            endpoint,
        }
    }

    #[test]
    fn hundred_per_minute_then_retry_after_until_oldest_expires() {
        let rl = RateLimiter::new(1.0);
        let t0 = Instant::now();
        for i in 0..100 {
            rl.check(&key("list"), t0 + Duration::from_millis(i * 10))
                .unwrap();
        }
        let err = rl
            .check(&key("list"), t0 + Duration::from_secs(30))
            .unwrap_err();
        assert_eq!(err.window, Window::Minute);
        assert_eq!(err.retry_after_secs, 30);
        // Other endpoints and apps have their own budget.
        rl.check(&key("get"), t0 + Duration::from_secs(30)).unwrap();
        // Once the first call is a minute old there is room again.
        rl.check(&key("list"), t0 + Duration::from_secs(60))
            .unwrap();
    }

    #[test]
    fn hour_window_applies_and_scale_shrinks_windows() {
        let rl = RateLimiter::new(60.0); // a minute lasts 1 s, an hour 60 s
        let t0 = Instant::now();
        // 1,500 calls spread over 15 emulated minutes never hit the minute limit.
        for i in 0..1500u64 {
            let at = t0 + Duration::from_millis(i * 10); // 100 calls per real second
            rl.check(&key("tag"), at).unwrap();
        }
        let at = t0 + Duration::from_millis(15_000);
        let err = rl.check(&key("tag"), at).unwrap_err();
        assert_eq!(err.window, Window::Hour);
        // The first call expires at 60 s real = 3600 emulated s; 45 s real remain = 2700 s.
        assert_eq!(err.retry_after_secs, 2700);
        assert!((err.real_wait.as_secs_f64() - 45.0).abs() < 0.01);
    }

    #[test]
    fn retry_after_rounds_up_and_is_at_least_one() {
        let rl = RateLimiter::new(60.0);
        assert_eq!(rl.emulated_secs_ceil(Duration::from_millis(1)), 1);
        assert_eq!(rl.emulated_secs_ceil(Duration::from_millis(501)), 31);
        assert_eq!(rl.real_duration(60), Duration::from_secs(1));
    }
}
