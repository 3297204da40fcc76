//! Clouds, regional hosts, token scopes and base-URL validation (defender-api.md §0, §8, §10).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// The token scope to request by default. The live docs say some endpoints still require the
/// legacy audience even on the new host and fail with 403 otherwise (defender-api.md §8).
pub const DEFAULT_SCOPE: &str = "https://api.securitycenter.microsoft.com/.default";

/// A Microsoft cloud that hosts Defender for Endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Cloud {
    /// Worldwide commercial cloud.
    Commercial,
    /// US Government Community Cloud.
    Gcc,
    /// US Government GCC High.
    GccHigh,
    /// US Department of Defense.
    DoD,
}

impl Cloud {
    /// Every cloud.
    pub const ALL: [Cloud; 4] = [Cloud::Commercial, Cloud::Gcc, Cloud::GccHigh, Cloud::DoD];

    /// A short human name.
    pub fn name(self) -> &'static str {
        match self {
            Cloud::Commercial => "Commercial",
            Cloud::Gcc => "GCC",
            Cloud::GccHigh => "GCC High",
            Cloud::DoD => "DoD",
        }
    }

    /// The documented API host for the cloud (commercial: the current global host).
    pub fn api_host(self) -> &'static str {
        match self {
            Cloud::Commercial => "api.security.microsoft.com",
            Cloud::Gcc => "api-gcc.securitycenter.microsoft.us",
            Cloud::GccHigh | Cloud::DoD => "api-gov.securitycenter.microsoft.us",
        }
    }

    /// The API base URL for the cloud.
    pub fn base_url(self) -> BaseUrl {
        BaseUrl::from_trusted_https_host(self.api_host())
    }

    /// The Entra ID sign-in authority host.
    pub fn login_host(self) -> &'static str {
        match self {
            Cloud::Commercial | Cloud::Gcc => "https://login.microsoftonline.com",
            Cloud::GccHigh | Cloud::DoD => "https://login.microsoftonline.us",
        }
    }

    /// The default token scope. Gov-cloud scopes are not documented by Microsoft (UNCONFIRMED);
    /// these follow the API hosts, as most third-party scripts do. Override with
    /// [`CloudConfig::with_scope`] when a tenant needs another.
    pub fn default_scope(self) -> &'static str {
        match self {
            Cloud::Commercial => DEFAULT_SCOPE,
            Cloud::Gcc => "https://api-gcc.securitycenter.microsoft.us/.default",
            Cloud::GccHigh | Cloud::DoD => "https://api-gov.securitycenter.microsoft.us/.default",
        }
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A geography with its own API host ("use a server closer to your geolocation").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Region {
    /// United States.
    Us,
    /// Europe.
    Eu,
    /// United Kingdom.
    Uk,
    /// Australia.
    Au,
    /// Switzerland.
    Swa,
    /// India.
    Ina,
    /// Asia East (live docs only, 2026).
    Aea,
}

impl Region {
    /// Every region with a current host.
    pub const ALL: [Region; 7] = [
        Region::Us,
        Region::Eu,
        Region::Uk,
        Region::Au,
        Region::Swa,
        Region::Ina,
        Region::Aea,
    ];

    /// The current regional host, e.g. `eu.api.security.microsoft.com`.
    pub fn host(self) -> &'static str {
        match self {
            Region::Us => "us.api.security.microsoft.com",
            Region::Eu => "eu.api.security.microsoft.com",
            Region::Uk => "uk.api.security.microsoft.com",
            Region::Au => "au.api.security.microsoft.com",
            Region::Swa => "swa.api.security.microsoft.com",
            Region::Ina => "ina.api.security.microsoft.com",
            Region::Aea => "aea.api.security.microsoft.com",
        }
    }

    /// The regional base URL.
    pub fn base_url(self) -> BaseUrl {
        BaseUrl::from_trusted_https_host(self.host())
    }
}

/// How current a known host is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HostGeneration {
    /// `*.security.microsoft.com` and the gov hosts: documented today.
    Current,
    /// `*.securitycenter.microsoft.com`: still in many examples and the token audience.
    Legacy,
    /// `*.securitycenter.windows.com`: 2018–2020 docs, reportedly still answering.
    OlderLegacy,
}

/// A host Microsoft has documented for the Defender for Endpoint API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownHost {
    /// Host name.
    pub host: &'static str,
    /// Cloud it belongs to.
    pub cloud: Cloud,
    /// Region, for regional hosts.
    pub region: Option<Region>,
    /// How current it is.
    pub generation: HostGeneration,
}

const fn kh(
    host: &'static str,
    cloud: Cloud,
    region: Option<Region>,
    generation: HostGeneration,
) -> KnownHost {
    KnownHost {
        host,
        cloud,
        region,
        generation,
    }
}

use Cloud::*;
use HostGeneration::*;

/// Every documented host (defender-api.md §0), current first.
pub const KNOWN_HOSTS: &[KnownHost] = &[
    kh("api.security.microsoft.com", Commercial, None, Current),
    kh(
        "us.api.security.microsoft.com",
        Commercial,
        Some(Region::Us),
        Current,
    ),
    kh(
        "eu.api.security.microsoft.com",
        Commercial,
        Some(Region::Eu),
        Current,
    ),
    kh(
        "uk.api.security.microsoft.com",
        Commercial,
        Some(Region::Uk),
        Current,
    ),
    kh(
        "au.api.security.microsoft.com",
        Commercial,
        Some(Region::Au),
        Current,
    ),
    kh(
        "swa.api.security.microsoft.com",
        Commercial,
        Some(Region::Swa),
        Current,
    ),
    kh(
        "ina.api.security.microsoft.com",
        Commercial,
        Some(Region::Ina),
        Current,
    ),
    kh(
        "aea.api.security.microsoft.com",
        Commercial,
        Some(Region::Aea),
        Current,
    ),
    kh("api-gcc.securitycenter.microsoft.us", Gcc, None, Current),
    kh(
        "api-gov.securitycenter.microsoft.us",
        GccHigh,
        None,
        Current,
    ),
    kh("api.securitycenter.microsoft.com", Commercial, None, Legacy),
    kh(
        "api-us.securitycenter.microsoft.com",
        Commercial,
        Some(Region::Us),
        Legacy,
    ),
    kh(
        "api-eu.securitycenter.microsoft.com",
        Commercial,
        Some(Region::Eu),
        Legacy,
    ),
    kh(
        "api-uk.securitycenter.microsoft.com",
        Commercial,
        Some(Region::Uk),
        Legacy,
    ),
    kh(
        "api-au.securitycenter.microsoft.com",
        Commercial,
        Some(Region::Au),
        Legacy,
    ),
    kh(
        "api.securitycenter.windows.com",
        Commercial,
        None,
        OlderLegacy,
    ),
    kh(
        "api-us.securitycenter.windows.com",
        Commercial,
        Some(Region::Us),
        OlderLegacy,
    ),
    kh(
        "api-eu.securitycenter.windows.com",
        Commercial,
        Some(Region::Eu),
        OlderLegacy,
    ),
    kh(
        "api-uk.securitycenter.windows.com",
        Commercial,
        Some(Region::Uk),
        OlderLegacy,
    ),
];

/// Looks up a documented host (ASCII case-insensitive).
pub fn known_host(host: &str) -> Option<&'static KnownHost> {
    KNOWN_HOSTS
        .iter()
        .find(|k| k.host.eq_ignore_ascii_case(host))
}

/// The origin of the API: `https://host[:port]`, validated. `http` is accepted only for
/// loopback (`localhost`, `127.0.0.1`, `[::1]`), i.e. the emulator, so a token never crosses the
/// network in clear text. A trailing `/` or `/api` is accepted and dropped (paths are added by
/// [`crate::api`]); any other path, a query, a fragment or credentials are rejected.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BaseUrl {
    https: bool,
    host: String,
    port: Option<u16>,
    text: String,
}

/// Why a base URL was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BaseUrlError {
    /// Nothing given.
    #[error("API base URL is empty; use e.g. https://api.security.microsoft.com")]
    Empty,
    /// No `scheme://`.
    #[error("API base URL {input:?} has no scheme; start it with https://")]
    MissingScheme {
        /// The input.
        input: String,
    },
    /// A scheme other than http/https.
    #[error("API base URL uses the scheme {scheme:?}; only https is supported")]
    UnsupportedScheme {
        /// The scheme found.
        scheme: String,
    },
    /// `http` to a non-loopback host.
    #[error(
        "API base URL uses http for {host}; use https (plain http is only allowed for \
         localhost, 127.0.0.1 and [::1])"
    )]
    InsecureHttp {
        /// The host.
        host: String,
    },
    /// `user:pass@` in the URL.
    #[error("API base URL must not contain credentials (user@host); remove them")]
    Credentials,
    /// No host after the scheme.
    #[error("API base URL has no host name")]
    MissingHost,
    /// A host that is not a valid DNS name or IP literal.
    #[error("API base URL host {host:?} is invalid: {reason}")]
    InvalidHost {
        /// The host.
        host: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A port that is not 1–65535.
    #[error("API base URL port {port:?} is invalid; use a number from 1 to 65535")]
    InvalidPort {
        /// The port text.
        port: String,
    },
    /// A path other than `/` or `/api`.
    #[error("API base URL has the path {path:?}; give only the origin, e.g. https://host")]
    UnexpectedPath {
        /// The path.
        path: String,
    },
    /// A `?query` or `#fragment`.
    #[error("API base URL must not contain a query (?...) or fragment (#...)")]
    QueryOrFragment,
}

impl BaseUrl {
    /// Validates and normalises (lowercase scheme and host, default port dropped).
    pub fn parse(input: &str) -> Result<Self, BaseUrlError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(BaseUrlError::Empty);
        }
        let (scheme, rest) =
            input
                .split_once("://")
                .ok_or_else(|| BaseUrlError::MissingScheme {
                    input: input.to_owned(),
                })?;
        let https = if scheme.eq_ignore_ascii_case("https") {
            true
        } else if scheme.eq_ignore_ascii_case("http") {
            false
        } else {
            return Err(BaseUrlError::UnsupportedScheme {
                scheme: scheme.to_owned(),
            });
        };
        let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, remainder) = rest.split_at(split);
        if authority.contains('@') {
            return Err(BaseUrlError::Credentials);
        }
        let (host, port) = split_host_port(authority)?;
        validate_host(&host)?;
        let port = match port {
            None => None,
            Some(p) => match p.parse::<u16>() {
                Ok(0) | Err(_) => return Err(BaseUrlError::InvalidPort { port: p.to_owned() }),
                Ok(n) if (https && n == 443) || (!https && n == 80) => None,
                Ok(n) => Some(n),
            },
        };
        if remainder.contains(['?', '#']) {
            return Err(BaseUrlError::QueryOrFragment);
        }
        if !matches!(remainder, "" | "/" | "/api" | "/api/") {
            return Err(BaseUrlError::UnexpectedPath {
                path: remainder.to_owned(),
            });
        }
        let url = Self::build(https, host, port);
        if !url.https && !url.is_loopback() {
            return Err(BaseUrlError::InsecureHttp { host: url.host });
        }
        Ok(url)
    }

    fn build(https: bool, host: String, port: Option<u16>) -> Self {
        let scheme = if https { "https" } else { "http" };
        let text = match port {
            Some(p) => format!("{scheme}://{host}:{p}"),
            None => format!("{scheme}://{host}"),
        };
        Self {
            https,
            host,
            port,
            text,
        }
    }

    fn from_trusted_https_host(host: &str) -> Self {
        Self::build(true, host.to_owned(), None)
    }

    /// `scheme://host[:port]`, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The lowercase host (IPv6 literals keep their brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The explicit port, if not the scheme's default.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// Whether the scheme is https.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// Whether the host is `localhost`, `127.0.0.1` or `[::1]`.
    pub fn is_loopback(&self) -> bool {
        matches!(self.host.as_str(), "localhost" | "127.0.0.1" | "[::1]")
    }

    /// The documented host entry, if this is one.
    pub fn known_host(&self) -> Option<&'static KnownHost> {
        known_host(&self.host)
    }

    /// Whether an absolute URL (e.g. an `@odata.nextLink`) has this exact origin. Used so a
    /// bearer token is never sent to another origin.
    pub fn same_origin(&self, url: &str) -> bool {
        let Some((scheme, rest)) = url.split_once("://") else {
            return false;
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let origin = format!("{scheme}://{}", &rest[..end]);
        BaseUrl::parse(&origin).is_ok_and(|o| o == *self)
    }
}

fn split_host_port(authority: &str) -> Result<(String, Option<&str>), BaseUrlError> {
    if authority.is_empty() {
        return Err(BaseUrlError::MissingHost);
    }
    if let Some(rest) = authority.strip_prefix('[') {
        let close = rest.find(']').ok_or_else(|| BaseUrlError::InvalidHost {
            host: authority.to_owned(),
            reason: "an IPv6 literal must be closed with ']'",
        })?;
        let host = format!("[{}]", rest[..close].to_ascii_lowercase());
        let after = &rest[close + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => {
                return Err(BaseUrlError::InvalidHost {
                    host: authority.to_owned(),
                    reason: "unexpected text after the IPv6 literal",
                });
            }
        };
        return Ok((host, port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Ok((h.to_ascii_lowercase(), Some(p))),
        None => Ok((authority.to_ascii_lowercase(), None)),
    }
}

fn validate_host(host: &str) -> Result<(), BaseUrlError> {
    let bad = |reason| {
        Err(BaseUrlError::InvalidHost {
            host: host.to_owned(),
            reason,
        })
    };
    if host.is_empty() {
        return Err(BaseUrlError::MissingHost);
    }
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        if inner.is_empty()
            || !inner
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return bad("not a valid IPv6 address");
        }
        return Ok(());
    }
    if host.len() > 253 {
        return bad("longer than 253 characters");
    }
    for label in host.split('.') {
        if label.is_empty() {
            return bad("it has an empty label (two dots in a row, or a leading/trailing dot)");
        }
        if label.len() > 63 {
            return bad("a label is longer than 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return bad("only letters, digits, '-' and '.' are allowed");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return bad("a label starts or ends with '-'");
        }
    }
    Ok(())
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for BaseUrl {
    type Err = BaseUrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for BaseUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for BaseUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Where and how to call the API: the cloud, its base URL (global, regional or custom) and
/// the token scope to request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudConfig {
    /// The cloud.
    pub cloud: Cloud,
    /// The API origin.
    pub base_url: BaseUrl,
    /// The token scope to request.
    pub scope: String,
}

/// A token scope that cannot be right.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ScopeError {
    /// Empty or blank.
    #[error("token scope is empty; the default is {DEFAULT_SCOPE}")]
    Empty,
    /// Contains whitespace (scopes are space-separated in OAuth, so this would be two).
    #[error("token scope {scope:?} contains whitespace; give a single scope")]
    Whitespace {
        /// The scope given.
        scope: String,
    },
}

impl CloudConfig {
    /// The cloud's documented host and default scope.
    pub fn new(cloud: Cloud) -> Self {
        Self {
            cloud,
            base_url: cloud.base_url(),
            scope: cloud.default_scope().to_owned(),
        }
    }

    /// Uses another base URL (a regional host, a proxy, the emulator).
    pub fn with_base_url(mut self, base_url: BaseUrl) -> Self {
        self.base_url = base_url;
        self
    }

    /// Uses another token scope.
    pub fn with_scope(mut self, scope: &str) -> Result<Self, ScopeError> {
        let s = scope.trim();
        if s.is_empty() {
            return Err(ScopeError::Empty);
        }
        if s.chars().any(char::is_whitespace) {
            return Err(ScopeError::Whitespace {
                scope: s.to_owned(),
            });
        }
        self.scope = s.to_owned();
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalises() {
        let u = BaseUrl::parse("HTTPS://API.Security.Microsoft.com/api/").unwrap();
        assert_eq!(u.as_str(), "https://api.security.microsoft.com");
        assert_eq!(
            u.known_host().map(|k| k.generation),
            Some(HostGeneration::Current)
        );
        assert_eq!(
            BaseUrl::parse("https://x.example:443").unwrap().port(),
            None
        );
        assert_eq!(
            BaseUrl::parse("http://127.0.0.1:8080").unwrap().as_str(),
            "http://127.0.0.1:8080"
        );
        assert!(
            BaseUrl::parse("http://localhost:3000/")
                .unwrap()
                .is_loopback()
        );
        assert!(BaseUrl::parse("http://[::1]:9").unwrap().is_loopback());
    }

    #[test]
    fn each_bad_url_has_its_own_error() {
        let e = |s: &str| BaseUrl::parse(s).unwrap_err();
        assert_eq!(e(""), BaseUrlError::Empty);
        assert!(matches!(
            e("api.security.microsoft.com"),
            BaseUrlError::MissingScheme { .. }
        ));
        assert!(matches!(
            e("ftp://x.com"),
            BaseUrlError::UnsupportedScheme { .. }
        ));
        assert!(matches!(
            e("http://api.security.microsoft.com"),
            BaseUrlError::InsecureHttp { .. }
        ));
        assert!(matches!(
            e("http://10.0.0.1"),
            BaseUrlError::InsecureHttp { .. }
        ));
        assert_eq!(e("https://u:p@x.com"), BaseUrlError::Credentials);
        assert_eq!(e("https://"), BaseUrlError::MissingHost);
        assert!(matches!(
            e("https://bad_host.com"),
            BaseUrlError::InvalidHost { .. }
        ));
        assert!(matches!(
            e("https://a..b"),
            BaseUrlError::InvalidHost { .. }
        ));
        assert!(matches!(
            e("https://x.com:0"),
            BaseUrlError::InvalidPort { .. }
        ));
        assert!(matches!(
            e("https://x.com:http"),
            BaseUrlError::InvalidPort { .. }
        ));
        assert!(matches!(
            e("https://x.com/api/machines"),
            BaseUrlError::UnexpectedPath { .. }
        ));
        assert_eq!(e("https://x.com/?a=b"), BaseUrlError::QueryOrFragment);
    }

    #[test]
    fn messages_say_what_to_do() {
        let m = |s: &str| BaseUrl::parse(s).unwrap_err().to_string();
        assert!(m("http://evil.example").contains("use https"));
        assert!(m("api.security.microsoft.com").contains("start it with https://"));
        assert!(m("https://x.com:99999").contains("1 to 65535"));
    }

    #[test]
    fn same_origin_is_exact() {
        let u = BaseUrl::parse("https://api.security.microsoft.com").unwrap();
        assert!(u.same_origin("https://API.security.microsoft.com/api/machines?$skip=5"));
        assert!(!u.same_origin("https://api.security.microsoft.com.evil.io/api"));
        assert!(!u.same_origin("http://api.security.microsoft.com/api"));
        assert!(!u.same_origin("https://eu.api.security.microsoft.com/api"));
        assert!(!u.same_origin("/api/machines"));
    }

    #[test]
    fn clouds_and_regions() {
        assert_eq!(Cloud::Commercial.default_scope(), DEFAULT_SCOPE);
        assert_eq!(
            Cloud::GccHigh.base_url().as_str(),
            "https://api-gov.securitycenter.microsoft.us"
        );
        assert_eq!(Cloud::DoD.login_host(), "https://login.microsoftonline.us");
        for r in Region::ALL {
            assert_eq!(BaseUrl::parse(r.base_url().as_str()).unwrap(), r.base_url());
            assert_eq!(known_host(r.host()).and_then(|k| k.region), Some(r));
        }
        for k in KNOWN_HOSTS {
            assert!(
                BaseUrl::parse(&format!("https://{}", k.host)).is_ok(),
                "{}",
                k.host
            );
        }
        let c = CloudConfig::new(Cloud::Gcc)
            .with_scope(" https://x/.default ")
            .unwrap();
        assert_eq!(c.scope, "https://x/.default");
        assert_eq!(
            CloudConfig::new(Cloud::Gcc).with_scope(" "),
            Err(ScopeError::Empty)
        );
        assert!(matches!(
            CloudConfig::new(Cloud::Gcc).with_scope("a b"),
            Err(ScopeError::Whitespace { .. })
        ));
    }
}
