//! The edge proxy's rules, as plain Rust: which requests may be forwarded, and CORS.
//!
//! A request is forwarded only if it is one of the five machine/tag endpoints with a valid id,
//! query and body. The upstream request is then *rebuilt* by core's builders from the parsed
//! values (never copied from the incoming URL), so what reaches Defender is always a request this
//! project knows how to build, on the configured host: no SSRF, no traversal, no smuggled query.
//! The JS plumbing around it lives in `proxy.rs`.

use defender_tags_core::api::{self, ApiRequest, ListQuery};
use defender_tags_core::model::{MachineId, MachineRef};
use defender_tags_core::odata;
use defender_tags_core::wire::{BulkTagBody, MAX_PAGE_SIZE, TagBody};

/// The incoming request, already split by the runtime: `path` is the raw (still
/// percent-encoded) pathname, `query` the decoded key/value pairs.
#[derive(Debug, Clone, Copy)]
pub struct EdgeRequest<'a> {
    /// HTTP method as sent.
    pub method: &'a str,
    /// Raw pathname, e.g. `/api/machines/abc.../tags`.
    pub path: &'a str,
    /// Decoded query pairs, in order.
    pub query: &'a [(String, String)],
    /// Body text of a POST.
    pub body: Option<&'a str>,
}

/// Why a request is not forwarded: an HTTP status, a stable code and a human message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Status of the proxy's own answer.
    pub status: u16,
    /// Stable code, also used as the error envelope's `code`.
    pub code: &'static str,
    /// What was wrong.
    pub message: String,
}

fn refuse(status: u16, code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        code,
        message: message.into(),
    }
}

/// The endpoints the proxy knows, after matching method and path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    List,
    FindByTag,
    Get(MachineRef),
    SetTag(MachineId),
    BulkSetTag,
}

const BULK_SEGMENT: &str = "AddOrRemoveTagForMultipleMachines";

fn match_path(path: &str) -> Result<(Route, &'static str), Refusal> {
    // Everything that could change meaning after decoding or normalisation is refused outright:
    // percent-escapes (incl. %2F, %2E), backslashes, dot segments, empty segments.
    if path.contains(['%', '\\', ';']) || path.chars().any(|c| c.is_control() || c == ' ') {
        return Err(refuse(
            400,
            "PathRefused",
            "encoded or unusual characters in the path",
        ));
    }
    let segments: Vec<&str> = match path.strip_prefix('/') {
        Some(rest) => rest.split('/').collect(),
        None => return Err(refuse(404, "PathRefused", "not a proxied path")),
    };
    if segments
        .iter()
        .any(|s| s.is_empty() || *s == "." || *s == "..")
    {
        return Err(refuse(
            400,
            "PathRefused",
            "empty or dot segments in the path",
        ));
    }
    match segments.as_slice() {
        ["api", "machines"] => Ok((Route::List, "GET")),
        ["api", "machines", "findbytag"] => Ok((Route::FindByTag, "GET")),
        ["api", "machines", seg] if *seg == BULK_SEGMENT => Ok((Route::BulkSetTag, "POST")),
        ["api", "machines", id, "tags"] => MachineId::parse(id)
            .map(|id| (Route::SetTag(id), "POST"))
            .map_err(|e| refuse(400, "InvalidMachineId", e.to_string())),
        ["api", "machines", id] => parse_machine_ref(id).map(|r| (Route::Get(r), "GET")),
        _ => Err(refuse(404, "PathRefused", "not a proxied path")),
    }
}

/// A machine id, or a computer name made of DNS-name characters only.
fn parse_machine_ref(segment: &str) -> Result<MachineRef, Refusal> {
    if MachineId::looks_like_id(segment) {
        return MachineId::parse(segment)
            .map(MachineRef::Id)
            .map_err(|e| refuse(400, "InvalidMachineId", e.to_string()));
    }
    let dns_like = segment.len() <= 255
        && segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if dns_like {
        Ok(MachineRef::Name(segment.to_owned()))
    } else {
        Err(refuse(
            400,
            "InvalidMachineId",
            "not a machine id or computer name",
        ))
    }
}

/// The methods a path accepts, for preflight and 405 answers; `None` for unknown paths.
pub fn allowed_method(path: &str) -> Option<&'static str> {
    match_path(path).ok().map(|(_, method)| method)
}

fn only_keys(query: &[(String, String)], allowed: &[&str]) -> Result<(), Refusal> {
    for (i, (key, _)) in query.iter().enumerate() {
        if !allowed.contains(&key.as_str()) {
            return Err(refuse(
                400,
                "QueryRefused",
                format!("query parameter `{key}` is not allowed"),
            ));
        }
        if query[..i].iter().any(|(k, _)| k == key) {
            return Err(refuse(
                400,
                "QueryRefused",
                format!("query parameter `{key}` is repeated"),
            ));
        }
    }
    Ok(())
}

fn value<'q>(query: &'q [(String, String)], key: &str) -> Option<&'q str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn number(query: &[(String, String)], key: &str, max: u32) -> Result<Option<u32>, Refusal> {
    value(query, key)
        .map(|v| match v.parse::<u32>() {
            Ok(n) if n <= max => Ok(n),
            _ => Err(refuse(
                400,
                "QueryRefused",
                format!("`{key}` must be a whole number up to {max}"),
            )),
        })
        .transpose()
}

fn body_of<'b>(req: &EdgeRequest<'b>) -> Result<&'b str, Refusal> {
    req.body
        .filter(|b| !b.trim().is_empty())
        .ok_or_else(|| refuse(400, "InvalidRequestBody", "a JSON body is required"))
}

/// Decides whether `req` is forwarded, and if so as which core-built request.
pub fn route(req: &EdgeRequest<'_>) -> Result<ApiRequest, Refusal> {
    let (route, method) = match_path(req.path)?;
    if !req.method.eq_ignore_ascii_case(method) {
        return Err(refuse(
            405,
            "MethodRefused",
            format!("only {method} is allowed here"),
        ));
    }
    match route {
        Route::List => {
            only_keys(req.query, &["$filter", "$top", "$skip"])?;
            let filter = value(req.query, "$filter")
                .map(odata::parse)
                .transpose()
                .map_err(|e| refuse(400, "ODataError", e.to_string()))?;
            let mut query = ListQuery::new().with_filter(filter).with_skip(u64::from(
                number(req.query, "$skip", u32::MAX)?.unwrap_or(0),
            ));
            if let Some(top) = number(req.query, "$top", MAX_PAGE_SIZE)? {
                query = query
                    .with_top(top)
                    .map_err(|e| refuse(400, "QueryRefused", e.to_string()))?;
            }
            Ok(api::list_machines(&query))
        }
        Route::FindByTag => {
            only_keys(req.query, &["tag", "useStartsWithFilter"])?;
            let tag = value(req.query, "tag")
                .filter(|t| !t.trim().is_empty())
                .ok_or_else(|| refuse(400, "MissingRequiredParameter", "`tag` is required"))?;
            let prefix = match value(req.query, "useStartsWithFilter") {
                None => false,
                Some(v) if v.eq_ignore_ascii_case("true") => true,
                Some(v) if v.eq_ignore_ascii_case("false") => false,
                Some(_) => {
                    return Err(refuse(
                        400,
                        "QueryRefused",
                        "`useStartsWithFilter` must be true or false",
                    ));
                }
            };
            api::find_by_tag(tag, prefix)
                .map_err(|e| refuse(400, "MissingRequiredParameter", e.to_string()))
        }
        Route::Get(machine) => {
            only_keys(req.query, &[])?;
            Ok(api::get_machine(&machine))
        }
        Route::SetTag(id) => {
            only_keys(req.query, &[])?;
            let body: TagBody = serde_json::from_str(body_of(req)?)
                .map_err(|e| refuse(400, "InvalidRequestBody", e.to_string()))?;
            Ok(api::set_tag(&id, &body.value, body.action))
        }
        Route::BulkSetTag => {
            only_keys(req.query, &[])?;
            let body: BulkTagBody = serde_json::from_str(body_of(req)?)
                .map_err(|e| refuse(400, "InvalidRequestBody", e.to_string()))?;
            api::bulk_set_tag(body.value(), body.action(), body.machine_ids())
                .map_err(|e| refuse(400, "InvalidRequestBody", e.to_string()))
        }
    }
}

/// What to do about CORS for a request's `Origin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cors {
    /// No `Origin` header (server-to-server): no CORS headers.
    NoOrigin,
    /// An allowed origin: echo it.
    Allowed(String),
    /// An origin that is not configured: refuse without forwarding.
    Denied,
}

/// Matches `origin` against the configured origins exactly (scheme, host and port).
pub fn cors(origin: Option<&str>, allowed: &[String]) -> Cors {
    match origin {
        None => Cors::NoOrigin,
        Some(o) if allowed.iter().any(|a| a == o) => Cors::Allowed(o.to_owned()),
        Some(_) => Cors::Denied,
    }
}

/// Headers of a CORS answer (actual or preflight) for an allowed origin.
pub fn cors_headers(origin: &str, preflight_method: Option<&str>) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("access-control-allow-origin", origin.to_owned()),
        ("vary", "Origin".to_owned()),
        ("access-control-expose-headers", "Retry-After".to_owned()),
    ];
    if let Some(method) = preflight_method {
        headers.push(("access-control-allow-methods", method.to_owned()));
        headers.push((
            "access-control-allow-headers",
            "authorization, content-type".to_owned(),
        ));
        headers.push(("access-control-max-age", "600".to_owned()));
    }
    headers
}

#[cfg(test)]
mod tests;
