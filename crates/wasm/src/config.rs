//! Client configuration.

use defender_tags_core::cloud::BaseUrl;
use defender_tags_core::throttle::BudgetScope;

/// Default per-request timeout: long enough for a 10,000-machine page, short enough to notice a
/// dead connection.
pub const DEFAULT_TIMEOUT_MS: u32 = 30_000;

/// Default page size of `list_all_machines` (the API maximum; fewer calls spend less budget).
pub const DEFAULT_PAGE_SIZE: u32 = 10_000;

/// Default number of attempts per call (first try + retries), before the error is returned.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// Default number of calls a bulk run keeps in flight: two, so decoding one answer (and the
/// run's bookkeeping) overlaps the next call instead of adding to it, while the rate limiter
/// still counts both calls.
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 2;

/// Upper bound of [`ClientConfig::max_in_flight`]: more parallel calls gain nothing once the
/// client's own work is hidden, and would only spend the minute budget in a burst.
pub const MAX_IN_FLIGHT_CAP: u32 = 8;

/// How a [`DefenderClient`](crate::DefenderClient) talks to the API.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    /// API base URL (https, or http on loopback), validated by core. Its origin is the only
    /// origin a token is ever sent to.
    pub base_url: BaseUrl,
    /// Scopes passed to the token provider.
    pub scopes: Vec<String>,
    /// Per-request timeout in real milliseconds.
    pub timeout_ms: u32,
    /// API-time milliseconds per real millisecond: 1.0 against Defender; F against an emulator
    /// started with `--time-scale F`, so rate windows, Retry-After and backoff shrink alike.
    pub time_scale: f64,
    /// Page size for `list_all_machines` when paging with `$top`/`$skip`.
    pub page_size: u32,
    /// Attempts per call (first try included) for retryable failures.
    pub max_attempts: u32,
    /// Seed of the backoff jitter (tests pin it; the JS facade seeds from the clock).
    pub jitter_seed: u64,
    /// Calls a bulk run (`run_plan`) keeps in flight at once; 0 is read as 1, anything above
    /// [`MAX_IN_FLIGHT_CAP`] as the cap. Every call still takes its own rate-limit slot.
    pub max_in_flight: u32,
    /// The tenant and application whose rate budget this client spends, when the caller knows
    /// them (only GUIDs are kept; see `BudgetScope::new`). Clients of one browser share the
    /// budget of one API (crate::budget); a known tenant or application keeps this client from
    /// waiting for calls of another one. Unknown (the default) shares with every client of the
    /// same API.
    pub budget_scope: BudgetScope,
    /// The Microsoft Graph origin for advanced hunting (`run_hunting_query`), when configured:
    /// the second and last origin a token may go to, and only the Graph token (asked for with
    /// [`graph_scopes`](Self::graph_scopes)). `None`: hunting is refused before anything is sent.
    pub graph_base_url: Option<BaseUrl>,
    /// Scopes passed to the token provider for the Graph token.
    pub graph_scopes: Vec<String>,
}

impl ClientConfig {
    /// Defaults for `base_url`, with core's default scope for that URL's cloud.
    pub fn new(base_url: BaseUrl) -> Self {
        Self {
            base_url,
            scopes: vec![defender_tags_core::cloud::DEFAULT_SCOPE.to_owned()],
            timeout_ms: DEFAULT_TIMEOUT_MS,
            time_scale: 1.0,
            page_size: DEFAULT_PAGE_SIZE,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            jitter_seed: 0x5eed,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            budget_scope: BudgetScope::unknown(),
            graph_base_url: None,
            graph_scopes: vec![defender_tags_core::cloud::GRAPH_SCOPE.to_owned()],
        }
    }

    /// [`max_in_flight`](Self::max_in_flight), clamped to `1..=MAX_IN_FLIGHT_CAP`.
    pub(crate) fn in_flight(&self) -> usize {
        self.max_in_flight.clamp(1, MAX_IN_FLIGHT_CAP) as usize
    }

    /// The time scale, with nonsense (zero, negative, NaN) read as 1.0.
    pub(crate) fn scale(&self) -> f64 {
        if self.time_scale.is_finite() && self.time_scale > 0.0 {
            self.time_scale
        } else {
            1.0
        }
    }
}
