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
pub mod persist;
pub mod ratelimit;
mod rng;
pub mod server;
pub mod state;
pub mod stats;
pub mod web;

pub use config::Config;
pub use faults::FaultConfig;
pub use server::{ServeError, ServerHandle, serve};

/// The demo tenant id (docs/design.md).
pub const DEMO_TENANT: &str = "11111111-2222-3333-4444-555555555555";
/// The demo SPA's client id (any client id is accepted).
pub const DEMO_CLIENT_ID: &str = "defender-tags-demo";
