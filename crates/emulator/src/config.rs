//! Server configuration (what the CLI parses, and what tests build directly).

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use crate::faults::FaultConfig;

/// Days a machine stays visible after its last full report (the tenant's "configured retention
/// period"; Defender allows 30–180 days, 180 is the default and the maximum).
pub const RETENTION_DAYS: i64 = 180;

/// Everything [`crate::serve`] needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to bind (default 127.0.0.1).
    pub bind: IpAddr,
    /// Port (0 picks a free one).
    pub port: u16,
    /// Number of generated machines.
    pub machines: usize,
    /// Dataset seed.
    pub seed: u64,
    /// Rate-limit windows run this many times faster than real time (1.0 = real time).
    pub time_scale: f64,
    /// Directory with the built UI, served on the same origin with an SPA fallback.
    pub static_dir: Option<PathBuf>,
    /// Origins allowed to call `/api` cross-origin (`*` = any). Empty = CORS off, like the
    /// real API is assumed to be.
    pub cors_origins: Vec<String>,
    /// File that persists machine state across restarts.
    pub data_file: Option<PathBuf>,
    /// Initial fault-injection settings.
    pub faults: FaultConfig,
    /// Public base URL the identity provider advertises (e.g. `https://login.emulator.test`);
    /// `None` = `http://{Host header}`.
    pub public_url: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            machines: 3000,
            seed: 42,
            time_scale: 1.0,
            static_dir: None,
            cors_origins: Vec::new(),
            data_file: None,
            faults: FaultConfig::default(),
            public_url: None,
        }
    }
}
