//! OIDC discovery, JWKS, the token endpoint and logout, shaped like Entra ID's v2 endpoints.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use super::grants::s256;
use super::personas::{self, Persona};
use super::tokens::{
    MintOverrides, TOKEN_TTL_SECS, audience_for_scope, issuer_for, mint_access_with, mint_id,
};
use crate::state::{AppState, TenantData};
use crate::tenants::Tenant;
use crate::web;

/// Entra-style OAuth error body.
pub fn oauth_error(status: StatusCode, error: &str, aadsts: u32, description: &str) -> Response {
    let now = time::OffsetDateTime::now_utc();
    let ts = defender_tags_core::model::datetime::format_datetime(now);
    let trace = uuid::Uuid::new_v4().to_string();
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{aadsts}: {description} Trace ID: {trace} Timestamp: {ts}"),
        "error_codes": [aadsts],
        "timestamp": ts,
        "trace_id": trace,
        "correlation_id": uuid::Uuid::new_v4().to_string(),
    });
    (status, no_store(), Json(body)).into_response()
}

fn no_store() -> [(header::HeaderName, HeaderValue); 2] {
    [
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store, no-cache"),
        ),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}

/// What an unknown tenant in an authority path gets (AADSTS90002), naming the served ones.
pub fn unknown_tenant_message(st: &AppState, t: &str) -> String {
    let served: Vec<String> = st
        .tenants()
        .iter()
        .map(|d| format!("{} ({})", d.id(), d.tenant().name))
        .collect();
    format!(
        "Tenant '{}' not found. This emulator serves: {}.",
        t.chars().take(64).collect::<String>(),
        served.join(", ")
    )
}

fn unknown_tenant(st: &AppState, t: &str) -> Response {
    oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_tenant",
        90002,
        &unknown_tenant_message(st, t),
    )
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration` (and the v1-style path).
pub async fn discovery(
    State(st): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(td) = st.tenant_by_path(&tenant) else {
        return unknown_tenant(&st, &tenant);
    };
    let base = st.public_origin(web::host(&headers).as_deref());
    let t = td.id();
    let host = base.split("://").nth(1).unwrap_or(&base).to_owned();
    Json(json!({
        "token_endpoint": format!("{base}/{t}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{t}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": issuer_for(&base, t),
        "request_uri_parameter_supported": false,
        "authorization_endpoint": format!("{base}/{t}/oauth2/v2.0/authorize"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/{t}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "name", "nonce", "oid",
                             "preferred_username", "tid", "ver"],
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "tenant_region_scope": "NA",
        "cloud_instance_name": host,
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
    }))
    .into_response()
}

/// `GET /{tenant}/discovery/instance` (MSAL's cloud instance discovery, for completeness).
pub async fn instance_discovery(
    State(st): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    // Answered for any path, as before there were several tenants: MSAL may ask under
    // `common` whatever tenant it signs in to, and the answer only names hosts.
    let t = st.tenant_by_path(&tenant).unwrap_or(st.demo()).id();
    let base = st.public_origin(web::host(&headers).as_deref());
    let host = base.split("://").nth(1).unwrap_or(&base).to_owned();
    Json(json!({
        "tenant_discovery_endpoint": format!("{base}/{t}/v2.0/.well-known/openid-configuration"),
        "api-version": "1.1",
        "metadata": [{ "preferred_network": host, "preferred_cache": host, "aliases": [host] }],
    }))
    .into_response()
}

/// `GET /{tenant}/discovery/v2.0/keys`: one key for every tenant (the key's `issuer` names the
/// path's tenant, or the demo tenant for an unknown one, as before there were several).
pub async fn jwks(
    State(st): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
) -> Response {
    let base = st.public_origin(web::host(&headers).as_deref());
    let t = st.tenant_by_path(&tenant).unwrap_or(st.demo()).id();
    Json(st.keys.jwks(&issuer_for(&base, t))).into_response()
}

/// `client_info`: base64url JSON `{"uid","utid"}` (MSAL builds the account id from it). Each
/// demo tenant is the home tenant of its users, so MSAL keeps one account per tenant.
pub fn client_info(persona: &Persona, tenant: &Tenant) -> String {
    URL_SAFE_NO_PAD.encode(json!({ "uid": persona.oid, "utid": tenant.id }).to_string())
}

/// `POST /{tenant}/oauth2/v2.0/token`: authorization_code (+PKCE), refresh_token,
/// client_credentials.
pub async fn token(
    State(st): State<Arc<AppState>>,
    Path(tenant): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    // CORS alone would only stop a foreign page from reading the answer; a form POST would
    // still be served. Browsers name the calling page, so a foreign one is refused outright.
    let page = headers
        .get(header::ORIGIN)
        .map(|o| o.to_str().unwrap_or("").to_owned());
    if let Some(origin) = &page
        && !st.sign_in_origin_allowed(origin)
    {
        return oauth_error(
            StatusCode::FORBIDDEN,
            "invalid_request",
            9002326,
            &format!(
                "Pages on {} may not call this token endpoint; allow the origin with --cors-origin or --redirect-origin.",
                origin.chars().take(100).collect::<String>()
            ),
        );
    }
    let Some(td) = st.tenant_by_path(&tenant) else {
        return unknown_tenant(&st, &tenant);
    };
    let Ok(Form(p)) = form else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must be application/x-www-form-urlencoded.",
        );
    };
    let get = |k: &str| p.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let Some(client_id) = get("client_id") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    };
    let origin = st.public_origin(web::host(&headers).as_deref());
    let issued = Issued {
        origin: &origin,
        tenant: td,
    };
    match get("grant_type") {
        Some("authorization_code") => {
            let (Some(code), Some(redirect_uri)) = (get("code"), get("redirect_uri")) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    900144,
                    "The request body must contain the following parameters: 'code' and 'redirect_uri'.",
                );
            };
            let grant = st
                .grants
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take_code(code);
            let Some(grant) = grant else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    70008,
                    "The provided authorization code is invalid, expired or already redeemed.",
                );
            };
            if grant.client_id != client_id {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    700005,
                    "The authorization code was issued to another client.",
                );
            }
            if grant.tenant != td.id() {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    700005,
                    "The authorization code was issued for another tenant.",
                );
            }
            if grant.redirect_uri != redirect_uri {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    50148,
                    "The redirect_uri does not match the one used in the authorization request.",
                );
            }
            let Some(verifier) = get("code_verifier") else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    9002325,
                    "Proof Key for Code Exchange is required: code_verifier is missing.",
                );
            };
            if s256(verifier) != grant.code_challenge {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    501481,
                    "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
                );
            }
            let Some(persona) = personas::by_name(grant.persona) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    50034,
                    "The user account does not exist.",
                );
            };
            user_tokens(&st, &issued, persona, client_id, &grant.scope, grant.nonce)
        }
        Some("refresh_token") => {
            let Some(rt) = get("refresh_token") else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    900144,
                    "The request body must contain the following parameter: 'refresh_token'.",
                );
            };
            let grant = st
                .grants
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .refresh(rt);
            let Some(grant) = grant else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    700082,
                    "The refresh token is invalid or has expired.",
                );
            };
            if grant.client_id != client_id {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    700005,
                    "The refresh token was issued to another client.",
                );
            }
            let Some(persona) = personas::by_name(grant.persona) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    50034,
                    "The user account does not exist.",
                );
            };
            let scope = get("scope").map_or(grant.scope.clone(), str::to_owned);
            user_tokens(&st, &issued, persona, client_id, &scope, None)
        }
        Some("client_credentials") => {
            // The emulator checks no secret (every value works), so whoever may ask mints a
            // write token: the same callers as `/_emulator/token`, i.e. loopback tools and no
            // browser page at all (a daemon has no page, and no SPA may hold a secret).
            if !web::is_loopback(&peer) || page.is_some() {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized_client",
                    700016,
                    "client_credentials is served to loopback tools only (no browser page): the emulator accepts any secret.",
                );
            }
            if get("client_secret").is_none() && get("client_assertion").is_none() {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    7000218,
                    "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
                );
            }
            let scope = get("scope").unwrap_or("");
            if !scope.split_whitespace().all(|s| s.ends_with("/.default"))
                || scope.trim().is_empty()
            {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    1002012,
                    "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.",
                );
            }
            let Some(app) = personas::by_name("app") else {
                return oauth_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    90000,
                    "The app persona is missing.",
                );
            };
            match mint_access_with(
                &st.keys,
                &origin,
                td.tenant(),
                app,
                client_id,
                TOKEN_TTL_SECS,
                MintOverrides {
                    audience: Some(audience_for_scope(scope).to_owned()),
                    permissions: None,
                },
            ) {
                Ok(at) => token_json(json!({
                    "token_type": "Bearer",
                    "expires_in": TOKEN_TTL_SECS,
                    "ext_expires_in": TOKEN_TTL_SECS,
                    "access_token": at,
                })),
                Err(e) => oauth_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    90000,
                    &e.to_string(),
                ),
            }
        }
        Some(other) => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            &format!(
                "The app requested an unsupported grant type '{}'.",
                other.chars().take(64).collect::<String>()
            ),
        ),
        None => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        ),
    }
}

/// Where tokens are being issued: the issuer's origin and the authority path's tenant.
struct Issued<'a> {
    origin: &'a str,
    tenant: &'a TenantData,
}

fn user_tokens(
    st: &AppState,
    issued: &Issued<'_>,
    persona: &'static Persona,
    client_id: &str,
    scope: &str,
    nonce: Option<String>,
) -> Response {
    let tenant = issued.tenant.tenant();
    // A scope naming Microsoft Graph gets a Graph token (with the persona's Graph
    // permissions), as Entra ID issues one token per resource.
    let access = mint_access_with(
        &st.keys,
        issued.origin,
        tenant,
        persona,
        client_id,
        TOKEN_TTL_SECS,
        MintOverrides {
            audience: Some(audience_for_scope(scope).to_owned()),
            permissions: None,
        },
    );
    let id = mint_id(&st.keys, issued.origin, tenant, persona, client_id, nonce);
    let (Ok(access), Ok(id)) = (access, id) else {
        return oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            90000,
            "Signing failed.",
        );
    };
    let refresh = st
        .grants
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .issue_refresh(persona.name, client_id, scope);
    token_json(json!({
        "token_type": "Bearer",
        "scope": scope,
        "expires_in": TOKEN_TTL_SECS,
        "ext_expires_in": TOKEN_TTL_SECS,
        "access_token": access,
        "refresh_token": refresh,
        "refresh_token_expires_in": super::grants::REFRESH_TTL.as_secs(),
        "id_token": id,
        "client_info": client_info(persona, tenant),
    }))
}

fn token_json(v: serde_json::Value) -> Response {
    (StatusCode::OK, no_store(), Json(v)).into_response()
}

/// `GET /{tenant}/oauth2/v2.0/logout`: forgets the sign-in cookie and goes back, if "back" is
/// a page that may sign in; else it shows the signed-out page (never an open redirect).
pub async fn logout(
    State(st): State<Arc<AppState>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let clear = [(
        header::SET_COOKIE,
        HeaderValue::from_static(super::authorize::CLEAR_SESSION_COOKIE),
    )];
    match q.get("post_logout_redirect_uri") {
        Some(uri) if super::authorize::valid_redirect(&st, uri) => {
            (clear, Redirect::to(uri)).into_response()
        }
        _ => (
            clear,
            Html(
                "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Signed out</title>\
                 <link rel=\"stylesheet\" href=\"/_idp/picker.css\"></head><body><main><h1>Signed out</h1>\
                 <p>You are signed out of the Defender emulator.</p></main></body></html>",
            ),
        )
            .into_response(),
    }
}
