//! The edge proxy: `handleRequest(request, config) -> Promise<Response>` for runtimes with
//! `fetch` (Node 20, workers). Rules are in [`crate::edge`]; this is the Request/Response
//! plumbing. The caller's `Authorization` header is passed through untouched and never logged.

use js_sys::Promise;
use serde::Deserialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, future_to_promise};
use web_sys::{Headers, Request, Response, ResponseInit, Url};

use defender_tags_core::cloud::BaseUrl;
use defender_tags_core::wire::ErrorEnvelope;

use crate::config::DEFAULT_TIMEOUT_MS;
use crate::edge::{self, Cors, EdgeRequest};
use crate::fetch::FetchTransport;
use crate::transport::{HttpRequest, Transport, TransportError};

/// Largest body the proxy reads: a 500-id bulk body is about 22 KB.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Configuration of `handleRequest`.
#[derive(Debug, Clone, Deserialize, tsify::Tsify)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProxyConfig {
    /// The Defender API base URL requests are forwarded to (the only upstream).
    pub api_base_url: String,
    /// Browser origins allowed to call the proxy (exact `scheme://host[:port]`).
    #[serde(default)]
    #[tsify(optional)]
    pub allowed_origins: Vec<String>,
    /// Upstream timeout in milliseconds (default 30000).
    #[tsify(optional)]
    pub timeout_ms: Option<u32>,
}

fn respond(
    status: u16,
    headers: &[(&str, String)],
    body: Option<&[u8]>,
) -> Result<Response, JsValue> {
    let h = Headers::new()?;
    for (name, value) in headers {
        h.set(name, value)?;
    }
    let init = ResponseInit::new();
    init.set_status(status);
    init.set_headers(&h);
    // 204/304 must not carry a body.
    let body = if status == 204 { None } else { body };
    match body {
        Some(bytes) => {
            let mut owned = bytes.to_vec();
            Response::new_with_opt_u8_array_and_init(Some(&mut owned), &init)
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

async fn handle(request: Request, config: JsValue) -> Result<Response, JsValue> {
    // A typo in a security setting (`allowedOrigin`) must not silently fall back to a default.
    if config.is_object() {
        for key in js_sys::Object::keys(&js_sys::Object::from(config.clone())).iter() {
            let key = key.as_string().unwrap_or_default();
            if !["apiBaseUrl", "allowedOrigins", "timeoutMs"].contains(&key.as_str()) {
                let message = format!("invalid proxy config: unknown option `{key}`");
                return error_response(500, "ProxyMisconfigured", &message, &[]);
            }
        }
    }
    let config: ProxyConfig = match crate::js::from_js(&config) {
        Ok(c) => c,
        Err(e) => {
            return error_response(
                500,
                "ProxyMisconfigured",
                &format!("invalid proxy config: {e}"),
                &[],
            );
        }
    };
    let base = match BaseUrl::parse(&config.api_base_url) {
        Ok(b) => b,
        Err(e) => {
            return error_response(
                500,
                "ProxyMisconfigured",
                &format!("invalid apiBaseUrl: {e}"),
                &[],
            );
        }
    };

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
    let path = url.pathname();
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

    let body = if method.eq_ignore_ascii_case("POST") {
        let text = JsFuture::from(request.text()?)
            .await?
            .as_string()
            .unwrap_or_default();
        if text.len() > MAX_BODY_BYTES {
            return error_response(413, "InvalidRequestBody", "body too large", &cors(None));
        }
        Some(text)
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
    let Some(authorization) = request.headers().get("authorization")? else {
        return error_response(
            401,
            "Unauthorized",
            "an Authorization header is required",
            &cors(None),
        );
    };

    // The upstream URL comes from core and the configured base only.
    let mut headers = api_request.headers.clone();
    headers.push(("Authorization".to_owned(), authorization));
    let upstream = HttpRequest {
        method: api_request.method.as_str().to_owned(),
        url: api_request.url(&base),
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
    let timeout = config.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
    match FetchTransport.send(upstream, timeout).await {
        // A redirect is never followed (see `fetch::build_request`) nor passed on: the Defender
        // API does not redirect, and the caller must not be sent elsewhere with its token.
        Ok(answer) if answer.status == 0 || (300..400).contains(&answer.status) => error_response(
            502,
            "UpstreamRedirect",
            "the Defender API answered with a redirect, which the proxy does not follow",
            &cors(None),
        ),
        Ok(answer) => {
            let mut out: Vec<(&str, String)> = answer
                .headers
                .iter()
                .filter(|(name, _)| name == "content-type" || name == "retry-after")
                .map(|(name, value)| {
                    let name: &str = if name == "content-type" {
                        "content-type"
                    } else {
                        "retry-after"
                    };
                    (name, value.clone())
                })
                .collect();
            out.extend(cors(None));
            respond(answer.status, &out, Some(&answer.body))
        }
        Err(TransportError::Timeout { .. }) => error_response(
            504,
            "UpstreamTimeout",
            "the Defender API did not answer in time",
            &cors(None),
        ),
        // Server-side fetch has no CORS; any refusal is a network failure to the upstream.
        Err(TransportError::Network(_) | TransportError::CorsRefused { .. }) => error_response(
            502,
            "UpstreamUnreachable",
            "the Defender API could not be reached",
            &cors(None),
        ),
    }
}

/// Handles one request: forwards the five machine/tag endpoints to `config.apiBaseUrl` and
/// refuses everything else. Always resolves to a `Response` (errors use the API's envelope).
#[wasm_bindgen(js_name = handleRequest, unchecked_return_type = "Promise<Response>")]
pub fn handle_request(
    request: Request,
    #[wasm_bindgen(unchecked_param_type = "ProxyConfig")] config: JsValue,
) -> Promise {
    future_to_promise(async move {
        match handle(request, config).await {
            Ok(response) => Ok(response.into()),
            Err(e) => error_response(500, "ProxyError", &crate::fetch::js_error_text(&e), &[])
                .map(Into::into),
        }
    })
}
