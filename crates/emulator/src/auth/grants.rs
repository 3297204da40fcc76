//! Authorization codes and refresh tokens, in memory only.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Authorization codes live this long (Entra: about 10 minutes).
pub const CODE_TTL: Duration = Duration::from_secs(600);
/// Refresh tokens live this long (SPA refresh tokens: 24 hours).
pub const REFRESH_TTL: Duration = Duration::from_secs(24 * 3600);

/// A pending authorization code.
#[derive(Debug, Clone)]
pub struct CodeGrant {
    /// Persona short name.
    pub persona: &'static str,
    /// Tenant the user signed in to (the authorize request's authority path).
    pub tenant: &'static str,
    /// Client that asked.
    pub client_id: String,
    /// Redirect URI it must present again.
    pub redirect_uri: String,
    /// PKCE S256 challenge.
    pub code_challenge: String,
    /// Nonce to echo in the ID token.
    pub nonce: Option<String>,
    /// Requested scopes.
    pub scope: String,
    issued: Instant,
}

/// A live refresh token.
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    /// Persona short name.
    pub persona: &'static str,
    /// Client it was issued to.
    pub client_id: String,
    /// Scopes granted.
    pub scope: String,
    issued: Instant,
}

/// Code and refresh-token tables.
#[derive(Debug, Default)]
pub struct Grants {
    codes: HashMap<String, CodeGrant>,
    refresh: HashMap<String, RefreshGrant>,
}

/// 32 random bytes, base64url.
pub fn random_token() -> String {
    let mut b = [0u8; 32];
    if getrandom::fill(&mut b).is_err() {
        // The OS RNG failing is not recoverable in a meaningful way; fall back to a v4 UUID
        // pair, which uses the same source but may have its own fallback.
        return format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
    }
    URL_SAFE_NO_PAD.encode(b)
}

/// The S256 PKCE transform: base64url(sha256(verifier)).
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl Grants {
    /// Stores a new code and returns it.
    #[allow(clippy::too_many_arguments)]
    pub fn issue_code(
        &mut self,
        persona: &'static str,
        tenant: &'static str,
        client_id: &str,
        redirect_uri: &str,
        code_challenge: &str,
        nonce: Option<String>,
        scope: &str,
    ) -> String {
        let now = Instant::now();
        self.codes
            .retain(|_, g| now.duration_since(g.issued) < CODE_TTL);
        let code = random_token();
        self.codes.insert(
            code.clone(),
            CodeGrant {
                persona,
                tenant,
                client_id: client_id.into(),
                redirect_uri: redirect_uri.into(),
                code_challenge: code_challenge.into(),
                nonce,
                scope: scope.into(),
                issued: now,
            },
        );
        code
    }

    /// Takes a code (single use). `None` if unknown, used or expired.
    pub fn take_code(&mut self, code: &str) -> Option<CodeGrant> {
        let g = self.codes.remove(code)?;
        (g.issued.elapsed() < CODE_TTL).then_some(g)
    }

    /// Stores a new refresh token and returns it.
    pub fn issue_refresh(&mut self, persona: &'static str, client_id: &str, scope: &str) -> String {
        let now = Instant::now();
        self.refresh
            .retain(|_, g| now.duration_since(g.issued) < REFRESH_TTL);
        let token = random_token();
        self.refresh.insert(
            token.clone(),
            RefreshGrant {
                persona,
                client_id: client_id.into(),
                scope: scope.into(),
                issued: now,
            },
        );
        token
    }

    /// Looks a refresh token up (it stays valid until it expires, as Entra's do).
    pub fn refresh(&self, token: &str) -> Option<RefreshGrant> {
        self.refresh
            .get(token)
            .filter(|g| g.issued.elapsed() < REFRESH_TTL)
            .cloned()
    }

    /// Forgets every code and refresh token (reset, expired sessions).
    pub fn clear(&mut self) {
        self.codes.clear();
        self.refresh.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc7636_appendix_b() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn codes_are_single_use() {
        let mut g = Grants::default();
        let c = g.issue_code(
            "analyst",
            crate::DEMO_TENANT,
            "cid",
            "http://x/",
            "ch",
            None,
            "openid",
        );
        assert!(g.take_code(&c).is_some());
        assert!(g.take_code(&c).is_none());
        assert!(g.take_code("nope").is_none());
    }
}
