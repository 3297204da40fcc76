//! `GET /config.json`: the site configuration the web UI reads beside `index.html`
//! (docs: the `config.json` contract in `docs/deploy.md`, parsed by
//! `defender_tags_core::site_config`).
//!
//! A `config.json` in the `--static` directory wins (a bundle built for this emulator by
//! `cargo xtask dist`); otherwise the emulator describes itself: the demo client id, every tenant
//! it serves, and its own origin as the sign-in authority, the API and the Graph origin.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::DEMO_CLIENT_ID;
use crate::api::ApiError;
use crate::state::AppState;
use crate::web;

/// The configuration this emulator would give a UI reached at `origin`.
pub fn describe(st: &AppState, origin: &str) -> Value {
    let tenants: Vec<Value> = st
        .tenants()
        .iter()
        .map(|t| json!({ "id": t.id(), "name": t.tenant().name, "cloud": "commercial" }))
        .collect();
    json!({
        "clientId": DEMO_CLIENT_ID,
        "tenants": tenants,
        "authority": origin,
        "apiBaseUrl": origin,
        // The emulator also serves Graph's advanced hunting call (crates/emulator/README.md).
        "graphBaseUrl": origin,
        "basePath": "/",
    })
}

/// `GET /config.json`. Always `no-cache`: the UI must see a changed configuration on its next
/// load, and the file is tiny.
pub async fn config_json(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let no_cache = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    if let Some(dir) = &st.config.static_dir {
        let file = dir.join("config.json");
        match tokio::fs::read(&file).await {
            Ok(bytes) => return (no_cache, bytes).into_response(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::error!(path = %file.display(), error = %e, "cannot read config.json");
                return ApiError::internal(format!("cannot read config.json: {e}")).into_response();
            }
        }
    }
    // The same origin logic as the OIDC discovery document, so the UI signs in and calls the API
    // on the origin the browser used (or --public-url).
    let origin = st.public_origin(web::host(&headers).as_deref());
    match serde_json::to_vec_pretty(&describe(&st, &origin)) {
        Ok(body) => (StatusCode::OK, no_cache, body).into_response(),
        Err(e) => ApiError::internal(format!("serialisation failed: {e}")).into_response(),
    }
}
