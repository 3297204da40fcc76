//! Bindings to `www/auth.js` (the MSAL glue, exposed as `globalThis.defenderTagsAuth`).
//!
//! The token returned by [`get_token`] goes straight to the API client's token provider; it is
//! never stored, logged or shown. Natively (unit tests) every call fails with
//! [`AuthError::Unavailable`].

use serde::{Deserialize, Serialize};

/// What `auth.js` needs to set MSAL up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthConfig {
    /// Application (client) id.
    pub client_id: String,
    /// Authority URL.
    pub authority: String,
    /// Where Entra ID (or the emulator) sends the browser back to.
    pub redirect_uri: String,
    /// Scopes to request.
    pub scopes: Vec<String>,
    /// Demo mode: alias the emulator's http origin for MSAL (see `auth.js`).
    pub demo: bool,
    /// The tenant's id when it is a GUID (else empty): MSAL only uses a cached account of this
    /// tenant, so a tenant switch never reuses the other tenant's sign-in.
    pub tenant_id: String,
}

/// The signed-in account.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// Display name.
    pub name: String,
    /// User principal name / e-mail.
    pub username: String,
    /// Tenant id.
    #[serde(default)]
    pub tenant_id: String,
}

/// A token and the permission claims read from it.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    /// The bearer token. Not `Debug`: see the impl below.
    pub access_token: String,
    /// Delegated scopes.
    #[serde(default)]
    pub scp: Vec<String>,
    /// Application roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Audience (`aud`), space-separated when several.
    #[serde(default)]
    pub aud: String,
    /// Tenant id (`tid`).
    #[serde(default)]
    pub tid: String,
    /// Issuer (`iss`).
    #[serde(default)]
    pub iss: String,
    /// Expiry, seconds since the Unix epoch (`exp`); 0 when absent.
    #[serde(default)]
    pub exp: i64,
}

impl std::fmt::Debug for TokenInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenInfo")
            .field("access_token", &"<redacted>")
            .field("scp", &self.scp)
            .field("roles", &self.roles)
            .field("aud", &self.aud)
            .field("tid", &self.tid)
            .field("iss", &self.iss)
            .field("exp", &self.exp)
            .finish()
    }
}

/// Why MSAL could not do what was asked. The message is MSAL's (`code: text`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// `auth.js` or MSAL is not loaded (native tests, a broken build).
    #[error("sign-in is not available: {0}")]
    Unavailable(String),
    /// The user must sign in again; MSAL is redirecting.
    #[error("redirecting to sign in")]
    Redirecting,
    /// The sign-in needs the user, but the page must not leave now (a bulk run is in flight;
    /// see [`hold_redirects`]). The text says what to do.
    #[error("{0}")]
    SignInRequired(String),
    /// Any other MSAL failure.
    #[error("{0}")]
    Msal(String),
}

#[cfg(target_arch = "wasm32")]
mod js {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(js_namespace = defenderTagsAuth, js_name = init, catch)]
        pub fn init(config: JsValue) -> Result<js_sys::Promise, JsValue>;
        #[wasm_bindgen(js_namespace = defenderTagsAuth, js_name = signIn, catch)]
        pub fn sign_in() -> Result<js_sys::Promise, JsValue>;
        #[wasm_bindgen(js_namespace = defenderTagsAuth, js_name = signOut, catch)]
        pub fn sign_out() -> Result<js_sys::Promise, JsValue>;
        #[wasm_bindgen(js_namespace = defenderTagsAuth, js_name = getToken, catch)]
        pub fn get_token(force_refresh: bool) -> Result<js_sys::Promise, JsValue>;
        #[wasm_bindgen(js_namespace = defenderTagsAuth, js_name = getToken, catch)]
        pub fn get_token_for(
            force_refresh: bool,
            scopes: Vec<String>,
        ) -> Result<js_sys::Promise, JsValue>;
        #[wasm_bindgen(js_namespace = defenderTagsAuth, js_name = holdRedirects, catch)]
        pub fn hold_redirects(held: bool) -> Result<(), JsValue>;
    }
}

#[cfg(target_arch = "wasm32")]
fn message(e: wasm_bindgen::JsValue) -> AuthError {
    let text = defender_tags_wasm::fetch::js_error_text(&e);
    if text.starts_with("interaction_required") {
        AuthError::Redirecting
    } else if let Some(rest) = text.strip_prefix("sign_in_required: ") {
        AuthError::SignInRequired(rest.to_owned())
    } else {
        AuthError::Msal(text)
    }
}

#[cfg(target_arch = "wasm32")]
async fn call(
    promise: Result<js_sys::Promise, wasm_bindgen::JsValue>,
) -> Result<wasm_bindgen::JsValue, AuthError> {
    let promise = promise.map_err(|e| AuthError::Unavailable(format!("{}", message(e))))?;
    wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .map_err(message)
}

/// Sets MSAL up and completes a redirect sign-in; the account if someone is signed in.
pub async fn init(config: &AuthConfig) -> Result<Option<Account>, AuthError> {
    #[cfg(target_arch = "wasm32")]
    {
        let value =
            serde_wasm_bindgen::to_value(config).map_err(|e| AuthError::Msal(e.to_string()))?;
        let out = call(js::init(value)).await?;
        if out.is_null() || out.is_undefined() {
            return Ok(None);
        }
        serde_wasm_bindgen::from_value(out)
            .map(Some)
            .map_err(|e| AuthError::Msal(e.to_string()))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = config;
        Err(AuthError::Unavailable("not running in a browser".into()))
    }
}

/// Starts the redirect sign-in; on success the page navigates away.
pub async fn sign_in() -> Result<(), AuthError> {
    #[cfg(target_arch = "wasm32")]
    {
        call(js::sign_in()).await.map(|_| ())
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        Err(AuthError::Unavailable("not running in a browser".into()))
    }
}

/// Forgets the account in this tab.
pub async fn sign_out() -> Result<(), AuthError> {
    #[cfg(target_arch = "wasm32")]
    {
        call(js::sign_out()).await.map(|_| ())
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        Err(AuthError::Unavailable("not running in a browser".into()))
    }
}

/// A token for the configured scopes (silent, else an interactive redirect).
pub async fn get_token(force_refresh: bool) -> Result<TokenInfo, AuthError> {
    #[cfg(target_arch = "wasm32")]
    {
        let out = call(js::get_token(force_refresh)).await?;
        serde_wasm_bindgen::from_value(out).map_err(|e| AuthError::Msal(e.to_string()))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = force_refresh;
        Err(AuthError::Unavailable("not running in a browser".into()))
    }
}

/// A token for other scopes than the sign-in's (the Microsoft Graph scope of advanced hunting),
/// silently only: a token that needs the user fails with MSAL's `consent_required` text instead
/// of redirecting, because hunting is optional and must not send anyone away from the page.
pub async fn get_token_for(scopes: &[String], force_refresh: bool) -> Result<TokenInfo, AuthError> {
    #[cfg(target_arch = "wasm32")]
    {
        let out = call(js::get_token_for(force_refresh, scopes.to_vec())).await?;
        serde_wasm_bindgen::from_value(out).map_err(|e| AuthError::Msal(e.to_string()))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (scopes, force_refresh);
        Err(AuthError::Unavailable("not running in a browser".into()))
    }
}

/// While `held`, a token that needs user interaction fails instead of redirecting away from the
/// page (see [`crate::bulk::guard`]). Without the app's sign-in glue (an embedder's own token
/// callback) there is nothing to hold, and this does nothing.
pub fn hold_redirects(held: bool) {
    #[cfg(target_arch = "wasm32")]
    {
        let _ = js::hold_redirects(held);
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = held;
    }
}
