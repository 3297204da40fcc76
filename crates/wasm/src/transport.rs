//! The I/O seam: one HTTP exchange, a sleep and a clock.
//!
//! `DefenderClient` holds its transport as `Rc<dyn Transport>`: on wasm32 it is [`crate::fetch`]
//! (the global `fetch`), in native tests a scripted fake with virtual time. Everything above this
//! trait (retries, throttling, token refresh, origin checks, run bookkeeping) is plain Rust.

use crate::token::LocalBoxFuture;

/// A fully built HTTP request (URL from core's `ApiRequest::url`, headers including
/// `Authorization`). Its `Debug` hides header values, since one of them is the token.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// Absolute URL; the client has checked its origin against the configured API origin.
    pub url: String,
    /// Header name/value pairs.
    pub headers: Vec<(String, String)>,
    /// JSON body, if any.
    pub body: Option<String>,
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("header_names", &names)
            .field("body", &self.body)
            .finish()
    }
}

/// Status, headers (names lower-cased) and body bytes of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// HTTP status code.
    pub status: u16,
    /// Header name/value pairs, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Raw body.
    pub body: Vec<u8>,
}

/// A request that produced no HTTP response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// DNS, connection or TLS failure (the runtime gives no detail on purpose).
    #[error("network error: {0}")]
    Network(String),
    /// The browser refused the cross-origin call: the API answered (a `no-cors` probe of the same
    /// URL got through) but does not allow this page's origin. Retrying cannot help; an edge
    /// proxy that allows the origin can (docs/deploy.md).
    #[error(
        "the API at {api_origin} does not allow calls from this page's origin {page_origin} (CORS); \
         deploy the edge proxy and point the API base URL at it"
    )]
    CorsRefused {
        /// The API origin that refused.
        api_origin: String,
        /// The calling page's origin.
        page_origin: String,
    },
    /// No complete response within the per-request timeout.
    #[error("no response within {after_ms} ms")]
    Timeout {
        /// The timeout that expired.
        after_ms: u32,
    },
}

/// One HTTP exchange, a sleep and a wall clock, all in *real* milliseconds.
pub trait Transport {
    /// Sends `request`, giving up after `timeout_ms`.
    fn send(
        &self,
        request: HttpRequest,
        timeout_ms: u32,
    ) -> LocalBoxFuture<'_, Result<HttpResponse, TransportError>>;
    /// Resolves after `ms` milliseconds.
    fn sleep(&self, ms: u64) -> LocalBoxFuture<'_, ()>;
    /// Milliseconds since an arbitrary, fixed epoch (monotonic enough for rate windows).
    fn now_ms(&self) -> f64;
}
