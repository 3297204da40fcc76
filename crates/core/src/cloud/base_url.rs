//! `BaseUrl`: the validated API origin, with an optional path prefix (an edge proxy mounted
//! under a path of a portal, `https://portal.contoso.com/defender`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use super::{KnownHost, known_host};

/// The origin of the API: `https://host[:port]`, validated. `http` is accepted only for
/// loopback (`localhost`, `127.0.0.1`, `[::1]`), i.e. the emulator, so a token never crosses the
/// network in clear text. A trailing `/` or `/api` is accepted and dropped (paths are added by
/// [`crate::api`]); a query, a fragment or credentials are rejected. [`BaseUrl::parse`] takes an
/// origin only; [`BaseUrl::parse_prefixed`] also a path prefix, kept in front of every request
/// path (`https://portal/defender` + `/api/machines`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BaseUrl {
    https: bool,
    host: String,
    port: Option<u16>,
    /// `""`, or the prefix without a trailing slash: `/defender`.
    prefix: String,
    /// `scheme://host[:port]`.
    origin: String,
    /// `origin` + `prefix`.
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
    /// A path prefix that is not plain segments.
    #[error("API base URL path {path:?} is not a usable prefix: {reason}")]
    InvalidPrefix {
        /// The path.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Longest accepted path prefix, in bytes.
const MAX_PREFIX: usize = 200;

impl BaseUrl {
    /// Validates and normalises an origin (lowercase scheme and host, default port dropped).
    pub fn parse(input: &str) -> Result<Self, BaseUrlError> {
        Self::parse_with(input, false)
    }

    /// Like [`BaseUrl::parse`], and a path prefix is allowed: plain segments of letters, digits
    /// and `-._~` (no `.`/`..`, no empty or percent-encoded segment), at most 200 bytes. A
    /// trailing `/` or `/api` is dropped as for an origin: `https://portal/defender/` and
    /// `https://portal/defender/api` both give the prefix `/defender`.
    pub fn parse_prefixed(input: &str) -> Result<Self, BaseUrlError> {
        Self::parse_with(input, true)
    }

    fn parse_with(input: &str, allow_prefix: bool) -> Result<Self, BaseUrlError> {
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
            // Digits only: `u16::from_str` would also take "+443".
            Some(p) if !p.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(BaseUrlError::InvalidPort { port: p.to_owned() });
            }
            Some(p) => match p.parse::<u16>() {
                Ok(0) | Err(_) => return Err(BaseUrlError::InvalidPort { port: p.to_owned() }),
                Ok(n) if (https && n == 443) || (!https && n == 80) => None,
                Ok(n) => Some(n),
            },
        };
        if remainder.contains(['?', '#']) {
            return Err(BaseUrlError::QueryOrFragment);
        }
        let prefix = if matches!(remainder, "" | "/" | "/api" | "/api/") {
            String::new()
        } else if allow_prefix {
            parse_prefix(remainder)?
        } else {
            return Err(BaseUrlError::UnexpectedPath {
                path: remainder.to_owned(),
            });
        };
        let mut url = Self::build(https, host, port);
        url.text.push_str(&prefix);
        url.prefix = prefix;
        if !url.https && !url.is_loopback() {
            return Err(BaseUrlError::InsecureHttp { host: url.host });
        }
        Ok(url)
    }

    fn build(https: bool, host: String, port: Option<u16>) -> Self {
        let scheme = if https { "https" } else { "http" };
        let origin = match port {
            Some(p) => format!("{scheme}://{host}:{p}"),
            None => format!("{scheme}://{host}"),
        };
        Self {
            https,
            host,
            port,
            prefix: String::new(),
            text: origin.clone(),
            origin,
        }
    }

    pub(super) fn from_trusted_https_host(host: &str) -> Self {
        Self::build(true, host.to_owned(), None)
    }

    /// `scheme://host[:port]` and the path prefix, if any, without a trailing slash: request
    /// paths (`/api/...`) are appended to it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `scheme://host[:port]`, without the path prefix.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The path prefix (`/defender`), or `""`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `path` (`/defender/api/machines`) without this base's prefix (`/api/machines`); `None`
    /// when it is not under the prefix.
    pub fn strip_prefix<'a>(&self, path: &'a str) -> Option<&'a str> {
        let rest = path.strip_prefix(self.prefix.as_str())?;
        (rest.is_empty() || rest.starts_with('/')).then_some(rest)
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
        BaseUrl::parse(&origin).is_ok_and(|o| o.origin == self.origin)
    }
}

/// The normalised path prefix of `path` (which is not `""`, `/` or `/api[/]`).
fn parse_prefix(path: &str) -> Result<String, BaseUrlError> {
    let bad = |reason| {
        Err(BaseUrlError::InvalidPrefix {
            path: path.to_owned(),
            reason,
        })
    };
    if path.len() > MAX_PREFIX {
        return bad("longer than 200 characters");
    }
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    let trimmed = trimmed.strip_suffix("/api").unwrap_or(trimmed);
    let Some(segments) = trimmed.strip_prefix('/') else {
        return bad("it must start with '/'");
    };
    for segment in segments.split('/') {
        if segment.is_empty() {
            return bad("it has an empty segment ('//')");
        }
        if segment == "." || segment == ".." {
            return bad("'.' and '..' segments are not allowed");
        }
        if !segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
        {
            return bad("only letters, digits, '-', '.', '_' and '~' are allowed in its segments");
        }
    }
    Ok(trimmed.to_owned())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::HostGeneration;

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
    fn a_prefix_is_kept_only_where_allowed() {
        let u = BaseUrl::parse_prefixed("HTTPS://Portal.Contoso.com/defender/").unwrap();
        assert_eq!(u.as_str(), "https://portal.contoso.com/defender");
        assert_eq!(u.origin(), "https://portal.contoso.com");
        assert_eq!(u.prefix(), "/defender");
        assert_eq!(
            BaseUrl::parse_prefixed("https://p.example/a/b-c/api/")
                .unwrap()
                .as_str(),
            "https://p.example/a/b-c"
        );
        // Without a path both parsers agree.
        assert_eq!(
            BaseUrl::parse_prefixed("https://x.com/api"),
            BaseUrl::parse("https://x.com/api")
        );
        assert_eq!(BaseUrl::parse("https://x.com").unwrap().prefix(), "");
        // The origin parser still refuses any path.
        assert!(matches!(
            BaseUrl::parse("https://portal.contoso.com/defender"),
            Err(BaseUrlError::UnexpectedPath { .. })
        ));
        assert!(u.same_origin("https://portal.contoso.com/defender/api/machines"));
        assert!(u.same_origin("https://portal.contoso.com/api/machines"));
        assert_eq!(u.strip_prefix("/defender/api/x"), Some("/api/x"));
        assert_eq!(u.strip_prefix("/defenders/api/x"), None);
        assert_eq!(u.strip_prefix("/api/x"), None);
    }

    #[test]
    fn bad_prefixes_are_refused_with_the_reason() {
        let e = |s: &str| match BaseUrl::parse_prefixed(s) {
            Err(BaseUrlError::InvalidPrefix { reason, .. }) => reason,
            other => panic!("{s}: {other:?}"),
        };
        assert!(e("https://x.com/a//b").contains("empty segment"));
        assert!(e("https://x.com/a/../b").contains("'..'"));
        assert!(e("https://x.com/a/./b").contains("'.'"));
        assert!(e("https://x.com/a%2Fb").contains("only letters"));
        assert!(e("https://x.com/a b").contains("only letters"));
        assert!(e(&format!("https://x.com/{}", "a".repeat(201))).contains("200"));
        assert_eq!(
            BaseUrl::parse_prefixed("https://x.com/a?b"),
            Err(BaseUrlError::QueryOrFragment)
        );
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
}
