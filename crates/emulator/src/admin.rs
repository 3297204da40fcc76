//! Loopback-only test endpoints under `/_emulator/` (docs/design.md).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::auth::personas::{self, DEMO_DAEMON_APP_ID, PersonaKind};
use crate::auth::tokens::{MintOverrides, TOKEN_TTL_SECS, issuer_for, mint_access_with};
use crate::config::RETENTION_DAYS;
use crate::faults::{FaultConfig, FaultState};
use crate::state::AppState;
use crate::{DEMO_CLIENT_ID, DEMO_TENANT, dataset, web};

/// The admin routes (loopback peers only).
pub fn router(st: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/_emulator/token", post(token))
        .route("/_emulator/faults", get(get_faults).put(put_faults))
        .route("/_emulator/stats", get(stats))
        .route("/_emulator/reset", post(reset))
        .route("/_emulator/machines", get(all_machines))
        .route("/_emulator/machines/{id}", get(machine))
        .route("/_emulator/info", get(info))
        .layer(middleware::from_fn_with_state(st, loopback_only))
}

fn err(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({ "error": { "code": "EmulatorError", "message": message.into() } })),
    )
        .into_response()
}

async fn loopback_only(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    match req.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(addr)) if web::is_loopback(addr) => {}
        _ => {
            return err(
                StatusCode::FORBIDDEN,
                "/_emulator endpoints answer loopback clients only",
            );
        }
    }
    // The loopback check alone lets any web page open in the demo user's browser send a
    // "simple" cross-site POST (reset wipes the demo's data). Browsers name the page's origin;
    // only our own origins and `--cors-origin` ones may drive these endpoints. Tools that send
    // no Origin (Node, curl, test clients) are not browsers and pass.
    if let Some(origin) = req.headers().get(axum::http::header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let allowed = st
            .config
            .cors_origins
            .iter()
            .any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
            || st
                .served_origins(None)
                .iter()
                .any(|o| o.eq_ignore_ascii_case(origin));
        if !allowed {
            return err(
                StatusCode::FORBIDDEN,
                format!(
                    "/_emulator endpoints refuse requests from pages on other origins ({origin}); allow one with --cors-origin"
                ),
            );
        }
    }
    next.run(req).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    persona: String,
    #[serde(default)]
    ttl_secs: Option<i64>,
    #[serde(default)]
    app_id: Option<String>,
    /// Test override of the `aud` claim (wrong-audience tests).
    #[serde(default)]
    audience: Option<String>,
    /// Test override of `roles`/`scp` (missing-permission tests).
    #[serde(default)]
    permissions: Option<Vec<String>>,
}

async fn token(State(st): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let req: TokenRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return err(
                StatusCode::BAD_REQUEST,
                format!(
                    "expected {{\"persona\": \"app\"|\"analyst\"|\"reader\"|\"admin\", \"ttl_secs\"?: n, \"app_id\"?: s, \"audience\"?: s, \"permissions\"?: [s]}}: {e}"
                ),
            );
        }
    };
    let Some(persona) = personas::by_name(&req.persona) else {
        return err(
            StatusCode::BAD_REQUEST,
            format!(
                "unknown persona {:?}; known: app, analyst, reader, admin",
                req.persona
            ),
        );
    };
    let ttl = req.ttl_secs.unwrap_or(TOKEN_TTL_SECS);
    let app_id = req.app_id.unwrap_or_else(|| match persona.kind {
        PersonaKind::App => DEMO_DAEMON_APP_ID.to_owned(),
        PersonaKind::User => DEMO_CLIENT_ID.to_owned(),
    });
    let issuer = issuer_for(&st.public_origin(web::host(&headers).as_deref()));
    let overrides = MintOverrides {
        audience: req.audience,
        permissions: req.permissions,
    };
    match mint_access_with(&st.keys, &issuer, persona, &app_id, ttl, overrides) {
        Ok(t) => Json(json!({ "access_token": t, "token_type": "Bearer", "expires_in": ttl }))
            .into_response(),
        Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn get_faults(State(st): State<Arc<AppState>>) -> Response {
    Json(
        st.faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .config()
            .clone(),
    )
    .into_response()
}

async fn put_faults(State(st): State<Arc<AppState>>, body: Bytes) -> Response {
    let text = String::from_utf8_lossy(&body);
    match FaultConfig::from_json(&text) {
        Ok(cfg) => {
            *st.faults.lock().unwrap_or_else(|e| e.into_inner()) = FaultState::new(cfg.clone());
            tracing::info!(?cfg, "fault injection updated");
            Json(cfg).into_response()
        }
        Err(e) => err(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

async fn stats(State(st): State<Arc<AppState>>) -> Response {
    Json(st.stats.snapshot()).into_response()
}

async fn reset(State(st): State<Arc<AppState>>) -> Response {
    let (n, seed) = (st.config.machines, st.config.seed);
    let machines = match tokio::task::spawn_blocking(move || dataset::generate(n, seed)).await {
        Ok(m) => m,
        Err(e) => {
            return err(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("dataset generation failed: {e}"),
            );
        }
    };
    st.replace_machines(machines);
    st.stats.clear();
    st.limiter.clear();
    st.grants.lock().unwrap_or_else(|e| e.into_inner()).clear();
    *st.faults.lock().unwrap_or_else(|e| e.into_inner()) =
        FaultState::new(st.config.faults.clone());
    tracing::info!(machines = n, seed, "reset");
    Json(json!({ "machines": n, "seed": seed })).into_response()
}

async fn machine(State(st): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    let store = st.read();
    let found = store.index_of_id(&id).and_then(|i| store.get(i));
    match found {
        Some(m) => Json(m).into_response(),
        None => err(StatusCode::NOT_FOUND, format!("no machine with id {id}")),
    }
}

async fn all_machines(State(st): State<Arc<AppState>>) -> Response {
    let store = st.read();
    match serde_json::to_vec(store.machines()) {
        Ok(body) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn info(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let origin = st.public_origin(web::host(&headers).as_deref());
    let personas: Vec<_> = personas::PERSONAS
        .iter()
        .map(|p| json!({ "name": p.name, "username": p.username, "oid": p.oid,
                         "permissions": p.permissions, "groups": p.groups, "description": p.description }))
        .collect();
    Json(json!({
        "tenant": DEMO_TENANT,
        "client_id": DEMO_CLIENT_ID,
        "authority": format!("{origin}/{DEMO_TENANT}/v2.0"),
        "issuer": issuer_for(&origin),
        "time_scale": st.limiter.scale(),
        "retention_days": RETENTION_DAYS,
        "machines": st.read().len(),
        "seed": st.config.seed,
        "personas": personas,
    }))
    .into_response()
}
