//! Advanced hunting through Microsoft Graph (`POST /v1.0/security/runHuntingQuery`): the sans-IO
//! request, the schema-typed response decoder, the machines a query found, the quota policy, and
//! where each tag of a machine comes from (docs/defender-api.md §14).
//!
//! Defender's own `POST /api/advancedqueries/run` is being retired, so only the Graph call is
//! modelled. Its token is a *Graph* token (`https://graph.microsoft.com/.default`, delegated
//! `ThreatHunting.Read.All`) and goes to the Graph origin only, never to the Defender API.

mod decode;
mod devices;
mod provenance;
#[cfg(test)]
mod tests;

use serde_json::Value;
use thiserror::Error;

use crate::api::{ApiRequest, Method};
use crate::throttle::{RateLimiter, RateLimits};

pub use decode::{
    Cell, Column, ColumnType, HuntingError, HuntingQuota, HuntingResult, decode_hunting_result,
};
pub use devices::{
    DEVICE_ID_COLUMN, DEVICE_NAME_COLUMN, DeviceColumnsError, HuntedDevice, HuntedDevices,
    SkipReason, SkippedRow,
};
pub use provenance::{
    DYNAMIC_TAGS_COLUMN, MANUAL_TAGS_COLUMN, MachineTagSources, PROVENANCE_CHUNK, ProvenanceError,
    REGISTRY_TAG_COLUMN, TagProvenance, TagSource, decode_provenance, parse_tag_list,
    provenance_queries, provenance_query,
};

/// Graph's path for the call (relative to the Graph origin, e.g. `https://graph.microsoft.com`).
pub const RUN_HUNTING_QUERY_PATH: &str = "/v1.0/security/runHuntingQuery";

/// The delegated Graph permission the call needs.
pub const HUNTING_PERMISSION: &str = "ThreatHunting.Read.All";

/// Days of data a hunting query sees (the service's documented lookback; older rows are simply
/// absent, so a query for "last 90 days" silently answers with 30).
pub const LOOKBACK_DAYS: u32 = 30;

/// Most rows one answer may carry (documented). More is refused by the decoder as
/// [`HuntingError::TooManyRows`]: the service truncates at this size, so a full answer may be
/// incomplete and tagging "the machines the query found" would silently miss some.
pub const MAX_ROWS: usize = 100_000;

/// Longest query we send, in characters. Microsoft documents no limit for the Graph call
/// (**our choice**): 10,000 keeps the request body small and still fits a provenance query
/// over [`PROVENANCE_CHUNK`] machine ids.
pub const MAX_QUERY_CHARS: usize = 10_000;

/// Largest answer body we decode, in bytes: the retired Defender hunting API documented a
/// 124 MB answer limit; we assume Graph's is the same (**unconfirmed**) and refuse anything
/// larger rather than hold it in a browser tab.
pub const MAX_RESPONSE_BYTES: usize = 124 * 1024 * 1024;

/// The hunting call budget: 45 calls per sliding minute and 1,500 per hour, per tenant — the
/// retired Defender hunting API's documented quota, which we assume carries over to Graph
/// (**unconfirmed**). It is separate from the machine endpoints' 100/min and 1,500/h, so a
/// hunting client keeps its own [`RateLimiter`]. The CPU quota (time the queries run, per
/// hour and per day) cannot be counted by a client; a 429 naming it is honoured through
/// `Retry-After` ([`RateLimiter::on_retry_after`]).
pub const HUNTING_LIMITS: RateLimits = RateLimits::HUNTING;

/// A fresh limiter for hunting calls ([`HUNTING_LIMITS`]).
pub fn hunting_rate_limiter() -> RateLimiter {
    RateLimiter::new(HUNTING_LIMITS)
}

/// A hunting query, checked once: not blank, at most [`MAX_QUERY_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HuntingQuery(String);

/// A query that cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HuntingQueryError {
    /// Empty or whitespace only.
    #[error("the hunting query is empty; type a KQL query such as `DeviceInfo | take 10`")]
    Empty,
    /// Longer than [`MAX_QUERY_CHARS`].
    #[error("the hunting query is {chars} characters long; at most {max} are sent")]
    TooLong {
        /// Its length.
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// A NUL character (no KQL text contains one; it is a paste gone wrong).
    #[error("the hunting query contains a NUL character at position {position}")]
    NulCharacter {
        /// 1-based character position.
        position: usize,
    },
}

impl HuntingQuery {
    /// Checks `text` (kept as typed: KQL is whitespace-insensitive, and trimming would move
    /// the positions of the service's syntax errors).
    pub fn parse(text: &str) -> Result<Self, HuntingQueryError> {
        if text.trim().is_empty() {
            return Err(HuntingQueryError::Empty);
        }
        let mut chars = 0;
        for (i, c) in text.chars().enumerate() {
            if c == '\0' {
                return Err(HuntingQueryError::NulCharacter { position: i + 1 });
            }
            chars += 1;
        }
        if chars > MAX_QUERY_CHARS {
            return Err(HuntingQueryError::TooLong {
                chars,
                max: MAX_QUERY_CHARS,
            });
        }
        Ok(Self(text.to_owned()))
    }

    /// The query text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `POST /v1.0/security/runHuntingQuery` with `{"Query": ...}`. Build the URL with
/// `request.url(&graph_base)`, where `graph_base` is the Graph origin (not the Defender API's).
pub fn run_hunting_query(query: &HuntingQuery) -> ApiRequest {
    // `Value::String` does the JSON escaping; the body is built by hand so it stays infallible.
    let body = format!("{{\"Query\":{}}}", Value::from(query.as_str()));
    ApiRequest {
        method: Method::Post,
        path: RUN_HUNTING_QUERY_PATH.to_owned(),
        query: Vec::new(),
        headers: vec![
            ("Accept".to_owned(), "application/json".to_owned()),
            ("Content-Type".to_owned(), "application/json".to_owned()),
        ],
        body: Some(body),
    }
}
