//! Fault injection for `/api` calls: a seeded share of 429s, 500/503s, slow replies, dropped
//! connections and early token expiry. Configured by `--faults` and `PUT /_emulator/faults`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::rng::SplitMix64;

/// Fault settings. Shares are probabilities in `[0, 1]`; `drop`, `error500`, `error503`,
/// `throttle` and `expire_token` are mutually exclusive outcomes of one draw per request, so
/// they must sum to at most 1. `slow` is drawn independently and delays whatever follows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Seed of the fault RNG (the same seed and request order give the same faults).
    pub seed: u64,
    /// Share of requests answered 429 `TooManyRequests` (with Retry-After).
    pub throttle: f64,
    /// Retry-After (emulated seconds) sent with injected 429s.
    pub throttle_retry_after_secs: u64,
    /// Share of requests answered 500 `InternalServerError`.
    pub error500: f64,
    /// Share of requests answered 503 `ServiceUnavailable`.
    pub error503: f64,
    /// Share of requests whose connection is closed without any response.
    pub drop: f64,
    /// Share of requests answered 401 as if the token had just expired.
    pub expire_token: f64,
    /// Tokens older than this (seconds since `iat`) are rejected as expired, before `exp`.
    /// `iat` has whole-second precision, so a token can look up to a second younger than it
    /// is: callers that need "this token is now expired" should wait `max + 1` seconds.
    pub max_token_age_secs: Option<u64>,
    /// Share of requests delayed by `slow_ms`.
    pub slow: f64,
    /// Delay for slow replies, in real milliseconds.
    pub slow_ms: u64,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            throttle: 0.0,
            throttle_retry_after_secs: 1,
            error500: 0.0,
            error503: 0.0,
            drop: 0.0,
            expire_token: 0.0,
            max_token_age_secs: None,
            slow: 0.0,
            slow_ms: 1000,
        }
    }
}

/// A fault configuration that cannot be applied.
#[derive(Debug, Error)]
pub enum FaultConfigError {
    /// Not JSON, or unknown/mistyped fields.
    #[error("invalid fault config JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A share outside `[0, 1]`.
    #[error("fault share {field} must be between 0 and 1, got {value}")]
    ShareOutOfRange {
        /// Field name.
        field: &'static str,
        /// Given value.
        value: f64,
    },
    /// Exclusive outcomes adding up to more than 1.
    #[error("drop + error500 + error503 + throttle + expire_token must be <= 1, got {0}")]
    SharesExceedOne(f64),
    /// A delay over a minute would only hang tests.
    #[error("slow_ms must be <= 60000, got {0}")]
    SlowTooLong(u64),
}

impl FaultConfig {
    /// Parses and validates JSON.
    pub fn from_json(s: &str) -> Result<Self, FaultConfigError> {
        let c: Self = serde_json::from_str(s)?;
        c.validate()?;
        Ok(c)
    }

    /// Checks ranges.
    pub fn validate(&self) -> Result<(), FaultConfigError> {
        let shares = [
            ("throttle", self.throttle),
            ("error500", self.error500),
            ("error503", self.error503),
            ("drop", self.drop),
            ("expire_token", self.expire_token),
            ("slow", self.slow),
        ];
        for (field, value) in shares {
            if !(0.0..=1.0).contains(&value) {
                return Err(FaultConfigError::ShareOutOfRange { field, value });
            }
        }
        let exclusive =
            self.drop + self.error500 + self.error503 + self.throttle + self.expire_token;
        if exclusive > 1.0 + 1e-9 {
            return Err(FaultConfigError::SharesExceedOne(exclusive));
        }
        if self.slow_ms > 60_000 {
            return Err(FaultConfigError::SlowTooLong(self.slow_ms));
        }
        Ok(())
    }
}

/// What to do to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Close the connection without answering.
    Drop,
    /// 500 InternalServerError.
    Error500,
    /// 503 ServiceUnavailable.
    Error503,
    /// 429 with this Retry-After (emulated seconds).
    Throttle(u64),
    /// 401 as for an expired token.
    ExpireToken,
}

/// The fault config plus its RNG state.
#[derive(Debug)]
pub struct FaultState {
    config: FaultConfig,
    rng: SplitMix64,
}

impl FaultState {
    /// Starts (or restarts) the sequence for `config`.
    pub fn new(config: FaultConfig) -> Self {
        let rng = SplitMix64::new(config.seed);
        Self { config, rng }
    }

    /// Current settings.
    pub fn config(&self) -> &FaultConfig {
        &self.config
    }

    /// Draws the faults for one `/api` request: an optional delay and an optional outcome.
    pub fn draw(&mut self) -> (Option<Duration>, Option<Fault>) {
        let c = &self.config;
        let slow =
            (c.slow > 0.0 && self.rng.chance(c.slow)).then(|| Duration::from_millis(c.slow_ms));
        let exclusive = c.drop + c.error500 + c.error503 + c.throttle + c.expire_token;
        if exclusive <= 0.0 {
            return (slow, None);
        }
        let mut x = self.rng.unit();
        let outcomes = [
            (c.drop, Fault::Drop),
            (c.error500, Fault::Error500),
            (c.error503, Fault::Error503),
            (
                c.throttle,
                Fault::Throttle(c.throttle_retry_after_secs.max(1)),
            ),
            (c.expire_token, Fault::ExpireToken),
        ];
        for (share, fault) in outcomes {
            if x < share {
                return (slow, Some(fault));
            }
            x -= share;
        }
        (slow, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_ranges_and_unknown_fields() {
        assert!(FaultConfig::from_json(r#"{"throttle":0.5,"error503":0.5}"#).is_ok());
        assert!(matches!(
            FaultConfig::from_json(r#"{"throttle":0.6,"error503":0.5}"#),
            Err(FaultConfigError::SharesExceedOne(_))
        ));
        assert!(matches!(
            FaultConfig::from_json(r#"{"slow":-0.1}"#),
            Err(FaultConfigError::ShareOutOfRange { field: "slow", .. })
        ));
        assert!(FaultConfig::from_json(r#"{"thrTtle":0.1}"#).is_err());
        assert!(FaultConfig::from_json("not json").is_err());
    }

    #[test]
    fn draws_are_seeded_and_roughly_proportional() {
        let cfg = FaultConfig {
            seed: 9,
            error500: 0.25,
            drop: 0.25,
            ..FaultConfig::default()
        };
        let run = || {
            let mut s = FaultState::new(cfg.clone());
            (0..4000).map(|_| s.draw().1).collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        let n500 = a.iter().filter(|f| **f == Some(Fault::Error500)).count();
        let ndrop = a.iter().filter(|f| **f == Some(Fault::Drop)).count();
        assert!((800..1200).contains(&n500), "{n500}");
        assert!((800..1200).contains(&ndrop), "{ndrop}");
    }

    #[test]
    fn no_faults_by_default() {
        let mut s = FaultState::new(FaultConfig::default());
        assert!((0..100).all(|_| s.draw() == (None, None)));
    }
}
