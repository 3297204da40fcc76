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
    /// Number of generated machines of the demo tenant (Contoso).
    pub machines: usize,
    /// Dataset seed of the demo tenant; the second tenant uses `seed + 1`.
    pub seed: u64,
    /// Machines of the second demo tenant (Fabrikam); 0 = serve only the demo tenant.
    pub second_tenant_machines: usize,
    /// Rate-limit windows run this many times faster than real time (1.0 = real time).
    pub time_scale: f64,
    /// Directory with the built UI, served on the same origin with an SPA fallback.
    pub static_dir: Option<PathBuf>,
    /// Origins allowed to call `/api` cross-origin (`*` = any). Empty = CORS off, like the
    /// real API is assumed to be.
    pub cors_origins: Vec<String>,
    /// Origins whose pages may sign in through the identity provider (redirect URIs, the
    /// token endpoint) without being allowed to call `/api`. The emulator's own origins and
    /// every explicit `cors_origins` entry may sign in anyway.
    pub redirect_origins: Vec<String>,
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
            second_tenant_machines: 0,
            time_scale: 1.0,
            static_dir: None,
            cors_origins: Vec::new(),
            redirect_origins: Vec::new(),
            data_file: None,
            faults: FaultConfig::default(),
            public_url: None,
        }
    }
}

impl Config {
    /// Checks what can be checked before start-up, so mistakes fail fast with a clear message
    /// instead of surfacing later as 404s or failed saves.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.time_scale.is_finite() && self.time_scale > 0.0) {
            return Err(format!(
                "time scale must be a positive number, got {}",
                self.time_scale
            ));
        }
        self.faults.validate().map_err(|e| e.to_string())?;
        if let Some(dir) = &self.static_dir {
            if !dir.is_dir() {
                return Err(format!("--static {}: not a directory", dir.display()));
            }
            if !dir.join("index.html").is_file() {
                tracing::warn!(dir = %dir.display(), "--static has no index.html: SPA paths will be 404");
            }
        }
        if let Some(file) = &self.data_file {
            let parent = file.parent().filter(|p| !p.as_os_str().is_empty());
            if parent.is_some_and(|p| !p.is_dir()) {
                return Err(format!(
                    "--data {}: the directory does not exist",
                    file.display()
                ));
            }
            if file.is_dir() {
                return Err(format!("--data {}: is a directory", file.display()));
            }
        }
        for origin in &self.cors_origins {
            if origin != "*" && !is_origin(origin) {
                return Err(format!(
                    "--cors-origin {origin:?}: expected '*' or an origin like http://localhost:8080 (scheme, host, optional port; no path)"
                ));
            }
        }
        for origin in &self.redirect_origins {
            if !is_origin(origin) {
                return Err(format!(
                    "--redirect-origin {origin:?}: expected an origin like http://localhost:8080 (scheme, host, optional port; no path, no '*')"
                ));
            }
        }
        Ok(())
    }
}

fn is_origin(s: &str) -> bool {
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"));
    rest.is_some_and(|r| {
        !r.is_empty()
            && r.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_rejects_each_mistake_with_its_flag() {
        assert!(Config::default().validate().is_ok());
        let bad = |c: Config| c.validate().unwrap_err();
        assert!(
            bad(Config {
                time_scale: 0.0,
                ..Config::default()
            })
            .contains("time scale")
        );
        assert!(
            bad(Config {
                static_dir: Some("/nonexistent-dir".into()),
                ..Config::default()
            })
            .contains("--static")
        );
        assert!(
            bad(Config {
                data_file: Some("/nonexistent-dir/x.json".into()),
                ..Config::default()
            })
            .contains("--data")
        );
        assert!(
            bad(Config {
                cors_origins: vec!["http://a.test/path".into()],
                ..Config::default()
            })
            .contains("--cors-origin")
        );
        assert!(
            bad(Config {
                cors_origins: vec!["a.test".into()],
                ..Config::default()
            })
            .contains("--cors-origin")
        );
        assert!(
            bad(Config {
                redirect_origins: vec!["*".into()],
                ..Config::default()
            })
            .contains("--redirect-origin")
        );
        assert!(
            bad(Config {
                redirect_origins: vec!["http://a.test/cb".into()],
                ..Config::default()
            })
            .contains("--redirect-origin")
        );
        let ok = Config {
            redirect_origins: vec!["http://127.0.0.1:9".into()],
            cors_origins: vec![
                "*".into(),
                "http://127.0.0.1:8080".into(),
                "https://[::1]:1".into(),
            ],
            ..Config::default()
        };
        assert!(ok.validate().is_ok());
    }
}
