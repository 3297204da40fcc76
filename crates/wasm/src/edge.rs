//! The edge proxy's rules, as plain Rust: which requests may be forwarded, and CORS.
//!
//! A request is forwarded only if it is one of the five machine/tag endpoints with a valid id,
//! query and body. The upstream request is then *rebuilt* by core's builders from the parsed
//! values (never copied from the incoming URL), so what reaches Defender is always a request this
//! project knows how to build, on the configured host: no SSRF, no traversal, no smuggled query.
//! The JS plumbing around it lives in `proxy.rs`.

use std::fmt;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use defender_tags_core::api::{self, ApiRequest, ListQuery, Method};
use defender_tags_core::cloud::BaseUrl;
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

fn check_method(given: &str, allowed: &'static str) -> Result<(), Refusal> {
    if given.eq_ignore_ascii_case(allowed) {
        Ok(())
    } else {
        Err(refuse(
            405,
            "MethodRefused",
            format!("only {allowed} is allowed here"),
        ))
    }
}

/// The refusals that need only the method and path, so the caller can answer them before
/// reading a body. [`route`] repeats them.
pub fn precheck(method: &str, path: &str) -> Result<(), Refusal> {
    let (_, allowed) = match_path(path)?;
    check_method(method, allowed)
}

/// Decides whether `req` is forwarded, and if so as which core-built request.
pub fn route(req: &EdgeRequest<'_>) -> Result<ApiRequest, Refusal> {
    let (route, method) = match_path(req.path)?;
    check_method(req.method, method)?;
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

/// Whether `request` is the machine listing, the only answer that carries an `@odata.nextLink`.
pub fn is_listing(request: &ApiRequest) -> bool {
    request.method == Method::Get && request.path == "/api/machines"
}

const NEXT_LINK: &str = "@odata.nextLink";

/// A JSON object's members in order, values kept as their raw text: the proxy touches one
/// member of a page that may be megabytes long, and re-encoding the machines could change them.
struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Collect;
        impl<'de> Visitor<'de> for Collect {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
                    out.push(entry);
                }
                Ok(Members(out))
            }
        }
        deserializer.deserialize_map(Collect)
    }
}

/// The listing after a page of `count` machines answered to `forwarded`, by `$skip`.
fn skip_continuation(forwarded: &ApiRequest, count: usize) -> ApiRequest {
    let skip = forwarded
        .query_param("$skip")
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(0)
        .saturating_add(count as u64);
    let mut next = forwarded.clone();
    next.query.retain(|(k, _)| k != "$skip");
    next.query.push(("$skip".to_owned(), skip.to_string()));
    next
}

/// The upstream's next-page link as a request this proxy forwards, if it is one.
fn forwardable_link(link: &str, upstream: &BaseUrl) -> Option<ApiRequest> {
    let request = api::request_from_next_link(link, upstream).ok()?;
    route(&EdgeRequest {
        method: request.method.as_str(),
        path: &request.path,
        query: &request.query,
        body: None,
    })
    .ok()
    .filter(is_listing)
}

/// Moves a machine page's `@odata.nextLink` from the upstream's origin to the proxy's, so a
/// client whose base URL is the proxy follows it (it refuses links to any other origin, rightly:
/// it would send its token there). A link the proxy would not forward as it stands (another
/// origin, an unknown parameter such as an opaque `$skiptoken`) becomes the equivalent `$skip`
/// continuation of the page that was answered. `public` `None` (the proxy cannot tell its own
/// origin) drops the link, and the client continues with `$skip` after a full page.
///
/// Returns the new body, or `None` when the body stays as it is (no link, not an object).
pub fn rewrite_next_link(
    body: &[u8],
    forwarded: &ApiRequest,
    upstream: &BaseUrl,
    public: Option<&BaseUrl>,
) -> Option<Vec<u8>> {
    let Members(members) = serde_json::from_slice(body).ok()?;
    let at = members.iter().position(|(k, _)| k == NEXT_LINK)?;
    let raw_link = members[at].1.get();
    if raw_link == "null" {
        return None;
    }
    // Not a string: unusable as it stands, but the page may still continue.
    let link: Option<String> = serde_json::from_str(raw_link).ok();
    let count = members
        .iter()
        .find(|(k, _)| k == "value")
        .and_then(|(_, raw)| serde_json::from_str::<Vec<IgnoredAny>>(raw.get()).ok())
        .map_or(0, |v| v.len());
    let next = public.and_then(|public| {
        link.as_deref()
            .and_then(|l| forwardable_link(l, upstream))
            .or_else(|| (count > 0).then(|| skip_continuation(forwarded, count)))
            .and_then(|r| serde_json::to_string(&r.url(public)).ok())
    });
    let mut out = Vec::with_capacity(body.len() + 64);
    out.push(b'{');
    let mut first = true;
    for (i, (key, raw)) in members.iter().enumerate() {
        let value = if i == at {
            match &next {
                Some(link) => link.as_str(),
                None => continue,
            }
        } else {
            raw.get()
        };
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(serde_json::to_string(key).ok()?.as_bytes());
        out.push(b':');
        out.extend_from_slice(value.as_bytes());
    }
    out.push(b'}');
    Some(out)
}

#[cfg(test)]
mod tests;
