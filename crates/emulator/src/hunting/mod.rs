//! Microsoft Graph's advanced hunting call, as the emulator serves it:
//! `POST /v1.0/security/runHuntingQuery` on the emulator's own origin, so the emulator is also
//! the "Graph origin" of a demo or test (crates/emulator/README.md, "Advanced hunting").
//!
//! Over the caller's machines it serves one table, `DeviceInfo` ([`device_info`]), and runs the
//! [`kql`] subset on it. Tokens must be Graph tokens (audience `https://graph.microsoft.com`)
//! carrying `ThreatHunting.Read.All`; the quota (45 calls/min, 1,500/h per tenant + app) runs on
//! the scaled clock like the API's.

pub mod kql;
pub mod sources;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use defender_tags_core::Machine;
use defender_tags_core::model::datetime::format_datetime;
use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};

use crate::auth::personas::PersonaKind;
use crate::auth::tokens::{self, Caller, GRAPH_AUDIENCE, GRAPH_AUDIENCES, TokenError};
use crate::ratelimit::RateKey;
use crate::state::{AppState, Scope, TenantData};
use crate::web;
use kql::{Catalog, Table, Type, Val};
use sources::TagSources;

/// Hunting calls per rolling minute (the retired Defender hunting API's documented quota,
/// assumed for Graph: docs/defender-api.md §14).
pub const PER_MINUTE: usize = 45;
/// Hunting calls per rolling hour.
pub const PER_HOUR: usize = 1_500;
/// Days of `DeviceInfo` a query sees.
pub const LOOKBACK_DAYS: i64 = 30;
/// Most rows an answer may hold; more is refused with a 400 naming the limit.
pub const MAX_ROWS: usize = 100_000;
/// Largest request body read.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The permission the call needs (delegated `scp` or application `roles`).
pub const PERMISSION: &str = "ThreatHunting.Read.All";
/// The stats name of the endpoint.
pub const ENDPOINT: &str = "runHuntingQuery";

/// Graph's error shape: `{"error": {"code", "message", "innerError": {date, request-id}}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphError {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<(u64, u64)>,
}

impl GraphError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let request_id = uuid::Uuid::new_v4().to_string();
        let body = json!({"error": {
            "code": self.code,
            "message": self.message,
            "innerError": {
                "date": format_datetime(OffsetDateTime::now_utc()),
                "request-id": request_id,
                "client-request-id": request_id,
            },
        }});
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some((secs, real_ms)) = self.retry_after {
            let h = resp.headers_mut();
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            h.insert("x-emulator-retry-after-ms", HeaderValue::from(real_ms));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"\", error=\"invalid_token\""),
            );
        }
        resp
    }
}

/// Entry point for every `/v1.0/...` request.
pub async fn dispatch(
    State(st): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let resp = match handle(&st, &method, &uri, &headers, body) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    st.stats.record(ENDPOINT, resp.status().as_u16());
    resp
}

fn handle(
    st: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, GraphError> {
    // Graph's segments are case-insensitive.
    if !uri
        .path()
        .trim_end_matches('/')
        .eq_ignore_ascii_case("/v1.0/security/runHuntingQuery")
    {
        return Err(GraphError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!(
                "Resource not found for the segment {:?}; this emulator serves only POST \
                 /v1.0/security/runHuntingQuery",
                uri.path()
            ),
        ));
    }
    if *method != Method::POST {
        return Err(GraphError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Request_BadRequest",
            format!("The HTTP method '{method}' is not allowed for runHuntingQuery; use POST"),
        ));
    }
    let caller = authenticate(st, headers)?;
    let key = RateKey {
        tenant: caller.tenant.clone(),
        app: caller.app.clone(),
        endpoint: ENDPOINT,
    };
    if let Err(limited) = st.hunting_limiter.check(&key, Instant::now()) {
        let window = match limited.window {
            crate::ratelimit::Window::Minute => "45 calls per minute",
            crate::ratelimit::Window::Hour => "1500 calls per hour",
        };
        let mut e = GraphError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            format!(
                "Rate limit exceeded: the advanced hunting call quota ({window}) is used up. \
                 Try again in {} seconds.",
                limited.retry_after_secs
            ),
        );
        e.retry_after = Some((
            limited.retry_after_secs,
            u64::try_from(limited.real_wait.as_millis().max(1)).unwrap_or(u64::MAX),
        ));
        return Err(e);
    }
    authorize(&caller)?;
    let query = read_query(headers, body)?;
    let tenant = st.tenant(&caller.tenant).ok_or_else(|| {
        GraphError::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "unknown tenant",
        )
    })?;
    let now = OffsetDateTime::now_utc();
    let sources = st.tag_sources(tenant.id());
    let table = device_info(tenant, &Scope::new(caller.groups.clone()), &sources, now);
    let result = kql::run(&query, &Tables(table), now)
        .map_err(|e| GraphError::bad_request(e.describe(&query)))?;
    if result.rows.len() > MAX_ROWS {
        return Err(GraphError::bad_request(format!(
            "The query returned {} rows; results are limited to {MAX_ROWS}. Narrow the query.",
            result.rows.len()
        )));
    }
    let mut resp = axum::Json(answer(&result)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; odata.metadata=minimal; charset=utf-8"),
    );
    Ok(resp)
}

struct Tables(Table);

impl Catalog for Tables {
    fn table(&self, name: &str) -> Option<&Table> {
        (name == "DeviceInfo").then_some(&self.0)
    }
}

fn authenticate(st: &AppState, headers: &HeaderMap) -> Result<Caller, GraphError> {
    let unauthorized = |m: &str| {
        GraphError::new(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            m.to_owned(),
        )
    };
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unauthorized("Access token is empty."))?;
    let token = match value.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() => {
            t.trim()
        }
        _ => return Err(unauthorized("Access token is empty.")),
    };
    let host = web::host(headers);
    let origins = st.served_origins(host.as_deref());
    let tenants: Vec<&str> = st.tenants().iter().map(TenantData::id).collect();
    // Graph answers a token for another resource (a Defender API token) with 401, unlike the
    // Defender API's 403.
    let caller = tokens::verify_for(
        &st.keys,
        token,
        &origins,
        &tenants,
        &GRAPH_AUDIENCES,
        GRAPH_AUDIENCE,
    )
    .map_err(|e| match e {
        TokenError::Unauthorized(m) => {
            unauthorized(&format!("Access token validation failure: {m}"))
        }
        TokenError::WrongAudience(m) => unauthorized(&format!(
            "Access token validation failure. Invalid audience. {m}"
        )),
    })?;
    let not_before = st.tokens_not_before.load(Ordering::Acquire);
    if not_before > 0 && caller.iat <= not_before {
        return Err(unauthorized(
            "Lifetime validation failed, the token is expired.",
        ));
    }
    Ok(caller)
}

fn authorize(caller: &Caller) -> Result<(), GraphError> {
    if caller
        .permissions
        .iter()
        .any(|p| p.eq_ignore_ascii_case(PERMISSION))
    {
        return Ok(());
    }
    let kind = match caller.kind {
        PersonaKind::App => "application permission (roles)",
        PersonaKind::User => "delegated permission (scp)",
    };
    Err(GraphError::new(
        StatusCode::FORBIDDEN,
        "Forbidden",
        format!("Missing {kind} {PERMISSION}; advanced hunting requires it."),
    ))
}

fn read_query(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<String, GraphError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.to_ascii_lowercase().starts_with("application/json") {
        return Err(GraphError::bad_request(format!(
            "Content-Type must be application/json, got {ct:?}"
        )));
    }
    let body = body.map_err(|e| GraphError::bad_request(format!("unreadable body: {e}")))?;
    if body.len() > MAX_BODY_BYTES {
        return Err(GraphError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            format!("The request body is larger than {MAX_BODY_BYTES} bytes"),
        ));
    }
    let v: Value = serde_json::from_slice(&body)
        .map_err(|e| GraphError::bad_request(format!("Invalid JSON body: {e}")))?;
    let query = v
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("query")))
        .and_then(|(_, q)| q.as_str())
        .ok_or_else(|| GraphError::bad_request("The body must be {\"Query\": \"<KQL>\"}"))?;
    if query.trim().is_empty() {
        return Err(GraphError::bad_request("The Query parameter is empty"));
    }
    Ok(query.to_owned())
}

/// `DeviceInfo` columns, in order, and their types.
pub const DEVICE_INFO_COLUMNS: [(&str, Type); 15] = [
    ("Timestamp", Type::DateTime),
    ("DeviceId", Type::Str),
    ("DeviceName", Type::Str),
    ("OSPlatform", Type::Str),
    ("OSVersion", Type::Str),
    ("OSBuild", Type::Long),
    ("OSArchitecture", Type::Str),
    ("PublicIP", Type::Str),
    ("MachineGroup", Type::Str),
    ("IsAzureADJoined", Type::Bool),
    ("AadDeviceId", Type::Str),
    ("ExposureLevel", Type::Str),
    ("RegistryDeviceTag", Type::Str),
    ("DeviceManualTags", Type::Str),
    ("DeviceDynamicTags", Type::Str),
];

/// The `DeviceInfo` table the caller sees: for every machine in its device groups and seen in
/// the last [`LOOKBACK_DAYS`] days, two reports — one a day before `lastSeen` (when that is
/// still inside the window) and one at `lastSeen` — so `summarize arg_max(Timestamp, *) by
/// DeviceId` has something to do. The tag columns split the machine's current `machineTags` by
/// [`TagSources`]: its registry value, the tags of the rules it matches, and the rest (manual).
pub fn device_info(
    tenant: &TenantData,
    scope: &Scope,
    sources: &TagSources,
    now: OffsetDateTime,
) -> Table {
    let cutoff = now - Duration::days(LOOKBACK_DAYS);
    let store = tenant.read();
    let mut rows = Vec::new();
    for m in store.machines() {
        let Some(seen) = m.last_seen else { continue };
        if !scope.in_groups(m) || seen < cutoff {
            continue;
        }
        let earlier = seen - Duration::days(1);
        if earlier >= cutoff {
            rows.push(row(m, sources, earlier));
        }
        rows.push(row(m, sources, seen));
    }
    Table {
        columns: DEVICE_INFO_COLUMNS
            .iter()
            .map(|(n, t)| ((*n).to_owned(), *t))
            .collect(),
        rows,
    }
}

fn row(m: &Machine, sources: &TagSources, at: OffsetDateTime) -> Vec<Val> {
    let s = |v: &Option<String>| Val::Str(v.clone().unwrap_or_default());
    let (manual, registry, rules) = sources.split(m);
    // The manual and dynamic columns hold JSON array text (docs/defender-api.md §14).
    let manual = Value::from(manual).to_string();
    let rules = Value::from(rules).to_string();
    vec![
        Val::DateTime(at),
        Val::Str(m.id.as_str().to_owned()),
        s(&m.computer_dns_name),
        s(&m.os_platform),
        s(&m.os_version),
        m.os_build.map_or(Val::Null, Val::Long),
        s(&m.os_architecture),
        s(&m.last_external_ip_address),
        s(&m.rbac_group_name),
        m.is_aad_joined.map_or(Val::Null, Val::Bool),
        s(&m.aad_device_id),
        Val::Str(
            m.exposure_level
                .as_ref()
                .map(|e| e.as_str().to_owned())
                .unwrap_or_default(),
        ),
        Val::Str(registry.unwrap_or_default().to_owned()),
        Val::Str(manual),
        Val::Str(rules),
    ]
}

/// Graph's success body.
fn answer(t: &Table) -> Value {
    let schema: Vec<Value> = t
        .columns
        .iter()
        .map(|(n, ty)| json!({"name": n, "type": ty.graph_name()}))
        .collect();
    let results: Vec<Value> = t
        .rows
        .iter()
        .map(|r| {
            let mut o = Map::new();
            for ((name, _), v) in t.columns.iter().zip(r) {
                let v = match v {
                    Val::Null => Value::Null,
                    Val::Str(s) => Value::from(s.as_str()),
                    Val::Long(n) => Value::from(*n),
                    Val::Bool(b) => Value::from(*b),
                    Val::DateTime(d) => Value::from(format_datetime(*d)),
                };
                o.insert(name.clone(), v);
            }
            Value::Object(o)
        })
        .collect();
    json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.security.huntingQueryResults",
        "schema": schema,
        "results": results,
    })
}
