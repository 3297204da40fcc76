//! Fixture loading shared by the topic modules.

use std::path::PathBuf;

/// Reads `tests/fixtures/{name}`.
pub fn read(name: &str) -> String {
    let path = manifest_dir().join("tests").join("fixtures").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The package folder as `cargo test` gives it at run time. The compile-time `env!` value is only
/// the fallback: a test binary built from a checkout elsewhere (same sources, so cargo reuses it)
/// would carry that checkout's path.
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}
