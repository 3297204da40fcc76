//! Fixture loading shared by the topic modules.

use std::path::PathBuf;

/// Reads `tests/fixtures/{name}`.
pub fn read(name: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures", name]
        .iter()
        .collect();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
