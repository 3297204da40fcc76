//! Integration tests for the public API of defender-tags-core, one module per topic.

// Test helpers (strategies, fixture loaders) are not `#[test]` fns, so clippy.toml's
// allow-unwrap-in-tests does not cover them; panicking on a broken fixture is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod fixtures;
mod import;
mod listed;
mod messages;
mod model;
mod odata;
mod plan;
mod query;
mod rules;
mod throttle;
