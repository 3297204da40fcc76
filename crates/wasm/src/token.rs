//! Bearer tokens: asked for on every request, never kept.
//!
//! The client never stores, caches or logs a token: the provider (MSAL, a portal's own session,
//! a test harness) owns the token's life. `AccessToken` exists only for the duration of one
//! request and prints as `<redacted>` so it cannot leak through `Debug` into logs or errors.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// A boxed, `!Send` future: browser futures hold `JsValue`s and cannot cross threads.
pub type LocalBoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// A bearer token for the Defender API.
///
/// Deliberately neither `Display` nor `Serialize`; `Debug` prints `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    /// Wraps a raw token. An empty or blank token is refused: sending `Bearer ` would only
    /// produce a confusing 401 from the API.
    pub fn new(raw: impl Into<String>) -> Result<Self, TokenError> {
        let raw = raw.into();
        if raw.trim().is_empty() {
            return Err(TokenError::Empty);
        }
        if raw.chars().any(|c| c.is_control() || c == ' ') {
            return Err(TokenError::Malformed);
        }
        Ok(Self(raw))
    }

    /// The `Authorization` header value. Crate-private: only the transport sees the secret.
    pub(crate) fn bearer_header(&self) -> String {
        format!("Bearer {}", self.0)
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

/// What the client asks the provider for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// Scopes configured on the client (e.g. `https://api.securitycenter.microsoft.com/.default`).
    pub scopes: Vec<String>,
    /// True after the API answered 401: the provider must bypass its cache.
    pub force_refresh: bool,
}

/// Why no token could be had. Never carries the token itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The provider returned an empty string.
    #[error("the token provider returned an empty token")]
    Empty,
    /// The provider returned something that cannot be a bearer token (spaces, control characters).
    #[error("the token provider returned a malformed token")]
    Malformed,
    /// The provider failed; the message is the provider's own (e.g. MSAL's interaction_required).
    #[error("the token provider failed: {0}")]
    Provider(String),
}

/// Source of bearer tokens, asked once per request (twice after a 401).
///
/// Implemented for closures `Fn(TokenRequest) -> impl Future<Output = Result<AccessToken, TokenError>>`,
/// so the web UI can pass an `async move` block over its MSAL wrapper.
pub trait TokenProvider {
    /// Returns a token for `request.scopes`; a fresh one when `request.force_refresh`.
    fn token(&self, request: TokenRequest) -> LocalBoxFuture<'_, Result<AccessToken, TokenError>>;
}

impl<F, Fut> TokenProvider for F
where
    F: Fn(TokenRequest) -> Fut,
    Fut: Future<Output = Result<AccessToken, TokenError>> + 'static,
{
    fn token(&self, request: TokenRequest) -> LocalBoxFuture<'_, Result<AccessToken, TokenError>> {
        Box::pin(self(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let token = AccessToken::new("eyJhbGciOiJSUzI1NiJ9.secret-part").unwrap();
        let printed = format!("{token:?} {:?}", Some(&token));
        assert!(!printed.contains("secret-part"), "{printed}");
        assert!(printed.contains("<redacted>"));
    }

    #[test]
    fn empty_blank_and_malformed_tokens_are_refused() {
        assert_eq!(AccessToken::new(""), Err(TokenError::Empty));
        assert_eq!(AccessToken::new("   "), Err(TokenError::Empty));
        assert_eq!(AccessToken::new("a b"), Err(TokenError::Malformed));
        assert_eq!(AccessToken::new("a\nb"), Err(TokenError::Malformed));
        assert_eq!(
            AccessToken::new("abc").unwrap().bearer_header(),
            "Bearer abc"
        );
    }
}
