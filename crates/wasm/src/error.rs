//! Errors of the client. None of them ever carries a token: tokens are not in URLs, bodies or
//! runtime error messages, and `TokenError` holds only the provider's own message.

use defender_tags_core::api::ApiError;
use defender_tags_core::hunting::HuntingError;
use defender_tags_core::throttle::RetryAfter;

use crate::token::TokenError;
use crate::transport::TransportError;

/// Why a client call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The API answered with an error (after any retries and the one token refresh).
    #[error(transparent)]
    Api(ApiError),
    /// The token provider failed.
    #[error(transparent)]
    Token(TokenError),
    /// No HTTP response: connection, DNS, CORS or TLS failure (after retries).
    #[error("network error: {message}")]
    Network {
        /// The runtime's message (`Failed to fetch`, ...).
        message: String,
    },
    /// The browser refused the call because the API does not allow this page's origin (CORS).
    /// Not retried: only an edge proxy (or the API allowing the origin) fixes it.
    #[error(
        "the API at {api_origin} does not allow calls from this page's origin {page_origin} (CORS); \
         deploy the edge proxy and point the API base URL at it (docs/deploy.md)"
    )]
    CorsRefused {
        /// The API origin that refused.
        api_origin: String,
        /// The calling page's origin.
        page_origin: String,
    },
    /// No complete response within the per-request timeout (after retries).
    #[error("no response from the API within {after_ms} ms")]
    Timeout {
        /// The per-request timeout.
        after_ms: u32,
    },
    /// The caller aborted. `last_error` is the failure being retried when the abort came, if any.
    #[error("aborted")]
    Aborted {
        /// The retryable failure the client was waiting to retry.
        last_error: Option<Box<ClientError>>,
    },
    /// A URL (for example an `@odata.nextLink`) pointed outside the configured API origin; the
    /// token was not sent there.
    #[error("refused to send the token to {url}: it is not on the API origin {api_origin}")]
    ForeignOrigin {
        /// The refused URL, without its query.
        url: String,
        /// The configured API origin.
        api_origin: String,
    },
    /// A write whose last attempt failed in a way that says nothing was applied (a 429, a 401,
    /// a token failure, an abort) after an earlier attempt that may have applied it (a timeout,
    /// a dropped connection, a 5xx). The earlier attempt decides: the change may be in place.
    /// `code`, `status` and `retry_after_secs` are those of the last failure.
    #[error(
        "{last_error}; an earlier attempt may nevertheless have applied the change ({earlier})"
    )]
    AfterUncertain {
        /// How the last attempt failed.
        last_error: Box<ClientError>,
        /// The earlier attempt's failure that may have applied the change.
        earlier: Box<ClientError>,
    },
    /// Advanced hunting (Microsoft Graph) failed, or its answer cannot be used.
    #[error(transparent)]
    Hunting(HuntingError),
    /// A caller-supplied value (tag, machine id, option) is invalid; nothing was sent.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// Which input.
        field: String,
        /// Why, from core's validation error.
        reason: String,
    },
}

impl From<TransportError> for ClientError {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::Network(message) => Self::Network { message },
            TransportError::Timeout { after_ms } => Self::Timeout { after_ms },
            TransportError::CorsRefused {
                api_origin,
                page_origin,
            } => Self::CorsRefused {
                api_origin,
                page_origin,
            },
        }
    }
}

impl ClientError {
    /// Builds an [`InvalidInput`](Self::InvalidInput) from a core validation error.
    pub fn invalid(field: &str, reason: impl std::fmt::Display) -> Self {
        Self::InvalidInput {
            field: field.to_owned(),
            reason: reason.to_string(),
        }
    }

    /// A [`ForeignOrigin`](Self::ForeignOrigin) for `url` (query dropped: it is not ours).
    pub fn foreign_origin(url: &str, api_origin: &str) -> Self {
        let shown = url.split(['?', '#']).next().unwrap_or_default();
        Self::ForeignOrigin {
            url: shown.chars().take(200).collect(),
            api_origin: api_origin.to_owned(),
        }
    }

    /// The failure that ended the call: itself, or the last attempt's failure of an
    /// [`AfterUncertain`](Self::AfterUncertain).
    pub fn last(&self) -> &ClientError {
        match self {
            Self::AfterUncertain { last_error, .. } => last_error.last(),
            other => other,
        }
    }

    /// `last` for a write after `earlier`, the first of its attempts that may have applied it
    /// (if any): `last` as is when it says as much itself, else wrapped so the possibility is
    /// not lost.
    pub(crate) fn after(last: ClientError, earlier: Option<&ClientError>) -> Self {
        match earlier {
            Some(earlier) if !last.may_have_applied() => Self::AfterUncertain {
                last_error: Box::new(last),
                earlier: Box::new(earlier.clone()),
            },
            _ => last,
        }
    }

    /// A stable, documented machine-readable code (the `code` of JS errors).
    pub fn code(&self) -> &'static str {
        match self {
            Self::AfterUncertain { last_error, .. } => last_error.code(),
            Self::Api(e) => api_code(e),
            Self::Hunting(e) => hunting_code(e),
            Self::Token(_) => "token_unavailable",
            Self::Network { .. } => "network",
            Self::CorsRefused { .. } => "cors_refused",
            Self::Timeout { .. } => "timeout",
            Self::Aborted { .. } => "aborted",
            Self::ForeignOrigin { .. } => "foreign_origin",
            Self::InvalidInput { .. } => "invalid_input",
        }
    }

    /// The HTTP status, when the API answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api(e) => Some(e.status()),
            Self::Hunting(e) => Some(e.status()),
            Self::AfterUncertain { last_error, .. } => last_error.status(),
            _ => None,
        }
    }

    /// Retry-After of a 429, in seconds, when the API sent one.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::AfterUncertain { last_error, .. } => last_error.retry_after_secs(),
            Self::Api(e) => e.retry_after().and_then(|r| match r {
                RetryAfter::Seconds(s) => Some(s),
                RetryAfter::At(_) => None,
            }),
            Self::Hunting(e) => e.retry_after().and_then(|r| match r {
                RetryAfter::Seconds(s) => Some(s),
                RetryAfter::At(_) => None,
            }),
            _ => None,
        }
    }

    /// True when a write that ended with this error may nevertheless have been applied: the
    /// request may have reached the API (timeout, network error, 5xx, an unreadable success),
    /// on the last attempt or an earlier one.
    pub fn may_have_applied(&self) -> bool {
        match self {
            Self::Network { .. } | Self::Timeout { .. } | Self::AfterUncertain { .. } => true,
            Self::Api(e) => e.status() >= 500 || (200..300).contains(&e.status()),
            Self::Aborted { last_error } => {
                last_error.as_ref().is_some_and(|e| e.may_have_applied())
            }
            // A refused preflight means the request itself was never sent; a hunting query
            // changes nothing.
            Self::Hunting(_)
            | Self::Token(_)
            | Self::ForeignOrigin { .. }
            | Self::InvalidInput { .. }
            | Self::CorsRefused { .. } => false,
        }
    }
}

fn api_code(e: &ApiError) -> &'static str {
    match e {
        ApiError::Unauthorized { .. } => "unauthorized",
        ApiError::Forbidden { .. } => "forbidden",
        ApiError::NotFound { .. } => "not_found",
        ApiError::BadRequest { .. } => "bad_request",
        ApiError::TooManyRequests { .. } => "too_many_requests",
        ApiError::Server { .. } => "server_error",
        ApiError::UnexpectedStatus { .. } => "unexpected_status",
        ApiError::Undecodable { .. } => "undecodable",
        _ => "api_error",
    }
}

fn hunting_code(e: &HuntingError) -> &'static str {
    match e {
        HuntingError::BadQuery { .. } => "bad_query",
        HuntingError::Unauthorized { .. } => "unauthorized",
        HuntingError::MissingPermission { .. } => "forbidden",
        HuntingError::Throttled { .. } => "too_many_requests",
        HuntingError::Server { .. } => "server_error",
        HuntingError::UnexpectedStatus { .. } => "unexpected_status",
        HuntingError::Undecodable { .. } => "undecodable",
        HuntingError::TooManyRows { .. } => "too_many_rows",
        HuntingError::ResponseTooLarge { .. } => "response_too_large",
        _ => "api_error",
    }
}

/// Every `code` a [`ClientError`] can carry: the JS `DefenderError.code` union
/// (`DefenderErrorCode` in js/types.rs). Tests keep the three in step: this list, the literals of
/// [`ClientError::code`] and the TypeScript union.
pub const ERROR_CODES: [&str; 19] = [
    "unauthorized",
    "forbidden",
    "not_found",
    "bad_request",
    "too_many_requests",
    "server_error",
    "unexpected_status",
    "undecodable",
    "api_error",
    "token_unavailable",
    "network",
    "cors_refused",
    "timeout",
    "aborted",
    "foreign_origin",
    "invalid_input",
    "bad_query",
    "too_many_rows",
    "response_too_large",
];

#[cfg(test)]
mod code_tests {
    use super::ERROR_CODES;
    use std::collections::BTreeSet;

    /// The string literals returned by the arms of `fn code` and `fn api_code` in this file.
    fn literals_in(source: &str, function: &str) -> BTreeSet<String> {
        let start = source.find(function).expect("function in source");
        let body = &source[start..];
        let end = body
            .find("\n    }\n")
            .or_else(|| body.find("\n}\n"))
            .expect("end");
        body[..end]
            .lines()
            .filter_map(|l| l.split("=> \"").nth(1))
            .filter_map(|rest| rest.split('"').next())
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn the_code_list_matches_the_code_functions() {
        let source = include_str!("error.rs");
        let mut used = literals_in(source, "pub fn code(&self)");
        used.extend(literals_in(source, "fn api_code(e: &ApiError)"));
        used.extend(literals_in(source, "fn hunting_code(e: &HuntingError)"));
        let listed: BTreeSet<String> = ERROR_CODES.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(used, listed, "ERROR_CODES and the code() arms differ");
        assert!(used.len() >= 15, "parsed too few codes: {used:?}");
    }

    #[test]
    fn the_typescript_union_lists_every_code() {
        let ts = include_str!("js/types.rs");
        let line = ts
            .lines()
            .find(|l| l.starts_with("export type DefenderErrorCode ="))
            .expect("DefenderErrorCode in js/types.rs");
        let union: BTreeSet<String> = line
            .split('"')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect();
        let listed: BTreeSet<String> = ERROR_CODES.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(union, listed, "the TypeScript union and ERROR_CODES differ");
    }
}
