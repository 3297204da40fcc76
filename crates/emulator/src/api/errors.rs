//! The documented error envelope `{"error":{"code","message","target"}}` (docs/defender-api.md §7),
//! with a fresh correlation id in `target` for every error.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use defender_tags_core::ErrorEnvelope;

use super::ODATA_CONTENT_TYPE;

/// One API error: status, documented code, free-text message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Documented error code.
    pub code: &'static str,
    /// Message (free text, as the docs say).
    pub message: String,
    /// `Retry-After` (emulated seconds) and real milliseconds, for 429s.
    pub retry_after: Option<(u64, u64)>,
    /// Whether to add `WWW-Authenticate` (401s).
    pub www_authenticate: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            www_authenticate: None,
        }
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }
    /// 400 ODataError.
    pub fn odata(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ODataError", message)
    }
    /// 400 InvalidInput.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidInput", message)
    }
    /// 400 InvalidRequestBody.
    pub fn invalid_body(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidRequestBody", message)
    }
    /// 400 MissingRequiredParameter: "Parameter {name} is missing."
    pub fn missing(name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "MissingRequiredParameter",
            format!("Parameter {name} is missing."),
        )
    }
    /// 400 MaximumBatchSizeExceeded.
    pub fn batch_too_big(received: usize, allowed: usize) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "MaximumBatchSizeExceeded",
            format!("Maximum batch size exceeded. Received: {received}, allowed: {allowed}."),
        )
    }
    /// 401 Unauthorized.
    pub fn unauthorized(reason: &str) -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            format!("Unauthorized (invalid or expired authorization header): {reason}."),
        );
        let desc = reason.replace('"', "'");
        e.www_authenticate = Some(format!(
            "Bearer error=\"invalid_token\", error_description=\"{desc}\""
        ));
        e
    }
    /// 403 Forbidden.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "Forbidden", message)
    }
    /// 403 DisallowedOperation.
    pub fn disallowed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "DisallowedOperation", message)
    }
    /// 404 ResourceNotFound.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "ResourceNotFound", message)
    }
    /// 404 NotFound (general).
    pub fn general_not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", message)
    }
    /// 405 for a known path with the wrong method.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "BadRequest", message)
    }
    /// 429 TooManyRequests.
    pub fn too_many(retry_after_secs: u64, real_ms: u64, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", message);
        e.retry_after = Some((retry_after_secs, real_ms));
        e
    }
    /// 500 InternalServerError.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            message,
        )
    }
    /// 503 ServiceUnavailable.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            message,
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let target = uuid::Uuid::new_v4().to_string();
        let body = ErrorEnvelope::new(self.code, self.message, Some(target));
        let json = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
        let mut resp = (self.status, json).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(ODATA_CONTENT_TYPE),
        );
        h.insert("odata-version", HeaderValue::from_static("4.0"));
        if let Some((secs, ms)) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            h.insert("x-emulator-retry-after-ms", HeaderValue::from(ms));
        }
        if let Some(w) = self
            .www_authenticate
            .and_then(|w| HeaderValue::from_str(&w).ok())
        {
            h.insert(header::WWW_AUTHENTICATE, w);
        }
        resp
    }
}
