//! defender-tags-emulator: a local Microsoft Defender for Endpoint API (machines and tags) and a
//! dev identity provider that `@azure/msal-browser` signs in against.
//!
//! Tests and benchmarks start it in-process with [`serve`]; the binary wraps the same call. See
//! `crates/emulator/README.md` for every behaviour and the documentation it copies.

pub mod admin;
pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod dataset;
pub mod faults;
pub mod hunting;
pub mod persist;
pub mod ratelimit;
mod rng;
pub mod server;
pub mod site;
pub mod state;
pub mod stats;
pub mod tenants;
pub mod web;

pub use config::Config;
pub use faults::FaultConfig;
pub use server::{ServeError, ServerHandle, serve};

/// The demo tenant id (docs/design.md), "Contoso": always served.
pub const DEMO_TENANT: &str = "11111111-2222-3333-4444-555555555555";
/// The second demo tenant id, "Fabrikam": served with `--second-tenant-machines N`.
pub const SECOND_TENANT: &str = "22222222-3333-4444-5555-666666666666";
/// The demo SPA's client id (any client id is accepted). A GUID, because a site configuration
/// (`config.json`) requires one, as Entra ID app registrations have.
pub const DEMO_CLIENT_ID: &str = "00000000-0000-4000-8000-000000000de0";
