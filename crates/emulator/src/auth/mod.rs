//! Dev identity provider (OIDC discovery, JWKS, authorize, token, logout) and API token checks.

pub mod authorize;
pub mod grants;
pub mod keys;
pub mod oidc;
pub mod personas;
pub mod tokens;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, Method};
use axum::routing::get;
use tower_http::cors::{AllowHeaders, AllowOrigin, Any, CorsLayer};

use crate::state::AppState;

/// The identity provider's routes. Discovery and keys allow any origin, as Entra's metadata
/// does (public documents); the token endpoint only the pages that may sign in
/// ([`AppState::sign_in_origin_allowed`]); authorize and logout are navigations.
pub fn router(st: Arc<AppState>) -> Router<Arc<AppState>> {
    let cors = |origin: AllowOrigin| {
        CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([Method::GET, Method::POST])
            // The requested headers, echoed: `*` would not cover `Authorization` (Fetch
            // standard).
            .allow_headers(AllowHeaders::mirror_request())
            .max_age(std::time::Duration::from_secs(86_400))
    };
    let token = Router::new()
        .route(
            "/{tenant}/oauth2/v2.0/token",
            axum::routing::post(oidc::token),
        )
        .layer(cors(AllowOrigin::predicate(
            move |origin: &HeaderValue, _| {
                origin.to_str().is_ok_and(|o| st.sign_in_origin_allowed(o))
            },
        )));
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
        .layer(cors(AllowOrigin::from(Any)));
    Router::new()
        .route(
            "/{tenant}/oauth2/v2.0/authorize",
            get(authorize::show).post(authorize::submit),
        )
        .route("/{tenant}/oauth2/v2.0/logout", get(oidc::logout))
        .route("/_idp/picker.css", get(authorize::css))
        .merge(fetched)
        .merge(token)
}
