//! [`Transport`] over the global `fetch` of whatever runtime we are in (Window, Worker, Node 20,
//! edge runtimes). `fetch`, `setTimeout` and `clearTimeout` are looked up on `globalThis`
//! (`js_sys::global()`), never on `window`, which does not exist in workers or Node.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{Promise, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortController, Headers, ReadableStream, ReadableStreamDefaultReader, Request,
    RequestCredentials, RequestInit, RequestMode, RequestRedirect, Response,
};

use crate::token::LocalBoxFuture;
use crate::transport::{HttpRequest, HttpResponse, Transport, TransportError};

#[wasm_bindgen]
extern "C" {
    /// `globalThis`, typed with just the members we use.
    pub(crate) type GlobalScope;

    #[wasm_bindgen(method, js_name = fetch)]
    pub(crate) fn fetch_with_request(this: &GlobalScope, input: &Request) -> Promise;

    #[wasm_bindgen(method, js_name = setTimeout)]
    fn set_timeout(this: &GlobalScope, handler: &js_sys::Function, ms: i32) -> JsValue;

    #[wasm_bindgen(method, js_name = clearTimeout)]
    fn clear_timeout(this: &GlobalScope, id: &JsValue);
}

pub(crate) fn global() -> GlobalScope {
    js_sys::global().unchecked_into()
}

/// The default transport of `DefenderClient` on wasm32.
#[derive(Debug, Clone, Copy, Default)]
pub struct FetchTransport;

/// Best-effort text of a JS exception (`TypeError: Failed to fetch`, ...) or of a thrown string:
/// the one JS-error-to-text conversion of the client and the web UI. These messages come from the
/// runtime (or the host's callback) and never contain request headers.
pub fn js_error_text(value: &JsValue) -> String {
    if let Some(err) = value.dyn_ref::<js_sys::Error>() {
        return String::from(err.message());
    }
    value
        .as_string()
        .unwrap_or_else(|| "unknown JavaScript error".to_owned())
}

fn build_request(req: &HttpRequest, signal: &web_sys::AbortSignal) -> Result<Request, JsValue> {
    let init = RequestInit::new();
    init.set_method(&req.method);
    // Bearer auth only: never send cookies or HTTP auth of the embedding page to the API.
    init.set_credentials(RequestCredentials::Omit);
    // The Defender API never redirects. Following one would send the request (and, on runtimes
    // that keep it, the Authorization header) to a second origin, so a redirect is handed back
    // as it is (status 3xx, or 0 for an opaque redirect) and decoded as an unexpected status.
    init.set_redirect(RequestRedirect::Manual);
    let headers = Headers::new()?;
    for (name, value) in &req.headers {
        headers.set(name, value)?;
    }
    init.set_headers(&headers);
    if let Some(body) = &req.body {
        init.set_body(&JsValue::from_str(body));
    }
    init.set_signal(Some(signal));
    Request::new_with_str_and_init(&req.url, &init)
}

pub(crate) fn collect_headers(headers: &Headers) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Ok(Some(iter)) = js_sys::try_iter(headers) {
        for entry in iter.flatten() {
            let pair = js_sys::Array::from(&entry);
            if let (Some(name), Some(value)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
                out.push((name.to_ascii_lowercase(), value));
            }
        }
    }
    out
}

/// Reads `stream` to its end, each chunk copied into the result as the network delivers it,
/// reserving `size_hint` bytes up front (at most [`MAX_RESERVED_BYTES`]: the hint is the
/// sender's word). Past `cap` bytes the stream is cancelled and the answer
/// is `None`, so memory stays within `cap` whatever the sender declared.
///
/// Chunk by chunk rather than `arrayBuffer()`: Chromium resolved a 12 MB listing page's
/// `arrayBuffer()` about 40 ms after the last byte arrived (resource timing's `responseEnd`),
/// and a listing cannot ask for its next page before it has read this one's `nextLink`, so on
/// a 100k-machine load those 40 ms sat between every two pages.
pub(crate) async fn read_stream(
    stream: ReadableStream,
    size_hint: usize,
    cap: usize,
) -> Result<Option<Vec<u8>>, JsValue> {
    let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let mut out = Vec::with_capacity(size_hint.min(cap).min(MAX_RESERVED_BYTES));
    loop {
        let chunk = JsFuture::from(reader.read()).await?;
        if js_sys::Reflect::get(&chunk, &"done".into())?.is_truthy() {
            return Ok(Some(out));
        }
        let bytes = Uint8Array::new(&js_sys::Reflect::get(&chunk, &"value".into())?);
        let start = out.len();
        let len = bytes.length() as usize;
        if start + len > cap {
            // The rest is never read; a failed cancel changes nothing for the answer.
            let _ = JsFuture::from(reader.cancel()).await;
            return Ok(None);
        }
        out.resize(start + len, 0);
        if let Some(room) = out.get_mut(start..) {
            bytes.copy_to(room);
        }
    }
}

/// The most a response body may hold. The largest documented reply, a 10,000-machine listing
/// page, is about 12 MB here; a reply past this is not the API's, and is refused rather than
/// allowed to exhaust the 4 GB a wasm module can address.
const MAX_RESPONSE_BYTES: usize = 512 * 1024 * 1024;

/// The most a declared `Content-Length` reserves before any byte has arrived.
const MAX_RESERVED_BYTES: usize = 32 * 1024 * 1024;

async fn exchange(request: Request) -> Result<HttpResponse, JsValue> {
    let response: Response = JsFuture::from(global().fetch_with_request(&request))
        .await?
        .dyn_into()?;
    let headers = collect_headers(&response.headers());
    let size_hint = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let body = match response.body() {
        Some(stream) => read_stream(stream, size_hint, MAX_RESPONSE_BYTES)
            .await?
            .ok_or_else(|| {
                JsValue::from(js_sys::Error::new(&format!(
                    "the response body is larger than {} MiB",
                    MAX_RESPONSE_BYTES >> 20
                )))
            })?,
        None => Vec::new(),
    };
    Ok(HttpResponse {
        status: response.status(),
        headers,
        body,
    })
}

/// Runs `work` on the built request with a timeout: when it fires, the request's signal aborts,
/// which rejects the fetch and any body read `work` is still awaiting.
async fn timed<T, F, W>(req: &HttpRequest, timeout_ms: u32, work: W) -> Result<T, TransportError>
where
    W: FnOnce(Request) -> F,
    F: std::future::Future<Output = Result<T, JsValue>>,
{
    let network = |e: JsValue| TransportError::Network(js_error_text(&e));
    let controller = AbortController::new().map_err(network)?;
    let request = build_request(req, &controller.signal()).map_err(network)?;
    let timed_out = Rc::new(Cell::new(false));
    let on_timeout = {
        let timed_out = timed_out.clone();
        let controller = controller.clone();
        Closure::once(move || {
            timed_out.set(true);
            controller.abort();
        })
    };
    let scope = global();
    let timer = scope.set_timeout(
        on_timeout.as_ref().unchecked_ref(),
        i32::try_from(timeout_ms).unwrap_or(i32::MAX),
    );
    let result = work(request).await;
    scope.clear_timeout(&timer);
    drop(on_timeout);
    match result {
        Ok(response) => Ok(response),
        Err(_) if timed_out.get() => Err(TransportError::Timeout {
            after_ms: timeout_ms,
        }),
        Err(e) => Err(classify_failure(&req.url, js_error_text(&e)).await),
    }
}

async fn send(req: HttpRequest, timeout_ms: u32) -> Result<HttpResponse, TransportError> {
    // The timeout covers the whole exchange, body included.
    timed(&req, timeout_ms, exchange).await
}

/// Sends `req` and resolves with the runtime's `Response` as soon as its status and headers
/// are in; the timeout covers only that part. The edge proxy passes the body on as a stream,
/// so it never sits in wasm memory.
#[cfg(feature = "proxy")]
pub(crate) async fn send_streaming(
    req: &HttpRequest,
    timeout_ms: u32,
) -> Result<Response, TransportError> {
    timed(req, timeout_ms, |request| async move {
        JsFuture::from(global().fetch_with_request(&request))
            .await?
            .dyn_into::<Response>()
    })
    .await
}

/// How long the CORS probe may take: it only has to tell "something answered" from "nothing".
const CORS_PROBE_MS: i32 = 3_000;

/// The calling page's origin where the runtime enforces CORS (a window or a worker has
/// `location`); `None` in Node and other server runtimes, which have no CORS.
fn page_origin() -> Option<String> {
    let location = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("location")).ok()?;
    if location.is_undefined() || location.is_null() {
        return None;
    }
    js_sys::Reflect::get(&location, &JsValue::from_str("origin"))
        .ok()?
        .as_string()
        .filter(|o| o.starts_with("http"))
}

/// A failed cross-origin fetch in a browser is either a network failure or a CORS refusal, and
/// the browser deliberately reports both as the same `TypeError`. A `no-cors` GET of the same URL
/// (no headers, so no token and no preflight) resolves with an opaque response whenever the
/// server answered at all, which tells the two apart without retrying for seconds.
async fn classify_failure(url: &str, message: String) -> TransportError {
    let Some(page_origin) = page_origin() else {
        return TransportError::Network(message);
    };
    let Ok(target) = web_sys::Url::new(url) else {
        return TransportError::Network(message);
    };
    let api_origin = target.origin();
    if api_origin == page_origin {
        return TransportError::Network(message);
    }
    if probe_answers(url).await {
        TransportError::CorsRefused {
            api_origin,
            page_origin,
        }
    } else {
        TransportError::Network(message)
    }
}

async fn probe_answers(url: &str) -> bool {
    let Ok(controller) = AbortController::new() else {
        return false;
    };
    let init = RequestInit::new();
    init.set_method("GET");
    init.set_mode(RequestMode::NoCors);
    init.set_credentials(RequestCredentials::Omit);
    init.set_signal(Some(&controller.signal()));
    let Ok(request) = Request::new_with_str_and_init(url, &init) else {
        return false;
    };
    let on_timeout = {
        let controller = controller.clone();
        Closure::once(move || controller.abort())
    };
    let scope = global();
    let timer = scope.set_timeout(on_timeout.as_ref().unchecked_ref(), CORS_PROBE_MS);
    let answered = JsFuture::from(scope.fetch_with_request(&request))
        .await
        .is_ok();
    scope.clear_timeout(&timer);
    drop(on_timeout);
    answered
}

/// Resolves after `ms` real milliseconds (via the global `setTimeout`).
pub(crate) async fn sleep_ms(ms: u64) {
    let ms = i32::try_from(ms).unwrap_or(i32::MAX);
    let promise = Promise::new(&mut |resolve, _reject| {
        global().set_timeout(&resolve, ms);
    });
    // A timer promise cannot reject.
    let _ = JsFuture::from(promise).await;
}

impl Transport for FetchTransport {
    fn send(
        &self,
        request: HttpRequest,
        timeout_ms: u32,
    ) -> LocalBoxFuture<'_, Result<HttpResponse, TransportError>> {
        Box::pin(send(request, timeout_ms))
    }

    fn sleep(&self, ms: u64) -> LocalBoxFuture<'_, ()> {
        Box::pin(sleep_ms(ms))
    }

    fn now_ms(&self) -> f64 {
        js_sys::Date::now()
    }
}
