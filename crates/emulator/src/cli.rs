//! Command-line interface (clap).

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Parser;

use crate::config::Config;
use crate::faults::FaultConfig;

/// A local Microsoft Defender for Endpoint API (machines and tags) with a dev identity provider.
///
/// Prints `LISTENING http://HOST:PORT` on stdout once it accepts connections, then a banner.
#[derive(Debug, Parser)]
#[command(name = "defender-tags-emulator", version, about, long_about)]
pub struct Cli {
    /// Address to bind. Keep the loopback default: the emulator has no real security.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: IpAddr,
    /// Port to listen on; 0 picks a free port (read it from the LISTENING line).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Number of machines to generate in the demo tenant (Contoso).
    #[arg(long, default_value_t = 3000)]
    pub machines: usize,
    /// Seed of the deterministic dataset (the second tenant uses seed + 1).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Also serve a second demo tenant (Fabrikam, 22222222-3333-4444-5555-666666666666) with
    /// this many machines of its own; 0 serves the demo tenant only.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub second_tenant_machines: usize,
    /// Run rate-limit windows this many times faster (60 = a minute lasts one second).
    /// Retry-After stays in emulated seconds; see the README.
    #[arg(long, default_value_t = 1.0, value_parser = parse_scale)]
    pub time_scale: f64,
    /// Serve this directory (the built UI) on the same origin, with an SPA fallback.
    #[arg(long = "static", value_name = "DIR")]
    pub static_dir: Option<PathBuf>,
    /// Allow this origin to call /api cross-origin (repeatable; '*' allows any origin).
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
    /// Allow pages of this origin to sign in (redirect URIs, the token endpoint) without
    /// allowing them to call /api (repeatable). The emulator's own origin and every
    /// --cors-origin may sign in anyway.
    #[arg(long = "redirect-origin", value_name = "ORIGIN")]
    pub redirect_origins: Vec<String>,
    /// Persist machine state (tags) in this JSON file; loaded at start if it exists.
    #[arg(long = "data", value_name = "FILE")]
    pub data_file: Option<PathBuf>,
    /// Fault injection settings as JSON, e.g. '{"seed":1,"throttle":0.1,"error503":0.05}'.
    #[arg(long, value_name = "JSON", value_parser = parse_faults)]
    pub faults: Option<FaultConfig>,
    /// Public base URL advertised by the identity provider (discovery document, token
    /// issuer). Default: http://{Host header of each request}.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
}

fn parse_scale(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    if v.is_finite() && v > 0.0 && v <= 1_000_000.0 {
        Ok(v)
    } else {
        Err(format!("time scale must be > 0 and <= 1000000, got {v}"))
    }
}

fn parse_faults(s: &str) -> Result<FaultConfig, String> {
    FaultConfig::from_json(s).map_err(|e| e.to_string())
}

impl Cli {
    /// The server configuration these arguments describe.
    pub fn into_config(self) -> Result<Config, String> {
        let public_url = match self.public_url {
            Some(u) => Some(normalize_public_url(&u)?),
            None => None,
        };
        Ok(Config {
            bind: self.bind,
            port: self.port,
            machines: self.machines,
            seed: self.seed,
            second_tenant_machines: self.second_tenant_machines,
            time_scale: self.time_scale,
            static_dir: self.static_dir,
            cors_origins: self.cors_origins,
            redirect_origins: self.redirect_origins,
            data_file: self.data_file,
            faults: self.faults.unwrap_or_default(),
            public_url,
        })
    }
}

/// Checks that a public URL is an absolute http(s) origin and drops a trailing slash.
pub fn normalize_public_url(url: &str) -> Result<String, String> {
    let trimmed = url.trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .ok_or_else(|| format!("--public-url must start with http:// or https://, got {url:?}"))?;
    if rest.is_empty() || rest.contains(['?', '#', ' ']) {
        return Err(format!(
            "--public-url must be an origin like https://login.example, got {url:?}"
        ));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_defaults_and_repeatable_cors() {
        let cli = Cli::try_parse_from([
            "x",
            "--cors-origin",
            "http://a",
            "--cors-origin",
            "*",
            "--time-scale",
            "60",
            "--redirect-origin",
            "http://127.0.0.1:9",
        ])
        .unwrap();
        assert_eq!(cli.second_tenant_machines, 0);
        let c = cli.into_config().unwrap();
        assert_eq!(c.cors_origins, vec!["http://a", "*"]);
        assert_eq!(c.redirect_origins, vec!["http://127.0.0.1:9"]);
        assert_eq!(c.time_scale, 60.0);
        assert_eq!(c.machines, 3000);
        assert_eq!(c.seed, 42);
        assert_eq!(c.port, 0);
        let two = Cli::try_parse_from(["x", "--second-tenant-machines", "800"]).unwrap();
        assert_eq!(two.into_config().unwrap().second_tenant_machines, 800);
        assert!(Cli::try_parse_from(["x", "--second-tenant-machines", "-1"]).is_err());
    }

    #[test]
    fn rejects_bad_scale_faults_and_public_url() {
        assert!(Cli::try_parse_from(["x", "--time-scale", "0"]).is_err());
        assert!(Cli::try_parse_from(["x", "--time-scale", "abc"]).is_err());
        assert!(Cli::try_parse_from(["x", "--faults", "{\"throttle\": 2}"]).is_err());
        assert!(Cli::try_parse_from(["x", "--faults", "{\"nope\": 1}"]).is_err());
        assert!(normalize_public_url("ftp://x").is_err());
        assert_eq!(
            normalize_public_url("https://login.test/").unwrap(),
            "https://login.test"
        );
    }
}
