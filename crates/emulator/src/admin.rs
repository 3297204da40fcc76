//! Loopback-only test endpoints under `/_emulator/` (docs/design.md).

use std::net::SocketAddr;
use std::sync::Arc;

use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
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
use crate::state::{AppState, TenantData};
use crate::{DEMO_CLIENT_ID, dataset, web};

/// The admin routes (loopback peers only).
pub fn router(st: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/_emulator/token", post(token))
        .route("/_emulator/faults", get(get_faults).put(put_faults))
        .route("/_emulator/stats", get(stats))
        .route("/_emulator/calls", get(calls))
        .route("/_emulator/reset", post(reset))
        .route("/_emulator/machines", get(all_machines))
        .route("/_emulator/machines/{id}", get(machine))
        .route("/_emulator/info", get(info))
        .route("/_emulator/sessions/expire", post(expire_sessions))
        .route(
            "/_emulator/tag-sources",
            get(get_tag_sources).put(put_tag_sources),
        )
        .route("/_emulator/tag-sources/sync", post(sync_tag_sources))
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

/// `?tenant=`: which tenant an endpoint reads or changes (id or domain; default the demo tenant).
#[derive(Deserialize)]
struct TenantQuery {
    tenant: Option<String>,
}

impl TenantQuery {
    /// The named tenant, the demo tenant when none is named, or a 400 naming the served ones.
    #[allow(clippy::result_large_err)] // a Response, built once per admin call
    fn pick<'a>(&self, st: &'a AppState) -> Result<&'a TenantData, Response> {
        match &self.tenant {
            None => Ok(st.demo()),
            Some(t) => st.tenant_by_path(t).ok_or_else(|| {
                err(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "tenant: {}",
                        crate::auth::oidc::unknown_tenant_message(st, t)
                    ),
                )
            }),
        }
    }
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
    /// Test override of the issuer's origin (foreign-issuer tests: a foreign `Host` can no
    /// longer produce one, it is answered 421).
    #[serde(default)]
    issuer_origin: Option<String>,
}

async fn token(
    State(st): State<Arc<AppState>>,
    Query(q): Query<TenantQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let td = match q.pick(&st) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let req: TokenRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return err(
                StatusCode::BAD_REQUEST,
                format!(
                    "expected {{\"persona\": \"app\"|\"analyst\"|\"reader\"|\"admin\", \"ttl_secs\"?: n, \"app_id\"?: s, \"audience\"?: s, \"permissions\"?: [s], \"issuer_origin\"?: s}}: {e}"
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
    let origin = req
        .issuer_origin
        .unwrap_or_else(|| st.public_origin(web::host(&headers).as_deref()));
    let overrides = MintOverrides {
        audience: req.audience,
        permissions: req.permissions,
    };
    match mint_access_with(
        &st.keys,
        &origin,
        td.tenant(),
        persona,
        &app_id,
        ttl,
        overrides,
    ) {
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

/// The calls the rate limiter accepted, oldest first, with the time scale their windows run at.
async fn calls(State(st): State<Arc<AppState>>) -> Response {
    Json(json!({ "time_scale": st.limiter.scale(), "calls": st.stats.accepted() })).into_response()
}

/// Regenerates every tenant's machines, or only the `?tenant=` one's; the rest of the state
/// (stats, rate windows, grants, faults, expired sessions) is always reset.
async fn reset(State(st): State<Arc<AppState>>, Query(q): Query<TenantQuery>) -> Response {
    let chosen: Vec<&TenantData> = match &q.tenant {
        None => st.tenants().iter().collect(),
        Some(_) => match q.pick(&st) {
            Ok(t) => vec![t],
            Err(resp) => return resp,
        },
    };
    let specs: Vec<_> = chosen.iter().map(|t| t.spec).collect();
    let generated = tokio::task::spawn_blocking(move || {
        specs
            .iter()
            .map(dataset::generate_tenant)
            .collect::<Vec<_>>()
    })
    .await;
    let generated = match generated {
        Ok(g) => g,
        Err(e) => {
            return err(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("dataset generation failed: {e}"),
            );
        }
    };
    for (td, machines) in chosen.iter().zip(generated) {
        st.replace_machines(td, machines);
    }
    st.stats.clear();
    st.limiter.clear();
    st.hunting_limiter.clear();
    {
        let mut sources = st.tag_sources.lock().unwrap_or_else(|e| e.into_inner());
        for td in &chosen {
            sources.remove(td.id());
        }
    }
    st.grants.lock().unwrap_or_else(|e| e.into_inner()).clear();
    *st.faults.lock().unwrap_or_else(|e| e.into_inner()) =
        FaultState::new(st.config.faults.clone());
    st.session_generation.store(0, Ordering::Release);
    st.tokens_not_before.store(0, Ordering::Release);
    let first = chosen.first().map_or(st.demo().spec, |t| t.spec);
    let tenants: Vec<_> = chosen
        .iter()
        .map(|t| json!({ "id": t.id(), "name": t.tenant().name, "machines": t.spec.machines, "seed": t.spec.seed }))
        .collect();
    tracing::info!(tenants = chosen.len(), "reset");
    Json(json!({ "machines": first.machines, "seed": first.seed, "tenants": tenants }))
        .into_response()
}

/// Ends every sign-in session: refresh tokens and codes are forgotten, sign-in cookies no longer
/// sign anyone in silently, and access tokens issued until now are refused as expired. Answers
/// once the clock has passed into the next second, so any token minted after the answer (whose
/// `iat` has whole-second precision) is accepted.
async fn expire_sessions(State(st): State<Arc<AppState>>) -> Response {
    let now = time::OffsetDateTime::now_utc();
    let cutoff = now.unix_timestamp();
    st.session_generation.fetch_add(1, Ordering::AcqRel);
    st.tokens_not_before.store(cutoff, Ordering::Release);
    st.grants.lock().unwrap_or_else(|e| e.into_inner()).clear();
    let into_next_second = std::time::Duration::from_nanos(
        1_000_000_000u64.saturating_sub(u64::from(now.nanosecond())) + 1_000_000,
    );
    tokio::time::sleep(into_next_second).await;
    tracing::info!(cutoff, "sessions expired");
    Json(json!({ "tokens_issued_until": cutoff })).into_response()
}

async fn machine(
    State(st): State<Arc<AppState>>,
    Query(q): Query<TenantQuery>,
    Path(id): Path<String>,
) -> Response {
    let td = match q.pick(&st) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let store = td.read();
    let found = store.index_of_id(&id).and_then(|i| store.get(i));
    match found {
        Some(m) => Json(m).into_response(),
        None => err(StatusCode::NOT_FOUND, format!("no machine with id {id}")),
    }
}

async fn all_machines(State(st): State<Arc<AppState>>, Query(q): Query<TenantQuery>) -> Response {
    let td = match q.pick(&st) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let store = td.read();
    match serde_json::to_vec(store.machines()) {
        Ok(body) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// The selected tenant's (`?tenant=`, default the demo tenant) id, authority, issuer, machine
/// count and seed at the top level, as before there were several, plus every served tenant.
async fn info(
    State(st): State<Arc<AppState>>,
    Query(q): Query<TenantQuery>,
    headers: HeaderMap,
) -> Response {
    let td = match q.pick(&st) {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    let origin = st.public_origin(web::host(&headers).as_deref());
    let personas: Vec<_> = personas::PERSONAS
        .iter()
        .map(|p| json!({ "name": p.name, "username": p.username(td.tenant()), "oid": p.oid,
                         "permissions": p.permissions, "graph_permissions": p.graph_permissions, "groups": p.groups, "description": p.description }))
        .collect();
    let tenants: Vec<_> = st
        .tenants()
        .iter()
        .map(|t| {
            json!({
                "id": t.id(),
                "name": t.tenant().name,
                "domain": t.tenant().domain,
                "authority": format!("{origin}/{}/v2.0", t.id()),
                "machines": t.read().len(),
                "seed": t.spec.seed,
            })
        })
        .collect();
    let t = td.id();
    Json(json!({
        "tenant": t,
        "tenant_name": td.tenant().name,
        "client_id": DEMO_CLIENT_ID,
        "authority": format!("{origin}/{t}/v2.0"),
        "issuer": issuer_for(&origin, t),
        "time_scale": st.limiter.scale(),
        "retention_days": RETENTION_DAYS,
        "machines": td.read().len(),
        "seed": td.spec.seed,
        "tenants": tenants,
        "personas": personas,
    }))
    .into_response()
}

/// `GET /_emulator/tag-sources[?tenant=]`: the tenant's registry values and rules.
async fn get_tag_sources(
    State(st): State<Arc<AppState>>,
    Query(q): Query<TenantQuery>,
) -> Response {
    match q.pick(&st) {
        Ok(td) => Json(st.tag_sources(td.id())).into_response(),
        Err(resp) => resp,
    }
}

/// `PUT /_emulator/tag-sources[?tenant=]` with `{"registry": {id: tag}, "rules": [{"tag",
/// "namePrefix"?, "osPlatform"?}]}`: replaces the tenant's sources, then syncs at once (the
/// devices report their values, the rules run), as a new registry value or rule would.
async fn put_tag_sources(
    State(st): State<Arc<AppState>>,
    Query(q): Query<TenantQuery>,
    body: Bytes,
) -> Response {
    let td = match q.pick(&st) {
        Ok(td) => td,
        Err(resp) => return resp,
    };
    let sources = match serde_json::from_slice::<crate::hunting::sources::TagSources>(&body)
        .map_err(|e| e.to_string())
        .and_then(crate::hunting::sources::TagSources::validate)
    {
        Ok(s) => s,
        Err(e) => return err(StatusCode::BAD_REQUEST, e),
    };
    st.tag_sources
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(td.id().to_owned(), sources.clone());
    let added = st.sync_tag_sources(true);
    Json(json!({ "sources": sources, "added": added })).into_response()
}

/// `POST /_emulator/tag-sources/sync`: a sync now (rules and registry), without waiting for
/// the scheduled ones.
async fn sync_tag_sources(State(st): State<Arc<AppState>>) -> Response {
    Json(json!({ "added": st.sync_tag_sources(true) })).into_response()
}
