//! Response decoding: `(status, headers, body)` into the typed result or an [`ApiError`].

use serde::de::DeserializeOwned;
use thiserror::Error;

use crate::model::{ListedMachine, Machine, TaggedMachine};
use crate::throttle::RetryAfter;
use crate::wire::{ErrorBody, ErrorEnvelope, ODataList};

/// A failed API call, by what the caller should do about it. Each variant carries the
/// service's `{"error":{code,message,target}}` when it sent one (`target` is the correlation
/// id to quote to Microsoft support).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ApiError {
    /// 401: no, invalid or expired token.
    #[error(
        "unauthorized (401): the access token is missing, invalid or expired; sign in again{}",
        suffix(.details)
    )]
    Unauthorized {
        /// The service's error, if any.
        details: Option<ErrorBody>,
    },
    /// 403: valid token, not allowed.
    #[error(
        "forbidden (403): the token lacks a permission (tag changes need Machine.ReadWrite or \
         Machine.ReadWrite.All and access to the machine's device group), or was issued for \
         another audience (request https://api.securitycenter.microsoft.com/.default){}",
        suffix(.details)
    )]
    Forbidden {
        /// The service's error, if any.
        details: Option<ErrorBody>,
    },
    /// 404: no such machine (or outside retention, or not visible to this user).
    #[error(
        "not found (404): no such machine, or it is outside the retention period or not in a \
         device group you can see{}",
        suffix(.details)
    )]
    NotFound {
        /// The service's error, if any.
        details: Option<ErrorBody>,
    },
    /// 400: the service rejected the request (bad filter, body, batch size...).
    #[error("bad request (400): the service rejected the request{}", suffix(.details))]
    BadRequest {
        /// The service's error, if any.
        details: Option<ErrorBody>,
    },
    /// 429: rate limit (100 calls/min, 1,500 calls/h per app+tenant) or CPU quota.
    #[error(
        "too many requests (429): the API's rate limit was reached; {}{}",
        match .retry_after {
            Some(r) => format!("retry after {r}"),
            None => "wait before retrying".to_owned(),
        },
        suffix(.details)
    )]
    TooManyRequests {
        /// The `Retry-After` header, when present and readable.
        retry_after: Option<RetryAfter>,
        /// The service's error, if any.
        details: Option<ErrorBody>,
    },
    /// 5xx: the service failed; the docs say to retry.
    #[error("server error ({status}): the service failed temporarily; try again{}", suffix(.details))]
    Server {
        /// The status code.
        status: u16,
        /// The service's error, if any.
        details: Option<ErrorBody>,
    },
    /// Any other non-success status.
    #[error("unexpected HTTP status {status} from the API{}", suffix(.details))]
    UnexpectedStatus {
        /// The status code.
        status: u16,
        /// The service's error, if any.
        details: Option<ErrorBody>,
    },
    /// A success status whose body is not what the endpoint returns.
    #[error("the API's response (HTTP {status}) could not be read: {reason}")]
    Undecodable {
        /// The status code.
        status: u16,
        /// What was wrong.
        reason: String,
    },
}

fn suffix(details: &Option<ErrorBody>) -> String {
    let Some(d) = details else {
        return String::new();
    };
    let mut s = String::from("; the service said: ");
    if !d.code.is_empty() {
        s.push_str(&d.code);
        if !d.message.is_empty() {
            s.push_str(": ");
        }
    }
    s.push_str(&d.message);
    if let Some(t) = d.target.as_deref().filter(|t| !t.is_empty()) {
        s.push_str(" (correlation id ");
        s.push_str(t);
        s.push(')');
    }
    s
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Unauthorized { .. } => 401,
            ApiError::Forbidden { .. } => 403,
            ApiError::NotFound { .. } => 404,
            ApiError::BadRequest { .. } => 400,
            ApiError::TooManyRequests { .. } => 429,
            ApiError::Server { status, .. }
            | ApiError::UnexpectedStatus { status, .. }
            | ApiError::Undecodable { status, .. } => *status,
        }
    }

    /// The service's error details, if it sent any.
    pub fn details(&self) -> Option<&ErrorBody> {
        match self {
            ApiError::Unauthorized { details }
            | ApiError::Forbidden { details }
            | ApiError::NotFound { details }
            | ApiError::BadRequest { details }
            | ApiError::TooManyRequests { details, .. }
            | ApiError::Server { details, .. }
            | ApiError::UnexpectedStatus { details, .. } => details.as_ref(),
            ApiError::Undecodable { .. } => None,
        }
    }

    /// The service's error code (e.g. `ResourceNotFound`), if it sent one.
    pub fn code(&self) -> Option<&str> {
        self.details()
            .map(|d| d.code.as_str())
            .filter(|c| !c.is_empty())
    }

    /// The `Retry-After` of a 429.
    pub fn retry_after(&self) -> Option<RetryAfter> {
        match self {
            ApiError::TooManyRequests { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Finds a header case-insensitively.
pub fn header<'a, K, V>(headers: &'a [(K, V)], name: &str) -> Option<&'a str>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    headers
        .iter()
        .find(|(k, _)| k.as_ref().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_ref())
}

pub(crate) fn error_details(body: &[u8]) -> Option<ErrorBody> {
    if let Ok(env) = serde_json::from_slice::<ErrorEnvelope>(body) {
        return Some(env.error);
    }
    // Not the documented envelope (e.g. an HTML page from a gateway): keep a readable snippet.
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let snippet: String = text.chars().take(300).collect();
    Some(ErrorBody {
        code: String::new(),
        message: snippet,
        target: None,
    })
}

/// Maps a non-2xx response to its [`ApiError`].
pub fn decode_error<K, V>(status: u16, headers: &[(K, V)], body: &[u8]) -> ApiError
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let details = error_details(body);
    match status {
        400 => ApiError::BadRequest { details },
        401 => ApiError::Unauthorized { details },
        403 => ApiError::Forbidden { details },
        404 => ApiError::NotFound { details },
        429 => ApiError::TooManyRequests {
            retry_after: header(headers, "retry-after").and_then(|v| RetryAfter::parse(v).ok()),
            details,
        },
        500..=599 => ApiError::Server { status, details },
        _ => ApiError::UnexpectedStatus { status, details },
    }
}

fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

fn decode_json<T: DeserializeOwned>(status: u16, body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::Undecodable {
        status,
        reason: e.to_string(),
    })
}

/// Decodes `GET /api/machines`. A 404 is an empty list: the docs say the endpoint answers 404
/// "if there are no recent machines".
pub fn decode_list_machines<K, V>(
    status: u16,
    headers: &[(K, V)],
    body: &[u8],
) -> Result<ODataList<Machine>, ApiError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    decode_listing(status, headers, body)
}

/// Decodes `GET /api/machines` keeping only what a listing shows ([`ListedMachine`]): the
/// same as [`decode_list_machines`] followed by [`keep_listed_fields`] on every machine, with
/// the other fields skipped in the text instead of decoded.
///
/// [`keep_listed_fields`]: crate::model::keep_listed_fields
pub fn decode_list_machines_listed<K, V>(
    status: u16,
    headers: &[(K, V)],
    body: &[u8],
) -> Result<ODataList<Machine>, ApiError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let list: ODataList<ListedMachine> = decode_listing(status, headers, body)?;
    Ok(ODataList {
        context: list.context,
        value: list.value.into_iter().map(|m| m.0).collect(),
        next_link: list.next_link,
    })
}

/// A machines listing in either shape; 404 is the empty list.
fn decode_listing<T: DeserializeOwned, K, V>(
    status: u16,
    headers: &[(K, V)],
    body: &[u8],
) -> Result<ODataList<T>, ApiError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    if status == 404 {
        return Ok(ODataList::default());
    }
    if !is_success(status) {
        return Err(decode_error(status, headers, body));
    }
    decode_json(status, body)
}

/// Decodes one machine: `GET /api/machines/{id}` and `POST /api/machines/{id}/tags`.
pub fn decode_machine<K, V>(
    status: u16,
    headers: &[(K, V)],
    body: &[u8],
) -> Result<Machine, ApiError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    decode_entity(status, headers, body)
}

/// Decodes a machine collection whose envelope is unconfirmed: `findbytag` and the bulk tag
/// call. Accepts a bare array or an `{"value": [...]}` envelope; an empty body decodes as no
/// machines (the bulk response shape is undocumented, so re-read machines to verify).
pub fn decode_machines<K, V>(
    status: u16,
    headers: &[(K, V)],
    body: &[u8],
) -> Result<Vec<Machine>, ApiError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    decode_collection(status, headers, body)
}

/// Decodes the bulk tag call's answer as [`TaggedMachine`]s (id and tags only): what a bulk run
/// needs to report each machine, without the cost of full [`Machine`]s. Same envelopes, empty
/// body and errors as [`decode_machines`]; a malformed answer (bad JSON, an entry without a valid
/// `id`, `machineTags` not a list of strings) is [`ApiError::Undecodable`] as a whole, never a
/// partial list.
pub fn decode_tagged_machines<K, V>(
    status: u16,
    headers: &[(K, V)],
    body: &[u8],
) -> Result<Vec<TaggedMachine>, ApiError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    decode_collection(status, headers, body)
}

/// Decodes the single tag call's answer (`POST /api/machines/{id}/tags`) as a
/// [`TaggedMachine`], like [`decode_machine`] but reading only the id and tags.
pub fn decode_tagged_machine<K, V>(
    status: u16,
    headers: &[(K, V)],
    body: &[u8],
) -> Result<TaggedMachine, ApiError>
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    decode_entity(status, headers, body)
}

/// One JSON entity from a 2xx answer, else the typed error.
fn decode_entity<T, K, V>(status: u16, headers: &[(K, V)], body: &[u8]) -> Result<T, ApiError>
where
    T: DeserializeOwned,
    K: AsRef<str>,
    V: AsRef<str>,
{
    if !is_success(status) {
        return Err(decode_error(status, headers, body));
    }
    decode_json(status, body)
}

fn decode_collection<T, K, V>(
    status: u16,
    headers: &[(K, V)],
    body: &[u8],
) -> Result<Vec<T>, ApiError>
where
    T: DeserializeOwned,
    K: AsRef<str>,
    V: AsRef<str>,
{
    if !is_success(status) {
        return Err(decode_error(status, headers, body));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        decode_json(status, body)
    } else {
        decode_json::<ODataList<T>>(status, body).map(|l| l.value)
    }
}
