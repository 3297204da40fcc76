//! defender-tags-wasm: the Defender for Endpoint machine/tag client over `fetch`.
//!
//! - Rust API (always): [`DefenderClient`] with [`DefenderClient::list_machines`],
//!   [`DefenderClient::list_all_machines`], [`DefenderClient::machine`],
//!   [`DefenderClient::find_by_tag`], [`DefenderClient::set_tag`] and
//!   [`DefenderClient::run_plan`]. `!Send` (browser futures), no `js` feature needed.
//! - JS facade (feature `js`, wasm32): one `DefenderClient` class with Promise methods.
//! - Edge proxy (feature `proxy`, wasm32): `handleRequest` and `EdgeProxy`, built by the npm
//!   package as an entry of its own so the client's pages do not carry it.
//!
//! URLs, JSON, retry decisions, rate limits and plans all come from `defender-tags-core`; this
//! crate does I/O and bookkeeping only. Tokens are asked for per request and never kept.

pub mod abort;
pub mod budget;
pub mod client;
pub mod config;
pub mod edge;
pub mod error;
pub mod hunting;
pub mod machines;
mod plan_adapter;
mod policy;
pub mod progress;
pub mod proxy_config;
pub mod report;
pub mod runner;
pub mod token;
pub mod transport;

#[cfg(target_arch = "wasm32")]
pub mod fetch;

#[cfg(all(feature = "js", target_arch = "wasm32"))]
pub mod js;
#[cfg(all(feature = "proxy", target_arch = "wasm32"))]
pub mod proxy;

#[cfg(test)]
mod client_tests;
#[cfg(test)]
mod hunting_tests;
#[cfg(test)]
mod testutil;
#[cfg(test)]
mod ts_shapes;

pub use abort::AbortHandle;
pub use budget::{LedgerStore, MemoryLedgerStore};
pub use client::DefenderClient;
pub use config::ClientConfig;
pub use error::ClientError;
pub use machines::{MachinePage, MachinePages, PageCursor, PageRequest};
pub use plan_adapter::PlanSummary;
pub use progress::Progress;
pub use report::{ErrorInfo, MachineOutcome, OutcomeStatus, RunReport};
pub use token::{AccessToken, LocalBoxFuture, TokenError, TokenProvider, TokenRequest};
pub use transport::{HttpRequest, HttpResponse, Transport, TransportError};

#[cfg(target_arch = "wasm32")]
pub(crate) fn default_transport() -> fetch::FetchTransport {
    fetch::FetchTransport
}

/// Natively there is no `fetch`: every call fails cleanly instead of panicking.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn default_transport() -> NoFetch {
    NoFetch
}

/// The native stand-in for `fetch`: every request fails with a `Network` error.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, Clone, Copy)]
pub struct NoFetch;

#[cfg(not(target_arch = "wasm32"))]
impl Transport for NoFetch {
    fn send(
        &self,
        _request: HttpRequest,
        _timeout_ms: u32,
    ) -> LocalBoxFuture<'_, Result<HttpResponse, TransportError>> {
        Box::pin(async {
            Err(TransportError::Network(
                "fetch is only available on wasm32; use DefenderClient::with_transport".into(),
            ))
        })
    }

    fn sleep(&self, ms: u64) -> LocalBoxFuture<'_, ()> {
        Box::pin(async move { std::thread::sleep(std::time::Duration::from_millis(ms)) })
    }

    fn now_ms(&self) -> f64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    }
}
