//! The edge proxy: `handleRequest(request, config) -> Promise<Response>` for runtimes with
//! `fetch` (Node 20, workers). Rules are in [`crate::edge`]; this is the Request/Response
//! plumbing. The caller's `Authorization` header is passed through untouched and never logged.

use std::rc::Rc;

use js_sys::{Promise, Uint8Array};
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;
use web_sys::{Headers, Request, Response, ResponseInit, Url};

use defender_tags_core::cloud::BaseUrl;
use defender_tags_core::wire::ErrorEnvelope;

use crate::edge::{self, Cors, EdgeRequest};
use crate::fetch::{self, FetchTransport};
use crate::proxy_config::{
    ConfigUse, DEFAULT_LISTEN_HOST, DEFAULT_LISTEN_PORT, ErrorList, ProxyConfigError, ProxySettings,
};
use crate::transport::{HttpRequest, Transport, TransportError};

/// Largest body the proxy reads: a 500-id bulk body is about 22 KB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Where the Node server listens (`defender-tags-proxy` only).
#[derive(Debug, Clone, Deserialize, tsify::Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProxyListen {
    /// Host name or IP address to bind (default `127.0.0.1`).
    #[tsify(optional)]
    pub host: Option<String>,
    /// Port (default 8787; 0 picks a free one).
    #[tsify(optional)]
    pub port: Option<u16>,
}

/// Configuration of the edge proxy: `handleRequest`'s second argument, `new EdgeProxy(...)`, the
/// Workers environment and the Node server's `proxy.json`. Validated by
/// [`ProxySettings::parse`]; this type only gives TypeScript its shape.
#[derive(Debug, Clone, Deserialize, tsify::Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProxyConfig {
    /// The Defender API base URL requests are forwarded to (the only upstream); https, or http
    /// on loopback.
    pub api_base_url: String,
    /// Browser origins allowed to call the proxy (exact `scheme://host[:port]`). Required and
    /// non-empty for the Node server and the Workers entry.
    #[serde(default)]
    #[tsify(optional)]
    pub allowed_origins: Vec<String>,
    /// Upstream timeout in milliseconds (default 30000).
    #[tsify(optional)]
    pub timeout_ms: Option<u32>,
    /// The proxy's URL as clients reach it (e.g. behind a TLS-terminating load balancer): its
    /// origin, plus the path it is mounted under, if any (`https://portal.contoso.com/defender`;
    /// only requests below that path are proxied). Next-page links are rewritten onto it.
    /// Default: the origin of each request's URL.
    #[tsify(optional)]
    pub public_url: Option<String>,
    /// Node server only: where to listen (default `127.0.0.1:8787`).
    #[tsify(optional)]
    pub listen: Option<ProxyListen>,
}

fn response_init(status: u16, headers: &[(&str, String)]) -> Result<ResponseInit, JsValue> {
    let h = Headers::new()?;
    for (name, value) in headers {
        h.set(name, value)?;
    }
    let init = ResponseInit::new();
    init.set_status(status);
    init.set_headers(&h);
    Ok(init)
}

fn respond(
    status: u16,
    headers: &[(&str, String)],
    body: Option<&[u8]>,
) -> Result<Response, JsValue> {
    let init = response_init(status, headers)?;
    // 204/304 must not carry a body.
    let body = if status == 204 { None } else { body };
    match body {
        // Copied once, straight into a JS buffer: no second copy of a multi-megabyte page in
        // wasm memory, which never shrinks.
        Some(bytes) => {
            Response::new_with_opt_buffer_source_and_init(Some(&Uint8Array::from(bytes)), &init)
        }
        None => Response::new_with_opt_str_and_init(None, &init),
    }
}

fn error_response(
    status: u16,
    code: &str,
    message: &str,
    cors: &[(&str, String)],
) -> Result<Response, JsValue> {
    let envelope = ErrorEnvelope::new(code, message, None);
    let body = serde_json::to_vec(&envelope).unwrap_or_default();
    let mut headers = vec![("content-type", "application/json".to_owned())];
    headers.extend(cors.iter().cloned());
    respond(status, &headers, Some(&body))
}

/// The request body, read chunk by chunk and given up (the stream cancelled) as soon as it
/// passes `cap` bytes: `None` then.
async fn read_capped(request: &Request, cap: usize) -> Result<Option<Vec<u8>>, JsValue> {
    match request.body() {
        Some(stream) => crate::fetch::read_stream(stream, 0, cap).await,
        None => Ok(Some(Vec::new())),
    }
}

fn query_pairs(url: &Url) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    if let Ok(Some(iter)) = js_sys::try_iter(&url.search_params()) {
        for entry in iter.flatten() {
            let pair = js_sys::Array::from(&entry);
            if let (Some(k), Some(v)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
                pairs.push((k, v));
            }
        }
    }
    pairs
}

/// `config` as given to `handleRequest` / `EdgeProxy`: a JSON string, or an object (its JSON
/// form; anything else becomes `null`, which the validator names).
fn config_json(config: &JsValue) -> String {
    match config.as_string() {
        Some(text) => text,
        None => js_sys::JSON::stringify(config)
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_else(|| "null".to_owned()),
    }
}

/// A JS `Error` named `ProxyConfigError` listing every field error, one per line, with the
/// same list as `errors: [{ field, message }]`.
fn config_error(errors: &[ProxyConfigError]) -> JsValue {
    let error = js_sys::Error::new(&format!(
        "invalid proxy configuration:\n{}",
        ErrorList(errors)
    ));
    error.set_name("ProxyConfigError");
    let list = js_sys::Array::new();
    for e in errors {
        let item = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&item, &"field".into(), &e.field.as_str().into());
        let _ = js_sys::Reflect::set(&item, &"message".into(), &e.message.as_str().into());
        list.push(&item);
    }
    let _ = js_sys::Reflect::set(&error, &"errors".into(), &list);
    error.into()
}

async fn handle(request: Request, config: &ProxySettings) -> Result<Response, JsValue> {
    let base = &config.api_base;
    let origin = request.headers().get("origin")?;
    let cors_allowed = match edge::cors(origin.as_deref(), &config.allowed_origins) {
        Cors::Denied => {
            return error_response(
                403,
                "OriginRefused",
                "this origin may not use the proxy",
                &[],
            );
        }
        Cors::NoOrigin => None,
        Cors::Allowed(o) => Some(o),
    };
    let cors = |preflight: Option<&str>| -> Vec<(&'static str, String)> {
        cors_allowed
            .as_deref()
            .map(|o| edge::cors_headers(o, preflight))
            .unwrap_or_default()
    };

    let url = Url::new(&request.url())?;
    let full_path = url.pathname();
    // Mounted under a path (`publicUrl` https://portal/defender): the routes are below it, and
    // nothing outside it is proxied.
    let path = match &config.public_url {
        Some(public) => match public.strip_prefix(&full_path) {
            Some(rest) => rest.to_owned(),
            None => {
                return error_response(
                    404,
                    "PathRefused",
                    "not under the proxy's publicUrl path",
                    &cors(None),
                );
            }
        },
        None => full_path,
    };
    let method = request.method();

    if method.eq_ignore_ascii_case("OPTIONS") {
        return match edge::allowed_method(&path) {
            Some(allowed) if cors_allowed.is_some() => respond(204, &cors(Some(allowed)), None),
            Some(_) => error_response(
                403,
                "OriginRefused",
                "preflight without an allowed Origin",
                &[],
            ),
            None => error_response(404, "PathRefused", "not a proxied path", &cors(None)),
        };
    }

    // Everything that needs no body is decided before a byte of it is read: an unknown path, a
    // wrong method, a missing token or a declared size over the limit cost the proxy nothing.
    if let Err(refusal) = edge::precheck(&method, &path) {
        return error_response(refusal.status, refusal.code, &refusal.message, &cors(None));
    }
    let Some(authorization) = request.headers().get("authorization")? else {
        return error_response(
            401,
            "Unauthorized",
            "an Authorization header is required",
            &cors(None),
        );
    };
    let too_large = || error_response(413, "InvalidRequestBody", "body too large", &cors(None));
    let declared = request
        .headers()
        .get("content-length")?
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return too_large();
    }
    let body = if method.eq_ignore_ascii_case("POST") {
        let Some(bytes) = read_capped(&request, MAX_BODY_BYTES).await? else {
            return too_large();
        };
        match String::from_utf8(bytes) {
            Ok(text) => Some(text),
            Err(_) => {
                return error_response(
                    400,
                    "InvalidRequestBody",
                    "the body is not UTF-8 JSON",
                    &cors(None),
                );
            }
        }
    } else {
        None
    };
    let query = query_pairs(&url);
    let edge_request = EdgeRequest {
        method: &method,
        path: &path,
        query: &query,
        body: body.as_deref(),
    };
    let api_request = match edge::route(&edge_request) {
        Ok(r) => r,
        Err(refusal) => {
            return error_response(refusal.status, refusal.code, &refusal.message, &cors(None));
        }
    };

    // The upstream URL comes from core and the configured base only.
    let mut headers = api_request.headers.clone();
    headers.push(("Authorization".to_owned(), authorization));
    let upstream = HttpRequest {
        method: api_request.method.as_str().to_owned(),
        url: api_request.url(base),
        headers,
        body: api_request.body.clone(),
    };
    // Defence in depth: the caller's token only ever goes to the configured Defender origin.
    if !base.same_origin(&upstream.url) {
        return error_response(
            500,
            "ProxyMisconfigured",
            "upstream URL left the API origin",
            &[],
        );
    }
    let cors = cors(None);
    if edge::is_listing(&api_request) {
        // Read whole: the page's next-page link is rewritten onto this proxy's origin.
        let answer = match FetchTransport.send(upstream, config.timeout_ms).await {
            Ok(answer) => answer,
            Err(e) => return upstream_failure(&e, &cors),
        };
        if is_redirect(answer.status) {
            return redirect_refusal(&cors);
        }
        let mut out = passed_headers(&answer.headers);
        out.extend(cors);
        if answer.status == 200 {
            // A client whose base URL is this proxy only follows links on its base's origin.
            let public = config
                .public_url
                .clone()
                .or_else(|| BaseUrl::parse(&url.origin()).ok());
            if let Some(body) =
                edge::rewrite_next_link(&answer.body, &api_request, base, public.as_ref())
            {
                return respond(answer.status, &out, Some(&body));
            }
        }
        return respond(answer.status, &out, Some(&answer.body));
    }
    // Everything else streams through: the body (a findbytag answer can be megabytes) never
    // enters wasm memory.
    let answer = match fetch::send_streaming(&upstream, config.timeout_ms).await {
        Ok(answer) => answer,
        Err(e) => return upstream_failure(&e, &cors),
    };
    let status = answer.status();
    if is_redirect(status) {
        if let Some(body) = answer.body() {
            // Nothing of a redirect's body is passed on; a failed cancel changes nothing.
            let _ = body.cancel();
        }
        return redirect_refusal(&cors);
    }
    let mut out = passed_headers(&fetch::collect_headers(&answer.headers()));
    out.extend(cors);
    let init = response_init(status, &out)?;
    let body = if status == 204 { None } else { answer.body() };
    Response::new_with_opt_readable_stream_and_init(body.as_ref(), &init)
}

/// A redirect is never followed (see `fetch::build_request`) nor passed on: the Defender API
/// does not redirect, and the caller must not be sent elsewhere with its token. Status 0 is an
/// opaque redirect (runtimes that hide it).
fn is_redirect(status: u16) -> bool {
    status == 0 || (300..400).contains(&status)
}

fn redirect_refusal(cors: &[(&str, String)]) -> Result<Response, JsValue> {
    error_response(
        502,
        "UpstreamRedirect",
        "the Defender API answered with a redirect, which the proxy does not follow",
        cors,
    )
}

fn upstream_failure(error: &TransportError, cors: &[(&str, String)]) -> Result<Response, JsValue> {
    match error {
        TransportError::Timeout { .. } => error_response(
            504,
            "UpstreamTimeout",
            "the Defender API did not answer in time",
            cors,
        ),
        // Server-side fetch has no CORS; any refusal is a network failure to the upstream.
        TransportError::Network(_) | TransportError::CorsRefused { .. } => error_response(
            502,
            "UpstreamUnreachable",
            "the Defender API could not be reached",
            cors,
        ),
    }
}

/// The only upstream headers passed on: the body's type and the rate limiter's `Retry-After`.
fn passed_headers(headers: &[(String, String)]) -> Vec<(&'static str, String)> {
    headers
        .iter()
        .filter_map(|(name, value)| match name.as_str() {
            "content-type" => Some(("content-type", value.clone())),
            "retry-after" => Some(("retry-after", value.clone())),
            _ => None,
        })
        .collect()
}

fn settle(result: Result<Response, JsValue>) -> Result<JsValue, JsValue> {
    match result {
        Ok(response) => Ok(response.into()),
        Err(e) => {
            error_response(500, "ProxyError", &crate::fetch::js_error_text(&e), &[]).map(Into::into)
        }
    }
}

/// Handles one request: forwards the five machine/tag endpoints to `config.apiBaseUrl` and
/// refuses everything else. Always resolves to a `Response` (errors use the API's envelope); an
/// invalid `config` is a 500 `ProxyMisconfigured` naming the field, and nothing is forwarded.
/// The configuration is validated on every call; `EdgeProxy` validates it once.
#[wasm_bindgen(js_name = handleRequest, unchecked_return_type = "Promise<Response>")]
pub fn handle_request(
    request: Request,
    #[wasm_bindgen(unchecked_param_type = "ProxyConfig")] config: JsValue,
) -> Promise {
    future_to_promise(async move {
        let settings = match ProxySettings::parse(&config_json(&config), ConfigUse::Handler) {
            Ok(settings) => settings,
            Err(errors) => {
                let message = format!("invalid proxy config: {}", ErrorList(&errors));
                return error_response(500, "ProxyMisconfigured", &message, &[]).map(Into::into);
            }
        };
        settle(handle(request, &settings).await)
    })
}

/// The edge proxy with its configuration validated once: what the Node server
/// (`defender-tags-proxy`) and the Workers entry run.
#[derive(Debug)]
#[wasm_bindgen(js_name = EdgeProxy)]
pub struct JsEdgeProxy {
    settings: Rc<ProxySettings>,
}

#[wasm_bindgen(js_class = EdgeProxy)]
impl JsEdgeProxy {
    /// `new EdgeProxy(config, usage?)`: `config` is a `ProxyConfig` object or its JSON text;
    /// `usage` is `"handler"` (default: `allowedOrigins` optional), `"worker"` or `"server"`
    /// (`allowedOrigins` required; `listen` only for `"server"`). Throws a `ProxyConfigError`
    /// naming every bad field.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "ProxyConfig | string")] config: JsValue,
        #[wasm_bindgen(unchecked_param_type = "\"handler\" | \"worker\" | \"server\"")]
        usage: Option<String>,
    ) -> Result<JsEdgeProxy, JsValue> {
        let usage = match usage.as_deref() {
            None => ConfigUse::Handler,
            Some(name) => ConfigUse::from_name(name).ok_or_else(|| {
                config_error(&[ProxyConfigError {
                    field: "usage".to_owned(),
                    message: format!("{name:?} is not one of handler, worker, server"),
                }])
            })?,
        };
        Ok(Self {
            settings: Rc::new(
                ProxySettings::parse(&config_json(&config), usage)
                    .map_err(|errors| config_error(&errors))?,
            ),
        })
    }

    /// Host the Node server binds (`listen.host`, default `127.0.0.1`).
    #[wasm_bindgen(getter, js_name = listenHost)]
    pub fn listen_host(&self) -> String {
        self.settings
            .listen
            .as_ref()
            .map_or(DEFAULT_LISTEN_HOST, |l| l.host.as_str())
            .to_owned()
    }

    /// Port the Node server binds (`listen.port`, default 8787).
    #[wasm_bindgen(getter, js_name = listenPort)]
    pub fn listen_port(&self) -> u16 {
        self.settings
            .listen
            .as_ref()
            .map_or(DEFAULT_LISTEN_PORT, |l| l.port)
    }

    /// Largest request body forwarded; a server can refuse a larger `Content-Length` before
    /// reading anything.
    #[wasm_bindgen(getter, js_name = maxBodyBytes)]
    pub fn max_body_bytes(&self) -> u32 {
        MAX_BODY_BYTES as u32
    }

    /// Handles one request, as `handleRequest` does.
    #[wasm_bindgen(unchecked_return_type = "Promise<Response>")]
    pub fn handle(&self, request: Request) -> Promise {
        let settings = self.settings.clone();
        future_to_promise(async move { settle(handle(request, &settings).await) })
    }
}
