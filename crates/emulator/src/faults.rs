//! Fault injection for `/api` calls: a seeded share of 429s, 500/503s, slow replies, dropped
//! connections and early token expiry, struck before the request is processed; and 500/503s,
//! dropped connections and slow replies struck after it succeeded (a tag change is then in
//! place although the caller never hears so). Configured by `--faults` and
//! `PUT /_emulator/faults`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::rng::SplitMix64;

/// Fault settings. Shares are probabilities in `[0, 1]`; `drop`, `error500`, `error503`,
/// `throttle`, `expire_token`, `drop_after`, `error500_after` and `error503_after` are mutually
/// exclusive outcomes of one draw per request, so they must sum to at most 1. `slow` and
/// `slow_after` are drawn independently: `slow` delays whatever follows, `slow_after` delays the
/// answer of a request that succeeded.
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
    /// Share of requests processed (a tag change applied) and then answered 500, when they
    /// succeeded; a request that failed on its own keeps its answer.
    pub error500_after: f64,
    /// Like `error500_after`, answered 503.
    pub error503_after: f64,
    /// Like `error500_after`, the connection closed without any response.
    pub drop_after: f64,
    /// Share of requests processed and then answered only after `slow_after_ms` (set it above
    /// the client's timeout and the client gives up on a change that is already in place).
    pub slow_after: f64,
    /// Delay of `slow_after` replies, in real milliseconds.
    pub slow_after_ms: u64,
    /// Strike tag changes (POST) only: reads always succeed. Lets a test fail the writes of a
    /// run while the re-reads around it (re-planning, "Verify") see the true state.
    pub writes_only: bool,
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
            error500_after: 0.0,
            error503_after: 0.0,
            drop_after: 0.0,
            slow_after: 0.0,
            slow_after_ms: 1000,
            writes_only: false,
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
    #[error(
        "drop + error500 + error503 + throttle + expire_token + drop_after + error500_after + \
         error503_after must be <= 1, got {0}"
    )]
    SharesExceedOne(f64),
    /// A delay over a minute would only hang tests.
    #[error("{field} must be <= 60000, got {value}")]
    SlowTooLong {
        /// `slow_ms` or `slow_after_ms`.
        field: &'static str,
        /// Given value.
        value: u64,
    },
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
            ("error500_after", self.error500_after),
            ("error503_after", self.error503_after),
            ("drop_after", self.drop_after),
            ("slow_after", self.slow_after),
        ];
        for (field, value) in shares {
            if !(0.0..=1.0).contains(&value) {
                return Err(FaultConfigError::ShareOutOfRange { field, value });
            }
        }
        let exclusive = self.exclusive();
        if exclusive > 1.0 + 1e-9 {
            return Err(FaultConfigError::SharesExceedOne(exclusive));
        }
        for (field, value) in [
            ("slow_ms", self.slow_ms),
            ("slow_after_ms", self.slow_after_ms),
        ] {
            if value > 60_000 {
                return Err(FaultConfigError::SlowTooLong { field, value });
            }
        }
        Ok(())
    }

    fn exclusive(&self) -> f64 {
        self.drop
            + self.error500
            + self.error503
            + self.throttle
            + self.expire_token
            + self.drop_after
            + self.error500_after
            + self.error503_after
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
    /// Process the request, then close the connection without answering.
    DropAfter,
    /// Process the request, then answer 500.
    Error500After,
    /// Process the request, then answer 503.
    Error503After,
}

impl Fault {
    /// True for the faults that strike only after the request was processed.
    pub fn strikes_after(self) -> bool {
        matches!(
            self,
            Self::DropAfter | Self::Error500After | Self::Error503After
        )
    }
}

/// The faults drawn for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Drawn {
    /// Delay before the request is processed.
    pub slow: Option<Duration>,
    /// The exclusive outcome, if any.
    pub fault: Option<Fault>,
    /// Delay of a successful answer, after the request was processed.
    pub slow_after: Option<Duration>,
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

    /// Draws the faults for one `/api` request (`write`: a tag change). Each draw is skipped
    /// when its share is zero, so a config without the `_after` faults gives the same sequence
    /// as before they existed; with `writes_only`, reads draw nothing.
    pub fn draw(&mut self, write: bool) -> Drawn {
        let c = &self.config;
        if c.writes_only && !write {
            return Drawn {
                slow: None,
                fault: None,
                slow_after: None,
            };
        }
        let slow =
            (c.slow > 0.0 && self.rng.chance(c.slow)).then(|| Duration::from_millis(c.slow_ms));
        let exclusive = c.exclusive();
        let mut fault = None;
        if exclusive > 0.0 {
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
                (c.drop_after, Fault::DropAfter),
                (c.error500_after, Fault::Error500After),
                (c.error503_after, Fault::Error503After),
            ];
            for (share, outcome) in outcomes {
                if x < share {
                    fault = Some(outcome);
                    break;
                }
                x -= share;
            }
        }
        let slow_after = (c.slow_after > 0.0 && self.rng.chance(c.slow_after))
            .then(|| Duration::from_millis(c.slow_after_ms));
        Drawn {
            slow,
            fault,
            slow_after,
        }
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
            (0..4000).map(|_| s.draw(true).fault).collect::<Vec<_>>()
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
        assert!((0..100).all(|_| s.draw(true) == Drawn::default()));
    }

    #[test]
    fn after_faults_are_validated_and_drawn_in_proportion() {
        assert!(matches!(
            FaultConfig::from_json(r#"{"error503":0.6,"drop_after":0.5}"#),
            Err(FaultConfigError::SharesExceedOne(_))
        ));
        assert!(matches!(
            FaultConfig::from_json(r#"{"slow_after":1.5}"#),
            Err(FaultConfigError::ShareOutOfRange {
                field: "slow_after",
                ..
            })
        ));
        assert!(matches!(
            FaultConfig::from_json(r#"{"slow_after_ms":60001}"#),
            Err(FaultConfigError::SlowTooLong {
                field: "slow_after_ms",
                ..
            })
        ));
        let cfg = FaultConfig::from_json(
            r#"{"seed":3,"error500_after":0.2,"error503_after":0.2,"drop_after":0.2,"slow_after":0.5,"slow_after_ms":5}"#,
        )
        .unwrap();
        let mut s = FaultState::new(cfg);
        let draws: Vec<Drawn> = (0..4000).map(|_| s.draw(true)).collect();
        for kind in [Fault::Error500After, Fault::Error503After, Fault::DropAfter] {
            assert!(kind.strikes_after());
            let n = draws.iter().filter(|d| d.fault == Some(kind)).count();
            assert!((650..950).contains(&n), "{kind:?}: {n}");
        }
        let slowed = draws.iter().filter(|d| d.slow_after.is_some()).count();
        assert!((1800..2200).contains(&slowed), "{slowed}");
        assert!(draws.iter().all(|d| d.slow.is_none()));
    }

    #[test]
    fn a_config_without_after_faults_draws_the_same_sequence_as_before() {
        // The sequence of the existing outcomes must not move: seeded soaks depend on it.
        let cfg = FaultConfig {
            seed: 11,
            error500: 0.3,
            slow: 0.3,
            ..FaultConfig::default()
        };
        let mut s = FaultState::new(cfg.clone());
        let mut rng = SplitMix64::new(cfg.seed);
        for _ in 0..500 {
            let slow = rng.chance(0.3);
            let error = rng.unit() < 0.3;
            let d = s.draw(true);
            assert_eq!(d.slow.is_some(), slow);
            assert_eq!(d.fault == Some(Fault::Error500), error);
            assert_eq!(d.slow_after, None);
        }
    }

    #[test]
    fn writes_only_leaves_reads_alone() {
        let mut s = FaultState::new(
            FaultConfig::from_json(r#"{"error500_after":1.0,"writes_only":true}"#).unwrap(),
        );
        assert!((0..50).all(|_| s.draw(false) == Drawn::default()));
        assert!((0..50).all(|_| s.draw(true).fault == Some(Fault::Error500After)));
    }
}
