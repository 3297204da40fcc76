//! The edge proxy's configuration, validated once at the edge: the `handleRequest` options, the
//! Workers environment and the Node server's `proxy.json` all go through [`ProxySettings::parse`],
//! so each deployment refuses the same mistakes with the same field-named messages, and nothing
//! is forwarded (or listened on) while the configuration is invalid.
//!
//! ```jsonc
//! {
//!   "apiBaseUrl": "https://api.security.microsoft.com", // https; http only for loopback
//!   "allowedOrigins": ["https://portal.contoso.com"],   // exact origins of the calling pages
//!   "listen": { "host": "127.0.0.1", "port": 8787 },     // Node server only; these are the defaults
//!   "timeoutMs": 30000,                                  // optional upstream timeout
//!   "publicUrl": "https://defender-proxy.contoso.com"   // optional: the proxy's URL as clients see it (may end in the path it is mounted under)
//! }
//! ```

use std::fmt;

use serde_json::{Map, Value};
use thiserror::Error;

use defender_tags_core::cloud::{BaseUrl, BaseUrlError};
use defender_tags_core::site_config::json_kind;

use crate::config::DEFAULT_TIMEOUT_MS;

/// Where the Node server listens when `listen` is not given: loopback, so a proxy is never
/// exposed on the network by accident.
pub const DEFAULT_LISTEN_HOST: &str = "127.0.0.1";
/// The Node server's default port.
pub const DEFAULT_LISTEN_PORT: u16 = 8787;
/// The longest upstream timeout accepted: longer than any sane gateway would wait.
pub const MAX_TIMEOUT_MS: u32 = 300_000;

/// Which deployment reads the configuration; decides which keys exist and which are required.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigUse {
    /// `handleRequest(request, config)` in the caller's own server: `allowedOrigins` may be
    /// omitted (server-to-server only), no `listen`.
    Handler,
    /// The Cloudflare Workers entry: `allowedOrigins` required, no `listen` (the platform binds).
    Worker,
    /// The Node server (`defender-tags-proxy --config proxy.json`): `allowedOrigins` required,
    /// `listen` allowed.
    Server,
}

impl ConfigUse {
    /// Parses the name used by the JS API (`"handler"`, `"worker"`, `"server"`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "handler" => Some(Self::Handler),
            "worker" => Some(Self::Worker),
            "server" => Some(Self::Server),
            _ => None,
        }
    }

    fn keys(self) -> &'static [&'static str] {
        match self {
            Self::Handler | Self::Worker => {
                &["apiBaseUrl", "allowedOrigins", "timeoutMs", "publicUrl"]
            }
            Self::Server => &[
                "apiBaseUrl",
                "allowedOrigins",
                "timeoutMs",
                "publicUrl",
                "listen",
            ],
        }
    }
}

/// One problem in the configuration: core's configuration error (JSON path of the field, `""`
/// for a syntax error, and what is wrong), the same shape as `config.json`'s.
pub use defender_tags_core::site_config::ConfigError as ProxyConfigError;

fn error(field: impl Into<String>, message: impl Into<String>) -> ProxyConfigError {
    ProxyConfigError {
        field: field.into(),
        message: message.into(),
    }
}

/// Where the Node server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    /// Host name or IP literal to bind.
    pub host: String,
    /// Port; 0 asks the system for a free one (tests).
    pub port: u16,
}

/// A validated proxy configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxySettings {
    /// The only upstream: the Defender API (or the emulator on loopback).
    pub api_base: BaseUrl,
    /// Exact origins (`scheme://host[:port]`, as browsers send them) allowed to call.
    pub allowed_origins: Vec<String>,
    /// Upstream timeout.
    pub timeout_ms: u32,
    /// The proxy's own origin as clients reach it, for rewritten `@odata.nextLink`s; `None`:
    /// the origin of each request's URL.
    pub public_url: Option<BaseUrl>,
    /// Server only: where to listen.
    pub listen: Option<Listen>,
}

impl ProxySettings {
    /// Parses and validates `json` for `usage`, reporting every field error at once.
    pub fn parse(json: &str, usage: ConfigUse) -> Result<Self, Vec<ProxyConfigError>> {
        let value: Value = serde_json::from_str(json)
            .map_err(|e| vec![error("", format!("not valid JSON: {e}"))])?;
        Self::from_value(&value, usage)
    }

    /// As [`Self::parse`], from an already parsed JSON value.
    pub fn from_value(value: &Value, usage: ConfigUse) -> Result<Self, Vec<ProxyConfigError>> {
        let Value::Object(map) = value else {
            return Err(vec![error(
                "",
                format!(
                    "the configuration must be a JSON object, not {}",
                    json_kind(value)
                ),
            )]);
        };
        let mut errors = Vec::new();
        for key in map.keys() {
            if !usage.keys().contains(&key.as_str()) {
                let hint = if key == "listen" {
                    " (only the Node server listens; this runtime binds for you)".to_owned()
                } else {
                    format!("; expected one of: {}", usage.keys().join(", "))
                };
                errors.push(error(key.clone(), format!("unknown key{hint}")));
            }
        }
        let api_base = match map.get("apiBaseUrl") {
            None => {
                errors.push(error(
                    "apiBaseUrl",
                    "is required: the Defender API host, e.g. https://api.security.microsoft.com",
                ));
                None
            }
            Some(v) => string(v, "apiBaseUrl", &mut errors)
                .and_then(|s| base_url(s, "apiBaseUrl", &mut errors)),
        };
        let allowed_origins = origins(map, usage, &mut errors);
        let timeout_ms = match map.get("timeoutMs") {
            None => DEFAULT_TIMEOUT_MS,
            Some(v) => match v.as_u64() {
                Some(n) if (1..=u64::from(MAX_TIMEOUT_MS)).contains(&n) => {
                    u32::try_from(n).unwrap_or(MAX_TIMEOUT_MS)
                }
                _ => {
                    errors.push(error(
                        "timeoutMs",
                        format!(
                            "must be a whole number of milliseconds from 1 to {MAX_TIMEOUT_MS}"
                        ),
                    ));
                    DEFAULT_TIMEOUT_MS
                }
            },
        };
        let public_url = map.get("publicUrl").and_then(|v| {
            // The proxy may be mounted under a path (`https://portal.contoso.com/defender`).
            string(v, "publicUrl", &mut errors)
                .and_then(|s| prefixed_url(s, "publicUrl", &mut errors))
        });
        let listen = match usage {
            ConfigUse::Server => listen(map.get("listen"), &mut errors),
            ConfigUse::Handler | ConfigUse::Worker => None,
        };
        match api_base {
            Some(api_base) if errors.is_empty() => Ok(Self {
                api_base,
                allowed_origins,
                timeout_ms,
                public_url,
                listen,
            }),
            _ => Err(errors),
        }
    }
}

fn string<'v>(
    value: &'v Value,
    field: &str,
    errors: &mut Vec<ProxyConfigError>,
) -> Option<&'v str> {
    match value {
        Value::String(s) => Some(s),
        other => {
            errors.push(error(
                field,
                format!("must be a string, not {}", json_kind(other)),
            ));
            None
        }
    }
}

/// [`base_url`], with a path prefix allowed.
fn prefixed_url(text: &str, field: &str, errors: &mut Vec<ProxyConfigError>) -> Option<BaseUrl> {
    url_field(BaseUrl::parse_prefixed(text), text, field, errors)
}

/// `BaseUrl`'s own messages start with "API base URL"; name the field instead.
fn base_url(text: &str, field: &str, errors: &mut Vec<ProxyConfigError>) -> Option<BaseUrl> {
    url_field(BaseUrl::parse(text), text, field, errors)
}

fn url_field(
    parsed: Result<BaseUrl, BaseUrlError>,
    text: &str,
    field: &str,
    errors: &mut Vec<ProxyConfigError>,
) -> Option<BaseUrl> {
    match parsed {
        Ok(url) => Some(url),
        Err(e) => {
            let message = e.to_string();
            let message = match message.strip_prefix("API base URL ") {
                Some(rest) if rest.starts_with('"') => rest.to_owned(),
                Some(rest) => format!("{text:?} {rest}"),
                None => message.clone(),
            };
            errors.push(error(field, message));
            None
        }
    }
}

fn origins(
    map: &Map<String, Value>,
    usage: ConfigUse,
    errors: &mut Vec<ProxyConfigError>,
) -> Vec<String> {
    const FIELD: &str = "allowedOrigins";
    let list = match map.get(FIELD) {
        None if usage == ConfigUse::Handler => return Vec::new(),
        None => {
            errors.push(error(
                FIELD,
                "is required: list the exact origins of the pages that call the proxy, e.g. [\"https://portal.contoso.com\"]",
            ));
            return Vec::new();
        }
        Some(Value::Array(list)) => list,
        Some(other) => {
            errors.push(error(
                FIELD,
                format!("must be a list of origins, not {}", json_kind(other)),
            ));
            return Vec::new();
        }
    };
    if list.is_empty() && usage != ConfigUse::Handler {
        errors.push(error(
            FIELD,
            "is empty: list at least one origin, e.g. [\"https://portal.contoso.com\"]; no browser page could use the proxy",
        ));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let field = format!("{FIELD}[{i}]");
        let Some(text) = string(item, &field, errors) else {
            continue;
        };
        match exact_origin(text) {
            Ok(origin) if out.contains(&origin) => {
                errors.push(error(field, format!("{text:?} is listed twice")));
            }
            Ok(origin) => out.push(origin),
            Err(message) => errors.push(error(field, message)),
        }
    }
    out
}

/// Why a string is not an exact origin.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
enum OriginError {
    #[error("{0:?}: wildcards are not allowed; list each origin exactly")]
    Wildcard(String),
    #[error("{0:?} is not an origin; write scheme://host[:port], e.g. https://portal.contoso.com")]
    NotAnOrigin(String),
    #[error("{0:?} uses http off loopback; pages that hold a token must be served over https")]
    Insecure(String),
    #[error(
        "{given:?} is not written as browsers send it; use {exact:?} (lowercase, no path, no default port)"
    )]
    NotExact { given: String, exact: String },
}

/// Browsers send `Origin` normalised (lowercase scheme and host, no default port, no path), and
/// the proxy compares it byte for byte, so a configured origin must already be in that form.
fn exact_origin(text: &str) -> Result<String, String> {
    if text.contains('*') {
        return Err(OriginError::Wildcard(text.to_owned()).to_string());
    }
    let url = match BaseUrl::parse(text) {
        Ok(url) => url,
        Err(BaseUrlError::InsecureHttp { .. }) => {
            return Err(OriginError::Insecure(text.to_owned()).to_string());
        }
        Err(_) => return Err(OriginError::NotAnOrigin(text.to_owned()).to_string()),
    };
    if url.as_str() != text {
        return Err(OriginError::NotExact {
            given: text.to_owned(),
            exact: url.as_str().to_owned(),
        }
        .to_string());
    }
    Ok(text.to_owned())
}

fn listen(value: Option<&Value>, errors: &mut Vec<ProxyConfigError>) -> Option<Listen> {
    let mut out = Listen {
        host: DEFAULT_LISTEN_HOST.to_owned(),
        port: DEFAULT_LISTEN_PORT,
    };
    let map = match value {
        None => return Some(out),
        Some(Value::Object(map)) => map,
        Some(other) => {
            errors.push(error(
                "listen",
                format!(
                    "must be an object like {{\"host\": \"127.0.0.1\", \"port\": 8787}}, not {}",
                    json_kind(other)
                ),
            ));
            return None;
        }
    };
    for key in map.keys() {
        if key != "host" && key != "port" {
            errors.push(error(
                format!("listen.{key}"),
                "unknown key; expected host, port",
            ));
        }
    }
    if let Some(v) = map.get("host") {
        match string(v, "listen.host", errors) {
            Some(host) if valid_listen_host(host) => out.host = host.to_owned(),
            Some(host) => errors.push(error(
                "listen.host",
                format!("{host:?} is not a host name or IP address"),
            )),
            None => {}
        }
    }
    if let Some(v) = map.get("port") {
        match v.as_u64().map(u16::try_from) {
            Some(Ok(port)) => out.port = port,
            _ => errors.push(error(
                "listen.port",
                "must be a whole number from 0 to 65535 (0: any free port)",
            )),
        }
    }
    Some(out)
}

fn valid_listen_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

/// Every error, one per line: what the Node server prints before it exits.
#[derive(Debug)]
pub struct ErrorList<'a>(pub &'a [ProxyConfigError]);

impl fmt::Display for ErrorList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
