//! Binding, the accept loop (hyper directly, so injected faults can drop a connection without
//! answering), routing, static files, CORS, periodic persistence and graceful shutdown.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceExt as _;
use tower_http::cors::{AllowHeaders, AllowOrigin, Any, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};

use crate::api::{self, ApiError};
use crate::auth::keys::{KeyError, SigningKeys};
use crate::config::Config;
use crate::persist::{self, PersistError};
use crate::state::AppState;
use crate::tenants::{self, TenantSpec};
use crate::{admin, auth, dataset, site};
use defender_tags_core::Machine;

/// Response extension asking the accept loop to close the connection without answering.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

#[derive(Debug, Error)]
#[error("connection dropped by fault injection")]
struct Dropped;

/// Starting the server failed.
#[derive(Debug, Error)]
pub enum ServeError {
    /// Binding the port.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address asked for.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// Key generation.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// Loading `--data`.
    #[error(transparent)]
    Data(#[from] PersistError),
    /// A start-up task panicked.
    #[error("start-up task failed: {0}")]
    Task(String),
    /// Invalid configuration.
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// A running server. Dropping it stops the server too (without waiting).
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    stop: Option<watch::Sender<bool>>,
    task: Option<JoinHandle<()>>,
    state: Arc<AppState>,
}

impl ServerHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Number of machines the demo tenant currently holds.
    pub fn machine_count(&self) -> usize {
        self.state.demo().read().len()
    }

    /// Every served tenant (the demo tenant first) with its current machine count.
    pub fn tenants(&self) -> Vec<(crate::tenants::TenantSpec, usize)> {
        self.state
            .tenants()
            .iter()
            .map(|t| (t.spec, t.read().len()))
            .collect()
    }

    /// Per-endpoint counters (what `GET /_emulator/stats` returns), for in-process harnesses.
    pub fn stats(&self) -> crate::stats::StatsSnapshot {
        self.state.stats.snapshot()
    }

    /// Replaces the fault configuration (what `PUT /_emulator/faults` does).
    pub fn set_faults(
        &self,
        faults: crate::faults::FaultConfig,
    ) -> Result<(), crate::faults::FaultConfigError> {
        faults.validate()?;
        *self.state.faults.lock().unwrap_or_else(|e| e.into_inner()) =
            crate::faults::FaultState::new(faults);
        Ok(())
    }

    /// Stops accepting, lets in-flight requests finish (up to 5 s), saves `--data`.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
    }
}

/// Generates keys and data, binds, and starts serving in the background.
pub async fn serve(config: Config) -> Result<ServerHandle, ServeError> {
    config.validate().map_err(ServeError::Config)?;
    let keys = tokio::task::spawn_blocking(SigningKeys::generate);
    let (specs, data) = (tenants::specs(&config), config.data_file.clone());
    let machines = tokio::task::spawn_blocking(move || load_or_generate(specs, data.as_deref()));
    let want = SocketAddr::new(config.bind, config.port);
    let listener = TcpListener::bind(want)
        .await
        .map_err(|source| ServeError::Bind { addr: want, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr: want, source })?;
    if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "listening on a non-loopback address: anyone who can reach it can mint tokens and change tags");
    }
    let keys = keys.await.map_err(|e| ServeError::Task(e.to_string()))??;
    let loaded = machines
        .await
        .map_err(|e| ServeError::Task(e.to_string()))??;
    let mut state = AppState::new(config, addr, keys, loaded.tenants);
    state.dormant = loaded.dormant;
    let state = Arc::new(state);
    if loaded.generated_any && state.config.data_file.is_some() {
        state.mark_dirty();
    }
    let app = router(state.clone());
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(sync_tag_sources(state.clone(), stop_rx.clone()));
    let task = tokio::spawn(run(listener, app, stop_rx, state.clone()));
    Ok(ServerHandle {
        addr,
        stop: Some(stop_tx),
        task: Some(task),
        state,
    })
}

/// What start-up found: each served tenant's machines, and saved tenants not served now.
struct Loaded {
    tenants: Vec<(TenantSpec, Vec<Machine>)>,
    dormant: Vec<persist::TenantIn>,
    /// Some tenant was generated rather than loaded (so `--data` must be written).
    generated_any: bool,
}

/// Each served tenant's machines from `--data` if the file has them, else generated.
fn load_or_generate(specs: Vec<TenantSpec>, data: Option<&Path>) -> Result<Loaded, PersistError> {
    let mut saved = match data {
        Some(path) => persist::load(path)?.unwrap_or_default(),
        None => Vec::new(),
    };
    let mut generated_any = false;
    let mut tenants = Vec::with_capacity(specs.len());
    for spec in specs {
        let found = saved
            .iter()
            .position(|t| t.id.eq_ignore_ascii_case(spec.tenant.id))
            .map(|i| saved.remove(i));
        match found {
            Some(t) => {
                tracing::info!(
                    tenant = spec.tenant.name,
                    machines = t.machines.len(),
                    "loaded machine state"
                );
                tenants.push((spec, t.machines));
            }
            None => {
                generated_any = true;
                tenants.push((spec, dataset::generate_tenant(&spec)));
            }
        }
    }
    for t in &saved {
        tracing::warn!(tenant = %t.id, machines = t.machines.len(), "the data file holds a tenant that is not served now; it is kept in the file");
    }
    Ok(Loaded {
        tenants,
        dormant: saved,
        generated_any,
    })
}

/// The scheduled syncs of tag sources on the scaled clock: the rules run every emulated hour,
/// the devices report their registry values every 24th run (crate::hunting::sources).
async fn sync_tag_sources(st: Arc<AppState>, mut stop: watch::Receiver<bool>) {
    use crate::hunting::sources::{RULE_RUNS_PER_REGISTRY_SYNC, RULE_SYNC_SECS};
    let period = st
        .limiter
        .real_duration(RULE_SYNC_SECS)
        .max(Duration::from_millis(10));
    let mut runs: u64 = 0;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = stop.changed() => return,
        }
        runs += 1;
        st.sync_tag_sources(runs.is_multiple_of(RULE_RUNS_PER_REGISTRY_SYNC));
    }
}

fn router(st: Arc<AppState>) -> Router {
    let mut api = Router::new()
        .route("/api", any(api::dispatch))
        .route("/api/{*rest}", any(api::dispatch))
        // Microsoft Graph's advanced hunting on the same origin: the emulator is the demo's
        // Graph origin too (crates/emulator/README.md, "Advanced hunting").
        .route("/v1.0/{*rest}", any(crate::hunting::dispatch))
        .route("/V1.0/{*rest}", any(crate::hunting::dispatch));
    if let Some(cors) = api_cors(&st.config.cors_origins) {
        api = api.layer(cors);
    }
    let statics = st
        .config
        .static_dir
        .as_deref()
        .map(|d| Arc::new(StaticFiles::new(d)));
    // The test endpoints get the same CORS policy as /api, so a test page on another origin
    // (the wasm-bindgen runner's) can set faults and read state without disabling web security.
    let mut admin = admin::router(st.clone());
    if let Some(cors) = api_cors(&st.config.cors_origins) {
        admin = admin.layer(cors);
    }
    Router::new()
        .merge(api)
        .merge(auth::router(st.clone()))
        .merge(admin)
        .route("/config.json", get(site::config_json))
        .fallback(move |req: Request| fallback(statics.clone(), req))
        .layer(axum::middleware::from_fn_with_state(st.clone(), known_host))
        .with_state(st)
}

/// 421 Misdirected Request for a `Host` that does not name this server
/// ([`AppState::host_allowed`]): a DNS-rebound name would make an attacker's page same-origin
/// with the API, the identity provider and the test endpoints. A request without `Host` comes
/// from no browser and passes.
async fn known_host(
    axum::extract::State(st): axum::extract::State<Arc<AppState>>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some(host) = req.headers().get(header::HOST) {
        let host = host.to_str().unwrap_or("");
        if !st.host_allowed(host) {
            return (
                axum::http::StatusCode::MISDIRECTED_REQUEST,
                format!(
                    "this emulator does not serve the host {:?}: use a loopback name with its port, or --public-url",
                    host.chars().take(100).collect::<String>()
                ),
            )
                .into_response();
        }
    }
    next.run(req).await
}

fn api_cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let layer = CorsLayer::new()
        // PUT is only routed under /_emulator (faults); /api itself answers GET and POST.
        .allow_methods([Method::GET, Method::POST, Method::PUT])
        // Echo the requested headers rather than answer `*`: the Fetch standard excludes
        // `Authorization` from the `*` wildcard, and every /api call carries it.
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([
            header::RETRY_AFTER,
            HeaderName::from_static("x-emulator-retry-after-ms"),
            HeaderName::from_static("odata-version"),
        ])
        .max_age(Duration::from_secs(600));
    if origins.iter().any(|o| o == "*") {
        tracing::warn!("--cors-origin '*': any web page may call /api on this emulator");
        return Some(layer.allow_origin(Any));
    }
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| match HeaderValue::from_str(o.trim_end_matches('/')) {
            Ok(v) => Some(v),
            Err(_) => {
                tracing::warn!(origin = %o, "ignoring an invalid --cors-origin");
                None
            }
        })
        .collect();
    Some(layer.allow_origin(AllowOrigin::list(list)))
}

/// `--static DIR`: files, with `index.html` for extension-less unknown paths (SPA routes), and
/// the page's own Content-Security-Policy (read from its `<meta http-equiv>`) as a header.
struct StaticFiles {
    spa: ServeDir<ServeFile>,
    plain: ServeDir,
    csp: Option<HeaderValue>,
}

impl StaticFiles {
    fn new(dir: &Path) -> Self {
        let index = dir.join("index.html");
        let csp = std::fs::read_to_string(&index)
            .ok()
            .and_then(|html| meta_csp(&html))
            .and_then(|c| {
                let with_frames = if c.contains("frame-ancestors") {
                    c
                } else {
                    format!("{c}; frame-ancestors 'none'")
                };
                HeaderValue::from_str(&with_frames).ok()
            });
        Self {
            spa: ServeDir::new(dir).fallback(ServeFile::new(index)),
            plain: ServeDir::new(dir),
            csp,
        }
    }
}

/// The `content` of `<meta http-equiv="Content-Security-Policy" content="...">`, if any.
fn meta_csp(html: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let at = lower.find("http-equiv=\"content-security-policy\"")?;
    let tag_start = lower[..at].rfind('<')?;
    let tag_end = at + lower[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let c = tag.to_ascii_lowercase().find("content=\"")? + "content=\"".len();
    let end = c + tag[c..].find('"')?;
    Some(
        tag[c..end]
            .replace("&#39;", "'")
            .replace("&apos;", "'")
            .replace("&quot;", "\""),
    )
}

async fn fallback(statics: Option<Arc<StaticFiles>>, req: Request) -> Response {
    let Some(s) = statics else {
        return ApiError::general_not_found(format!(
            "{} was not found on this emulator.",
            req.uri().path()
        ))
        .into_response();
    };
    let last = req.uri().path().rsplit('/').next().unwrap_or("");
    let mut resp = if last.contains('.') {
        s.plain.clone().oneshot(req).await.into_response()
    } else {
        s.spa.clone().oneshot(req).await.into_response()
    };
    if let Some(csp) = &s.csp {
        resp.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp.clone());
    }
    resp
}

/// `/API/...` → `/api/...` so the router sees one spelling (the rest is matched case-
/// insensitively by the API's own dispatcher).
fn normalize_api_prefix(req: &mut Request) {
    let path = req.uri().path();
    if !api::is_api_path(path) || path.starts_with("/api") {
        return;
    }
    let fixed = match req.uri().query() {
        Some(q) => format!("/api{}?{q}", &path[4..]),
        None => format!("/api{}", &path[4..]),
    };
    if let Ok(uri) = fixed.parse() {
        *req.uri_mut() = uri;
    }
}

async fn run(
    listener: TcpListener,
    app: Router,
    mut stop: watch::Receiver<bool>,
    st: Arc<AppState>,
) {
    let graceful = GracefulShutdown::new();
    let saver = st
        .config
        .data_file
        .clone()
        .map(|path| tokio::spawn(save_periodically(st.clone(), path, stop.clone())));
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let app = app.clone();
                let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                    let app = app.clone();
                    async move {
                        let mut req = req.map(Body::new);
                        normalize_api_prefix(&mut req);
                        req.extensions_mut().insert(ConnectInfo(peer));
                        let (method, path) = (req.method().clone(), req.uri().path().to_owned());
                        let started = std::time::Instant::now();
                        let resp = match app.oneshot(req).await {
                            Ok(r) => r,
                            Err(never) => match never {},
                        };
                        // Path only: query strings may carry OAuth parameters; headers (tokens)
                        // are never logged.
                        tracing::debug!(%method, path, status = resp.status().as_u16(), ms = started.elapsed().as_millis() as u64, "request");
                        if resp.extensions().get::<DropConnection>().is_some() {
                            Err(Dropped)
                        } else {
                            Ok::<_, Dropped>(resp)
                        }
                    }
                });
                let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, %peer, "connection ended with an error");
                    }
                });
            }
        }
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(5)) => tracing::warn!("shutdown: connections still open after 5 s"),
    }
    if let Some(saver) = saver {
        let _ = saver.await;
    }
    if let Some(path) = st.config.data_file.clone() {
        save_if_dirty(st.clone(), path).await;
    }
}

async fn save_periodically(st: Arc<AppState>, path: PathBuf, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(Duration::from_millis(500)) => save_if_dirty(st.clone(), path.clone()).await,
        }
    }
}

async fn save_if_dirty(st: Arc<AppState>, path: PathBuf) {
    if !st.dirty.swap(false, Ordering::AcqRel) {
        return;
    }
    let st2 = st.clone();
    let result = tokio::task::spawn_blocking(move || {
        let guards: Vec<_> = st2.tenants().iter().map(|t| (t.id(), t.read())).collect();
        let all: Vec<(&str, &[Machine])> = guards
            .iter()
            .map(|(id, store)| (*id, store.machines()))
            .chain(
                st2.dormant
                    .iter()
                    .map(|t| (t.id.as_str(), t.machines.as_slice())),
            )
            .collect();
        let bytes = persist::encode(&all).map_err(|e| e.to_string())?;
        drop(guards);
        persist::write_atomic(&path, &bytes).map_err(|e| e.to_string())
    })
    .await;
    match result {
        Ok(Ok(())) => tracing::debug!("machine state saved"),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot save machine state; will retry");
            st.mark_dirty();
        }
        Err(e) => {
            tracing::error!(error = %e, "save task failed; will retry");
            st.mark_dirty();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_csp_from_meta_tag() {
        let html = r#"<html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'self'; script-src 'self'"></head></html>"#;
        assert_eq!(
            meta_csp(html).as_deref(),
            Some("default-src 'self'; script-src 'self'")
        );
        assert_eq!(meta_csp("<html></html>"), None);
    }
}
