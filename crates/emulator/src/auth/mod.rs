//! Dev identity provider (OIDC discovery, JWKS, authorize, token, logout) and API token checks.

pub mod authorize;
pub mod grants;
pub mod keys;
pub mod oidc;
pub mod personas;
pub mod tokens;

use std::sync::Arc;

use axum::Router;
use axum::http::Method;
use axum::routing::get;
use tower_http::cors::{AllowHeaders, Any, CorsLayer};

use crate::state::AppState;

/// The identity provider's routes. Discovery, keys and token allow any origin, as Entra does
/// (SPAs redeem codes cross-origin); authorize and logout are navigations.
pub fn router() -> Router<Arc<AppState>> {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST])
        // The requested headers, echoed: `*` would not cover `Authorization` (Fetch standard).
        .allow_headers(AllowHeaders::mirror_request())
        .max_age(std::time::Duration::from_secs(86_400));
    let fetched = Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(oidc::discovery),
        )
        .route(
            "/{tenant}/.well-known/openid-configuration",
            get(oidc::discovery),
        )
        .route("/{tenant}/discovery/v2.0/keys", get(oidc::jwks))
        .route("/{tenant}/discovery/keys", get(oidc::jwks))
        .route(
            "/{tenant}/discovery/instance",
            get(oidc::instance_discovery),
        )
        .route(
            "/{tenant}/oauth2/v2.0/token",
            axum::routing::post(oidc::token),
        )
        .layer(cors);
    Router::new()
        .route(
            "/{tenant}/oauth2/v2.0/authorize",
            get(authorize::show).post(authorize::submit),
        )
        .route("/{tenant}/oauth2/v2.0/logout", get(oidc::logout))
        .route("/_idp/picker.css", get(authorize::css))
        .merge(fetched)
}
