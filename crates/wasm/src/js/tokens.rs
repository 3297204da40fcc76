//! Token providers backed by JS: a `getToken` callback, or a duck-typed MSAL instance.
//! Both keep only the *function*, never a token.

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::fetch::js_error_text;
use crate::token::{AccessToken, LocalBoxFuture, TokenError, TokenProvider, TokenRequest};

/// Awaits `value` if it is a thenable, else takes it as is.
async fn settle(value: JsValue) -> Result<JsValue, JsValue> {
    JsFuture::from(Promise::resolve(&value)).await
}

fn scopes_array(scopes: &[String]) -> js_sys::Array {
    scopes.iter().map(|s| JsValue::from_str(s)).collect()
}

fn provider_error(e: &JsValue) -> TokenError {
    TokenError::Provider(js_error_text(e))
}

/// `getToken({ scopes, forceRefresh }) => Promise<string> | string`.
pub(crate) struct CallbackTokens {
    pub get_token: Function,
}

impl CallbackTokens {
    async fn fetch(&self, request: TokenRequest) -> Result<AccessToken, TokenError> {
        let arg = Object::new();
        let _ = Reflect::set(&arg, &"scopes".into(), &scopes_array(&request.scopes));
        let _ = Reflect::set(&arg, &"forceRefresh".into(), &request.force_refresh.into());
        let returned = self
            .get_token
            .call1(&JsValue::NULL, &arg)
            .map_err(|e| provider_error(&e))?;
        let value = settle(returned).await.map_err(|e| provider_error(&e))?;
        let raw = value
            .as_string()
            .ok_or_else(|| TokenError::Provider("getToken must resolve to a string".into()))?;
        AccessToken::new(raw)
    }
}

impl TokenProvider for CallbackTokens {
    fn token(&self, request: TokenRequest) -> LocalBoxFuture<'_, Result<AccessToken, TokenError>> {
        Box::pin(self.fetch(request))
    }
}

/// `msal.acquireTokenSilent({ account, scopes, forceRefresh })` → `{ accessToken }`.
pub(crate) struct MsalTokens {
    pub msal: JsValue,
    pub acquire: Function,
    pub account: JsValue,
}

impl MsalTokens {
    async fn fetch(&self, request: TokenRequest) -> Result<AccessToken, TokenError> {
        let arg = Object::new();
        let _ = Reflect::set(&arg, &"account".into(), &self.account);
        let _ = Reflect::set(&arg, &"scopes".into(), &scopes_array(&request.scopes));
        let _ = Reflect::set(&arg, &"forceRefresh".into(), &request.force_refresh.into());
        let returned = self
            .acquire
            .call1(&self.msal, &arg)
            .map_err(|e| provider_error(&e))?;
        let result = settle(returned).await.map_err(|e| provider_error(&e))?;
        let raw = Reflect::get(&result, &"accessToken".into())
            .ok()
            .and_then(|v| v.as_string())
            .ok_or_else(|| {
                TokenError::Provider("acquireTokenSilent returned no accessToken".into())
            })?;
        AccessToken::new(raw)
    }
}

impl TokenProvider for MsalTokens {
    fn token(&self, request: TokenRequest) -> LocalBoxFuture<'_, Result<AccessToken, TokenError>> {
        Box::pin(self.fetch(request))
    }
}
