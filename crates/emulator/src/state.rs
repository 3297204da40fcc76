//! Shared server state: each tenant's machines (with indexes), keys, limiter, faults, stats,
//! OAuth grants and sign-in sessions.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use defender_tags_core::Machine;
use time::{Duration, OffsetDateTime};

use crate::auth::grants::Grants;
use crate::auth::keys::SigningKeys;
use crate::config::{Config, RETENTION_DAYS};
use crate::faults::FaultState;
use crate::persist::TenantIn;
use crate::ratelimit::RateLimiter;
use crate::stats::Stats;
use crate::tenants::{Tenant, TenantSpec};

/// Machines in generation order, indexed by id and by lowercased computer name (full DNS name
/// and the host part before the first dot).
#[derive(Debug, Default)]
pub struct Store {
    machines: Vec<Machine>,
    by_id: HashMap<String, usize>,
    by_name: HashMap<String, Vec<usize>>,
}

impl Store {
    /// Builds the indexes.
    pub fn new(machines: Vec<Machine>) -> Self {
        let mut by_id = HashMap::with_capacity(machines.len());
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::with_capacity(machines.len() * 2);
        for (i, m) in machines.iter().enumerate() {
            by_id.insert(m.id.as_str().to_owned(), i);
            if let Some(name) = &m.computer_dns_name {
                let lower = name.to_lowercase();
                if let Some((host, _)) = lower.split_once('.')
                    && !host.is_empty()
                    && !host.contains(['<', ' '])
                {
                    by_name.entry(host.to_owned()).or_default().push(i);
                }
                by_name.entry(lower).or_default().push(i);
            }
        }
        Self {
            machines,
            by_id,
            by_name,
        }
    }

    /// All machines.
    pub fn machines(&self) -> &[Machine] {
        &self.machines
    }

    /// Index of the machine with this id (any case).
    pub fn index_of_id(&self, id: &str) -> Option<usize> {
        self.by_id.get(&id.to_ascii_lowercase()).copied()
    }

    /// Indexes of machines with this computer name (full or host part, any case).
    pub fn indexes_of_name(&self, name: &str) -> &[usize] {
        self.by_name
            .get(&name.to_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    /// The machine at `i`.
    pub fn get(&self, i: usize) -> Option<&Machine> {
        self.machines.get(i)
    }

    /// The machine at `i`, mutably (tags only change; the indexes stay valid).
    pub fn get_mut(&mut self, i: usize) -> Option<&mut Machine> {
        self.machines.get_mut(i)
    }

    /// Number of machines.
    pub fn len(&self) -> usize {
        self.machines.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.machines.is_empty()
    }
}

/// What one caller may see: device groups and the retention window.
#[derive(Debug, Clone)]
pub struct Scope {
    /// Visible `rbacGroupId`s (`None` = all; ungrouped machines are group 0).
    pub groups: Option<Vec<i64>>,
    /// Machines last seen before this are beyond retention.
    pub retention_cutoff: OffsetDateTime,
}

impl Scope {
    /// A scope with the tenant's retention period ending now.
    pub fn new(groups: Option<Vec<i64>>) -> Self {
        Self {
            groups,
            retention_cutoff: OffsetDateTime::now_utc() - Duration::days(RETENTION_DAYS),
        }
    }

    /// Whether the machine's device group is visible.
    pub fn in_groups(&self, m: &Machine) -> bool {
        match &self.groups {
            None => true,
            Some(gs) => gs.contains(&m.rbac_group_id.unwrap_or(0)),
        }
    }

    /// Whether the machine was last seen within retention.
    pub fn within_retention(&self, m: &Machine) -> bool {
        m.last_seen.is_some_and(|t| t >= self.retention_cutoff)
    }

    /// Visible through the read endpoints.
    pub fn sees(&self, m: &Machine) -> bool {
        self.in_groups(m) && self.within_retention(m)
    }
}

/// One served tenant: what it is and its machines.
#[derive(Debug)]
pub struct TenantData {
    /// The tenant and how its dataset is generated.
    pub spec: TenantSpec,
    store: RwLock<Store>,
}

impl TenantData {
    /// The tenant's id (`tid`).
    pub fn id(&self) -> &'static str {
        self.spec.tenant.id
    }

    /// The tenant's description.
    pub fn tenant(&self) -> &Tenant {
        &self.spec.tenant
    }

    /// Read access to the machines (never held across an await).
    pub fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Write access to the machines (never held across an await).
    pub fn write(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(|p| p.into_inner())
    }
}

/// Everything the handlers share.
#[derive(Debug)]
pub struct AppState {
    /// Configuration.
    pub config: Config,
    /// Bound address.
    pub addr: SocketAddr,
    /// IdP signing key.
    pub keys: SigningKeys,
    /// The served tenants, the demo tenant first.
    tenants: Vec<TenantData>,
    /// Tenants found in `--data` but not served now: written back unchanged, so starting once
    /// without `--second-tenant-machines` does not lose that tenant's tags.
    pub dormant: Vec<TenantIn>,
    /// Rate limiter.
    pub limiter: RateLimiter,
    /// Advanced hunting's own quota (45 calls/min, 1,500/h per tenant + app), on the same
    /// scaled clock.
    pub hunting_limiter: RateLimiter,
    /// Registry values and dynamic rules per tenant id (`/_emulator/tag-sources`; empty unless
    /// set).
    pub tag_sources: Mutex<HashMap<String, crate::hunting::sources::TagSources>>,
    /// Fault injection.
    pub faults: Mutex<FaultState>,
    /// Counters.
    pub stats: Stats,
    /// Authorization codes and refresh tokens.
    pub grants: Mutex<Grants>,
    /// Set when machine state changed since the last save.
    pub dirty: AtomicBool,
    /// Sign-in sessions: cookies of an older generation no longer sign anyone in silently.
    pub session_generation: AtomicU64,
    /// Access tokens issued at or before this Unix second are refused as expired (0 = none);
    /// set by `POST /_emulator/sessions/expire`.
    pub tokens_not_before: AtomicI64,
}

impl AppState {
    /// Assembles the state: one `(spec, machines)` per served tenant, the demo tenant first.
    pub fn new(
        config: Config,
        addr: SocketAddr,
        keys: SigningKeys,
        tenants: Vec<(TenantSpec, Vec<Machine>)>,
    ) -> Self {
        let limiter = RateLimiter::new(config.time_scale);
        let hunting_limiter = RateLimiter::with_limits(
            config.time_scale,
            crate::hunting::PER_MINUTE,
            crate::hunting::PER_HOUR,
        );
        let faults = Mutex::new(FaultState::new(config.faults.clone()));
        Self {
            config,
            addr,
            keys,
            tenants: tenants
                .into_iter()
                .map(|(spec, machines)| TenantData {
                    spec,
                    store: RwLock::new(Store::new(machines)),
                })
                .collect(),
            dormant: Vec::new(),
            limiter,
            hunting_limiter,
            tag_sources: Mutex::new(HashMap::new()),
            faults,
            stats: Stats::default(),
            grants: Mutex::new(Grants::default()),
            dirty: AtomicBool::new(false),
            session_generation: AtomicU64::new(0),
            tokens_not_before: AtomicI64::new(0),
        }
    }

    /// A copy of the tag sources of tenant `id` (empty when none were set).
    pub fn tag_sources(&self, id: &str) -> crate::hunting::sources::TagSources {
        self.tag_sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
            .unwrap_or_default()
    }

    /// One sync of every tenant's tag sources: the rules run, and with `registry` the devices
    /// report their registry values. Returns the tags added back.
    pub fn sync_tag_sources(&self, registry: bool) -> usize {
        let all = self
            .tag_sources
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut added = 0;
        for (id, sources) in &all {
            let Some(t) = self.tenant(id) else { continue };
            let mut store = t.write();
            added += sources.run_rules(&mut store);
            if registry {
                added += sources.sync_registry(&mut store);
            }
        }
        if added > 0 {
            self.mark_dirty();
        }
        added
    }

    /// Every served tenant, the demo tenant first.
    pub fn tenants(&self) -> &[TenantData] {
        &self.tenants
    }

    /// The served tenant with this id (any case).
    pub fn tenant(&self, id: &str) -> Option<&TenantData> {
        self.tenants
            .iter()
            .find(|t| t.id().eq_ignore_ascii_case(id))
    }

    /// The served tenant an authority path segment names (id, domain, `common`...).
    pub fn tenant_by_path(&self, segment: &str) -> Option<&TenantData> {
        self.tenants.iter().find(|t| t.spec.matches_path(segment))
    }

    /// The demo tenant (always served).
    pub fn demo(&self) -> &TenantData {
        // `new` is only ever called with the demo tenant first (server::serve).
        &self.tenants[0]
    }

    /// Replaces a tenant's machines (reset).
    pub fn replace_machines(&self, tenant: &TenantData, machines: Vec<Machine>) {
        *tenant.write() = Store::new(machines);
        self.mark_dirty();
    }

    /// Notes that machine state must be saved.
    pub fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::Release);
    }

    /// The origins this server answers as: `--public-url`, and the loopback names of the bound
    /// port (plus the request's own `Host`, added by callers).
    pub fn served_origins(&self, host: Option<&str>) -> Vec<String> {
        let port = self.addr.port();
        let mut v = Vec::with_capacity(6);
        if let Some(u) = &self.config.public_url {
            v.push(u.clone());
        }
        v.push(format!("http://{}", self.addr));
        v.push(format!("http://127.0.0.1:{port}"));
        v.push(format!("http://localhost:{port}"));
        v.push(format!("http://[::1]:{port}"));
        if let Some(h) = host {
            v.push(format!("http://{h}"));
            v.push(format!("https://{h}"));
        }
        v
    }

    /// Whether a request's `Host` header names this server: a loopback name with the bound
    /// port, the bound address, or `--public-url`'s host. Anything else is a name someone else
    /// controls resolving to us (DNS rebinding): a page on that name would be same-origin with
    /// the emulator, so it is answered 421.
    pub fn host_allowed(&self, host: &str) -> bool {
        let port = self.addr.port();
        let mut allowed = vec![
            self.addr.to_string(),
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ];
        if let Some(u) = &self.config.public_url {
            let authority = u.split_once("://").map_or(u.as_str(), |(_, rest)| rest);
            allowed.push(authority.split('/').next().unwrap_or(authority).to_owned());
        }
        allowed.iter().any(|a| a.eq_ignore_ascii_case(host))
    }

    /// Whether pages of `origin` may sign in (be a redirect URI's origin, call the token
    /// endpoint): the emulator's own origins, each explicit `--cors-origin` and each
    /// `--redirect-origin`. `--cors-origin '*'` opens `/api` to every page, never sign-in.
    pub fn sign_in_origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.trim_end_matches('/');
        self.served_origins(None)
            .iter()
            .chain(self.config.cors_origins.iter().filter(|o| *o != "*"))
            .chain(self.config.redirect_origins.iter())
            .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
    }

    /// The origin used in URLs handed to clients: `--public-url` or `http://{Host}`.
    pub fn public_origin(&self, host: Option<&str>) -> String {
        match (&self.config.public_url, host) {
            (Some(u), _) => u.clone(),
            (None, Some(h)) => format!("http://{h}"),
            (None, None) => format!("http://{}", self.addr),
        }
    }

    /// `http://{Host}` (or the bound address): the API's own origin, for `@odata` links.
    pub fn api_origin(&self, host: Option<&str>) -> String {
        match host {
            Some(h) => format!("http://{h}"),
            None => format!("http://{}", self.addr),
        }
    }
}
