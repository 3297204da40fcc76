//! The Defender API under `/api` (and `/api/v1.0`): routing (case-insensitive, as ASP.NET
//! routes are), fault injection, token checks, rate limits, statistics.

mod device_value;
mod errors;
mod machines;
mod odata;
mod tags;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use serde::Serialize;

pub use errors::ApiError;

use crate::auth::personas::PersonaKind;
use crate::auth::tokens::{self, Caller, TokenError};
use crate::faults::Fault;
use crate::ratelimit::RateKey;
use crate::server::DropConnection;
use crate::state::{AppState, Scope, TenantData};
use crate::web;

/// The content type of the real service's JSON answers (docs/defender-api.md §1 capture).
pub const ODATA_CONTENT_TYPE: &str =
    "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8";

/// The rate-limited, counted endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /api/machines`.
    List,
    /// `GET /api/machines/{id}`.
    Get,
    /// `GET /api/machines/findbytag`.
    FindByTag,
    /// `POST /api/machines/{id}/tags`.
    Tag,
    /// `POST /api/machines/AddOrRemoveTagForMultipleMachines`.
    Bulk,
    /// `POST /api/machines/{id}/setDeviceValue`.
    DeviceValue,
    /// Anything else under `/api`.
    Unknown,
}

impl Endpoint {
    /// Name used in stats and rate-limit keys.
    pub fn name(self) -> &'static str {
        match self {
            Self::List => "listMachines",
            Self::Get => "getMachine",
            Self::FindByTag => "findByTag",
            Self::Tag => "tagMachine",
            Self::Bulk => "bulkTagMachines",
            Self::DeviceValue => "setDeviceValue",
            Self::Unknown => "unknown",
        }
    }

    fn method(self) -> Method {
        match self {
            Self::Tag | Self::Bulk | Self::DeviceValue => Method::POST,
            _ => Method::GET,
        }
    }

    fn writes(self) -> bool {
        matches!(self, Self::Tag | Self::Bulk | Self::DeviceValue)
    }
}

/// A parsed `/api` path.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Route {
    endpoint: Endpoint,
    /// The id or computer name segment, percent-decoded.
    key: Option<String>,
    /// `/api` or `/api/v1.0` as the client wrote it (kept in `@odata.nextLink`).
    prefix: String,
}

/// Parses a path that starts with `/api` (any case).
fn route(path: &str) -> Route {
    let rest = &path[path.len().min(4)..];
    let mut segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let mut prefix = "/api".to_owned();
    if segs.first().is_some_and(|s| s.eq_ignore_ascii_case("v1.0")) {
        prefix = "/api/v1.0".to_owned();
        segs.remove(0);
    }
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    let is = |s: &str, lit: &str| s.eq_ignore_ascii_case(lit);
    let (endpoint, key) = match segs.as_slice() {
        [m] if is(m, "machines") => (Endpoint::List, None),
        [m, f] if is(m, "machines") && is(f, "findbytag") => (Endpoint::FindByTag, None),
        [m, b] if is(m, "machines") && is(b, "AddOrRemoveTagForMultipleMachines") => {
            (Endpoint::Bulk, None)
        }
        [m, id] if is(m, "machines") => (Endpoint::Get, Some(decode(id))),
        [m, id, t] if is(m, "machines") && is(t, "tags") => (Endpoint::Tag, Some(decode(id))),
        [m, id, v] if is(m, "machines") && is(v, "setDeviceValue") => {
            (Endpoint::DeviceValue, Some(decode(id)))
        }
        _ => (Endpoint::Unknown, None),
    };
    Route {
        endpoint,
        key,
        prefix,
    }
}

/// Whether a path belongs to the API (`/api` or `/api/...`, any case).
pub fn is_api_path(path: &str) -> bool {
    let b = path.as_bytes();
    b.len() >= 4 && b[..4].eq_ignore_ascii_case(b"/api") && (b.len() == 4 || b[4] == b'/')
}

/// Request facts the handlers need.
pub(crate) struct Ctx<'a> {
    pub st: &'a AppState,
    /// The caller's tenant (its token's `tid`): the only machines it can read or change.
    pub tenant: &'a TenantData,
    pub scope: Scope,
    pub uri: &'a Uri,
    pub origin: String,
    pub prefix: String,
}

/// Entry point for every `/api` request.
pub async fn dispatch(
    State(st): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let r = route(uri.path());
    let endpoint = r.endpoint;
    let resp = match handle(&st, &method, &uri, &headers, body, r).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    };
    if resp.extensions().get::<DropConnection>().is_some() {
        st.stats.record_drop(endpoint.name());
    } else {
        st.stats.record(endpoint.name(), resp.status().as_u16());
    }
    resp
}

async fn handle(
    st: &Arc<AppState>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    r: Route,
) -> Result<Response, ApiError> {
    let endpoint = r.endpoint;
    if endpoint == Endpoint::Unknown {
        return Err(ApiError::general_not_found(format!(
            "No API resource matches {}. Supported: /api/machines, /api/machines/{{id}}, \
             /api/machines/findbytag, /api/machines/{{id}}/tags, /api/machines/{{id}}/setDeviceValue, \
             /api/machines/AddOrRemoveTagForMultipleMachines",
            uri.path()
        )));
    }
    if *method != endpoint.method() {
        return Err(ApiError::method_not_allowed(format!(
            "The requested resource does not support http method '{method}'."
        )));
    }

    let drawn = st
        .faults
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .draw(*method == Method::POST);
    if let Some(d) = drawn.slow {
        tokio::time::sleep(d).await;
    }
    match drawn.fault {
        Some(Fault::Drop) => return Ok(dropped()),
        Some(Fault::Error500) => {
            return Err(ApiError::internal(
                "An internal error occurred (injected fault). Retry the operation.",
            ));
        }
        Some(Fault::Error503) => {
            return Err(ApiError::unavailable(
                "The service is temporarily unavailable (injected fault). Retry the operation.",
            ));
        }
        Some(Fault::Throttle(secs)) => {
            let real_ms = ceil_ms(st.limiter.real_duration(secs));
            return Err(ApiError::too_many(
                secs,
                real_ms,
                "Rate limit is exceeded (injected fault). Try again later.",
            ));
        }
        Some(Fault::ExpireToken) => {
            return Err(ApiError::unauthorized(
                "the token is expired (injected fault)",
            ));
        }
        Some(Fault::DropAfter | Fault::Error500After | Fault::Error503After) | None => {}
    }

    let resp = process(st, uri, headers, body, r)?;
    // The faults after processing strike only a request that succeeded: its change is in
    // place, and the caller is left not knowing it.
    if !resp.status().is_success() {
        return Ok(resp);
    }
    let after = drawn.fault.filter(|f| f.strikes_after());
    if drawn.slow_after.is_some() || after.is_some() {
        st.stats.record_fault_after(endpoint.name());
    }
    if let Some(d) = drawn.slow_after {
        tokio::time::sleep(d).await;
    }
    match after {
        Some(Fault::DropAfter) => Ok(dropped()),
        Some(Fault::Error500After) => Err(ApiError::internal(
            "An internal error occurred (injected fault, after the request was processed). \
             Retry the operation.",
        )),
        Some(Fault::Error503After) => Err(ApiError::unavailable(
            "The service is temporarily unavailable (injected fault, after the request was \
             processed). Retry the operation.",
        )),
        _ => Ok(resp),
    }
}

/// An empty answer the accept loop turns into a closed connection.
fn dropped() -> Response {
    let mut resp = ().into_response();
    resp.extensions_mut().insert(DropConnection);
    resp
}

/// Authentication, rate limits, authorisation and the endpoint itself: everything a request
/// goes through once no fault stopped it first.
fn process(
    st: &Arc<AppState>,
    uri: &Uri,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    r: Route,
) -> Result<Response, ApiError> {
    let endpoint = r.endpoint;
    let caller = authenticate(st, headers)?;

    let key = RateKey {
        tenant: caller.tenant.clone(),
        app: caller.app.clone(),
        endpoint: endpoint.name(),
    };
    if let Err(limited) = st.limiter.check(&key, Instant::now()) {
        let real_ms = ceil_ms(limited.real_wait).max(1);
        let window = match limited.window {
            crate::ratelimit::Window::Minute => "100 calls per minute",
            crate::ratelimit::Window::Hour => "1500 calls per hour",
        };
        return Err(ApiError::too_many(
            limited.retry_after_secs,
            real_ms,
            format!(
                "Rate limit is exceeded ({window} for this application and endpoint). Try again in {} seconds.",
                limited.retry_after_secs
            ),
        ));
    }

    st.stats.record_accepted(crate::stats::AcceptedCall {
        endpoint: endpoint.name(),
        tenant: caller.tenant.clone(),
        app: caller.app.clone(),
        at_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
    });
    authorize(&caller, endpoint)?;

    let Some(tenant) = st.tenant(&caller.tenant) else {
        // verify() accepts only served tenants; kept as an answer rather than a panic.
        return Err(ApiError::unauthorized(&format!(
            "unknown tenant {:?}",
            caller.tenant
        )));
    };
    let host = web::host(headers);
    let ctx = Ctx {
        st,
        tenant,
        scope: Scope::new(caller.groups),
        uri,
        origin: st.api_origin(host.as_deref()),
        prefix: r.prefix,
    };
    match endpoint {
        Endpoint::List => machines::list(&ctx),
        Endpoint::Get => machines::get(&ctx, r.key.as_deref().unwrap_or_default()),
        Endpoint::FindByTag => machines::find_by_tag(&ctx),
        Endpoint::Tag => {
            let body = json_body(headers, body)?;
            tags::tag_one(&ctx, r.key.as_deref().unwrap_or_default(), &body)
        }
        Endpoint::Bulk => {
            let body = json_body(headers, body)?;
            tags::tag_many(&ctx, &body)
        }
        Endpoint::DeviceValue => {
            let body = json_body(headers, body)?;
            device_value::set(&ctx, r.key.as_deref().unwrap_or_default(), &body)
        }
        Endpoint::Unknown => Err(ApiError::general_not_found("Not found")),
    }
}

fn json_body(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.to_ascii_lowercase().starts_with("application/json") {
        return Err(ApiError::invalid_body(format!(
            "Request body is incorrect: Content-Type must be application/json, got {:?}.",
            ct
        )));
    }
    body.map_err(|e| ApiError::invalid_body(format!("Request body is incorrect: {e}")))
}

fn authenticate(st: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::unauthorized(
            "the Authorization header is missing",
        ));
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("the Authorization header is not text"))?;
    let token = match value.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() => {
            t.trim()
        }
        _ => {
            return Err(ApiError::unauthorized(
                "the Authorization header must be 'Bearer <token>'",
            ));
        }
    };
    let host = web::host(headers);
    let origins = st.served_origins(host.as_deref());
    let tenants: Vec<&str> = st.tenants().iter().map(TenantData::id).collect();
    let caller = tokens::verify(&st.keys, token, &origins, &tenants).map_err(|e| match e {
        TokenError::Unauthorized(m) => ApiError::unauthorized(&m),
        TokenError::WrongAudience(m) => ApiError::forbidden(m),
    })?;
    let not_before = st.tokens_not_before.load(Ordering::Acquire);
    if not_before > 0 && caller.iat <= not_before {
        return Err(ApiError::unauthorized(
            "the token is expired (injected: sessions expired)",
        ));
    }
    let max_age = st
        .faults
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .config()
        .max_token_age_secs;
    if let Some(max) = max_age {
        let age = time::OffsetDateTime::now_utc().unix_timestamp() - caller.iat;
        if age > max as i64 {
            return Err(ApiError::unauthorized(
                "the token is expired (injected early expiry)",
            ));
        }
    }
    Ok(caller)
}

/// Checks `roles`/`scp` (docs/defender-api.md §2–§5 permission tables).
fn authorize(caller: &Caller, endpoint: Endpoint) -> Result<(), ApiError> {
    let (app_ok, user_ok): (&[&str], &[&str]) = if endpoint.writes() {
        (&["Machine.ReadWrite.All"], &["Machine.ReadWrite"])
    } else {
        (
            &["Machine.Read.All", "Machine.ReadWrite.All"],
            &["Machine.Read", "Machine.ReadWrite"],
        )
    };
    let has = |need: &[&str]| {
        caller
            .permissions
            .iter()
            .any(|p| need.iter().any(|n| n.eq_ignore_ascii_case(p)))
    };
    match caller.kind {
        PersonaKind::App if has(app_ok) => Ok(()),
        PersonaKind::User if has(user_ok) => Ok(()),
        PersonaKind::App => Err(ApiError::forbidden(format!(
            "Missing application roles. API required roles: {}.",
            app_ok.join(", ")
        ))),
        PersonaKind::User => Err(ApiError::forbidden(format!(
            "Missing delegated permissions (scp). API required permissions: {}.",
            user_ok.join(", ")
        ))),
    }
}

/// Milliseconds, rounded up (a client waiting this long is never early).
fn ceil_ms(d: std::time::Duration) -> u64 {
    d.as_nanos().div_ceil(1_000_000) as u64
}

/// A 200 answer with the service's headers.
pub(crate) fn ok_json<T: Serialize>(value: &T) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(value)
        .map_err(|e| ApiError::internal(format!("serialisation failed: {e}")))?;
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(ODATA_CONTENT_TYPE),
    );
    h.insert("odata-version", HeaderValue::from_static("4.0"));
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_case_insensitively_with_optional_version() {
        let r = route("/API/Machines/FindByTag");
        assert_eq!(r.endpoint, Endpoint::FindByTag);
        let r = route("/api/v1.0/machines/addorremovetagformultiplemachines");
        assert_eq!(
            (r.endpoint, r.prefix.as_str()),
            (Endpoint::Bulk, "/api/v1.0")
        );
        let r = route("/api/machines/ABC%20def/TAGS");
        assert_eq!(
            (r.endpoint, r.key.as_deref()),
            (Endpoint::Tag, Some("ABC def"))
        );
        assert_eq!(route("/api/machines/").endpoint, Endpoint::List);
        assert_eq!(route("/api/alerts").endpoint, Endpoint::Unknown);
        assert!(is_api_path("/API") && is_api_path("/Api/x") && !is_api_path("/apix"));
    }
}
